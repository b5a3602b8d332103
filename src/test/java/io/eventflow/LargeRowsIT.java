package io.eventflow;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Channel;
import io.eventflow.support.EventConsumer;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A backlog of large rows, drained by EventFlow started as users start it (bin/eventflow, its own
 * process), with a heap smaller than the backlog: every row arrives whole and in order, because a
 * batch is bounded by bytes too (a batch of 100 such rows used to exhaust the heap on every try,
 * and nothing after them was ever published).
 */
class LargeRowsIT {

    private static final int ROWS = 100;
    private static final int ROW_BYTES = 1024 * 1024;

    @Test
    void aBacklogOfOneMegabyteRowsLargerThanTheHeapIsDeliveredWholeAndInOrder() throws Exception {
        String database = TestServices.uniqueName("eventflow_it");
        String exchange = TestServices.uniqueName("eventflow.test.changes");
        String unrouted = TestServices.uniqueName("eventflow.test.unrouted");
        int port = TestServices.freePort();
        Path log = Path.of("target", "large-rows-eventflow.log");
        TestServices.createDatabase(database);
        Process eventflow = null;
        try {
            ProcessBuilder builder = new ProcessBuilder(List.of("sh", "bin/eventflow"))
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().put("JAVA_OPTS", String.join(" ",
                    "-Xmx128m",
                    "-Deventflow.postgres.url=" + TestServices.libpqUrl(database),
                    "-Deventflow.rabbitmq.url=" + TestServices.amqpUrl(),
                    "-Deventflow.rabbitmq.exchange=" + exchange,
                    "-Deventflow.rabbitmq.unrouted-exchange=" + unrouted,
                    "-Deventflow.http.port=" + port,
                    "-Deventflow.jmx.port=0",
                    "-Deventflow.stream.enabled=false",
                    "-Dcamel.main.routes-reload-enabled=false"));
            eventflow = builder.start();
            awaitReady(eventflow, port, log);

            try (EventConsumer consumer = new EventConsumer(exchange, unrouted, TestServices.uniqueName("eventflow.test.consumer"), "#")) {
                // 100 MB committed at once, then one small row after it
                try (Connection c = TestServices.connect(database); Statement st = c.createStatement()) {
                    st.execute("INSERT INTO public.users (name, email) SELECT repeat(md5(g::text), " + ROW_BYTES / 32 + "),"
                            + " 'large' || g || '@example.com' FROM generate_series(1, " + ROWS + ") g");
                    st.execute("INSERT INTO public.users (name, email) VALUES ('small', 'small@example.com')");
                }
                Process running = eventflow;
                await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500))
                        .until(() -> consumer.count() >= ROWS + 1 || !running.isAlive());
                assertTrue(eventflow.isAlive(), "EventFlow still runs: " + tail(log));

                List<Received> events = consumer.received();
                assertEquals(ROWS + 1, events.size(), "every change once");
                for (int g = 1; g <= ROWS; g++) {
                    JsonNode after = events.get(g - 1).json().get("after");
                    assertEquals("large" + g + "@example.com", after.get("email").asText(), "in commit order");
                    String name = after.get("name").asText();
                    assertEquals(ROW_BYTES, name.length(), "whole");
                    assertEquals(name.substring(0, 32).repeat(ROW_BYTES / 32), name, "byte for byte");
                }
                assertEquals("small", events.get(ROWS).json().at("/after/name").asText());
            }
        } finally {
            if (eventflow != null) {
                eventflow.destroy();
                if (!eventflow.waitFor(30, TimeUnit.SECONDS)) {
                    eventflow.destroyForcibly();
                }
            }
            try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); Channel ch = c.createChannel()) {
                ch.exchangeDelete(exchange);
                ch.queueDelete(unrouted);
                ch.exchangeDelete(unrouted);
            }
            TestServices.dropDatabase(database);
        }
    }

    private static void awaitReady(Process eventflow, int port, Path log) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/health/ready"))
                .timeout(Duration.ofSeconds(2)).build();
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertTrue(eventflow.isAlive(), "EventFlow exited at start: " + tail(log));
            try {
                return http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
            } catch (IOException e) {
                return false;
            }
        });
    }

    private static String tail(Path log) throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    }
}
