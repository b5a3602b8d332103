package io.eventflow;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;

import io.eventflow.support.EventFlowProcess;
import io.eventflow.support.EventFlowProcess.Scratch;
import io.eventflow.support.TcpProxy;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What an operator reads while something is wrong: PostgreSQL gone for half a minute gives a few
 * lines saying what and why, repeated failures summarised, and no stack trace.
 */
class LogsIT {

    @Test
    void postgresGoneForHalfAMinuteGivesAFewLinesAndNoStackTrace() throws Exception {
        Scratch scratch = Scratch.create("logs-eventflow.log");
        try (TcpProxy postgres = new TcpProxy(TestServices.pgHost(), TestServices.pgPort());
                EventFlowProcess eventflow = scratch.start("-Deventflow.postgres.url=postgresql://" + TestServices.pgUser() + "@127.0.0.1:"
                        + postgres.port() + "/" + scratch.database() + "?sslmode=disable")) {
            long before = Files.readAllLines(scratch.log()).size();
            postgres.stop();
            long outage = System.nanoTime();
            // 30 s without PostgreSQL
            await().pollDelay(Duration.ofSeconds(30)).atMost(Duration.ofSeconds(31)).until(() -> true);
            List<String> lines = Files.readAllLines(scratch.log());
            List<String> during = lines.subList((int) before, lines.size());
            postgres.start();
            System.out.printf("%d lines in %d s without PostgreSQL:%n%s%n", during.size(), (System.nanoTime() - outage) / 1_000_000_000L,
                    String.join("\n", during));
            assertTrue(during.stream().noneMatch(l -> l.startsWith("\tat ") || l.startsWith("Caused by:")), "no stack trace: " + during);
            assertTrue(during.size() <= 40, during.size() + " lines: " + String.join("\n", during));
            assertTrue(during.stream().anyMatch(l -> l.contains("failed") && l.contains(":")), "it says what failed and why: " + during);
            // and it comes back by itself
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readAllLines(scratch.log()).stream().anyMatch(l -> l.contains("works again")));
        } finally {
            scratch.remove();
        }
    }
}
