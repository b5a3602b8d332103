package io.eventflow;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.eventflow.support.EventConsumer;
import io.eventflow.support.EventFlowProcess;
import io.eventflow.support.EventFlowProcess.Scratch;
import io.eventflow.support.RowVersions;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * EventFlow killed (SIGKILL, no shutdown of any kind) twice while a writer keeps committing, and
 * started again: every change arrives, each row's versions in commit order without a gap, and what
 * is sent twice is at most the batch that was in flight at each kill.
 */
class CrashIT {

    private static final int ROWS = 50;
    private static final int BATCH_SIZE = 1000;

    @Test
    void everyChangeArrivesInRowOrderAcrossKillsOfEventFlow() throws Exception {
        Scratch scratch = Scratch.create("crash-eventflow.log");
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicInteger committed = new AtomicInteger();
        CompletableFuture<Void> writer = null;
        try (EventConsumer consumer = new EventConsumer(scratch.exchange(), scratch.unrouted(), TestServices.uniqueName("eventflow.test.consumer"), "#")) {
            try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement()) {
                // the schema comes with EventFlow's migrations: start it once to have them
                try (EventFlowProcess first = scratch.start()) {
                    st.execute("CREATE TABLE public.counters (id int PRIMARY KEY, v int NOT NULL)");
                    st.execute("SELECT eventflow.enable_capture('public.counters')");
                    st.execute("INSERT INTO public.counters SELECT g, 0 FROM generate_series(1, " + ROWS + ") g");
                    committed.addAndGet(ROWS);
                }
            }
            writer = CompletableFuture.runAsync(() -> {
                try (Connection c = TestServices.connect(scratch.database());
                        PreparedStatement update = c.prepareStatement("UPDATE public.counters SET v = v + 1 WHERE id = ?")) {
                    for (int i = 0; writing.get(); i++) {
                        update.setInt(1, 1 + i % ROWS);
                        update.executeUpdate();
                        committed.incrementAndGet();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });

            for (int kill = 1; kill <= 2; kill++) {
                try (EventFlowProcess eventflow = scratch.start()) {
                    long before = consumer.distinctCount();
                    // killed while it publishes: some changes of this run are out, others still coming
                    await().atMost(Duration.ofSeconds(60)).until(() -> consumer.distinctCount() >= before + 1500);
                    assertTrue(eventflow.isAlive(), "EventFlow runs until it is killed: " + eventflow.tail());
                    eventflow.kill();
                }
                // the writer keeps committing while EventFlow is down
                int atKill = committed.get();
                await().atMost(Duration.ofSeconds(30)).until(() -> committed.get() >= atKill + 500);
            }
            try (EventFlowProcess last = scratch.start()) {
                // what was committed while it was down comes out, with the writer still going
                int atStart = committed.get();
                await().atMost(Duration.ofSeconds(60)).until(() -> consumer.distinctCount() >= atStart);
                writing.set(false);
                writer.join();
                int total = committed.get();
                await().atMost(Duration.ofSeconds(120)).until(() -> consumer.distinctCount() >= total);

                RowVersions.Result rows = RowVersions.check(consumer.received());
                assertEquals(total, rows.firsts().size(), "every committed change, once at least");
                try (Connection c = TestServices.connect(scratch.database())) {
                    rows.assertEndsAtCommitted(c, "public.counters");
                }
                int duplicates = rows.sentAgain() + rows.redelivered();
                assertTrue(duplicates <= 2 * BATCH_SIZE, "sent again: at most the batch in flight at each kill, " + duplicates);
                System.out.printf("CrashIT: %d changes across 2 kills, %d sent again%n", total, duplicates);
            }
        } finally {
            writing.set(false);
            if (writer != null) {
                writer.exceptionally(e -> null).join();
            }
            scratch.remove();
        }
    }
}
