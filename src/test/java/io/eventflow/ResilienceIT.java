package io.eventflow;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.RowVersions;
import io.eventflow.support.TestServices;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * 20,000 changes from 4 concurrent writers while RabbitMQ drops every connection and PostgreSQL
 * ends EventFlow's sessions: every change arrives, changes to a row arrive in commit order, and
 * duplicates (same message_id) appear only around the failures.
 */
class ResilienceIT extends EventFlowTestSupport {

    private static final int WRITERS = 4;
    private static final int ROWS_PER_WRITER = 100;
    private static final int CHANGES_PER_WRITER = 5000;
    private static final int TOTAL = WRITERS * CHANGES_PER_WRITER;

    /**
     * Each writer inserts its own rows, then, once every row exists, updates rows of all writers:
     * the writers contend for the same rows, so a row's versions come from different connections
     * and only the commit order (the row lock) decides theirs.
     */
    private void write(int writer, CountDownLatch inserted) throws Exception {
        try (Connection c = db();
                PreparedStatement insert = c.prepareStatement("INSERT INTO public.counters (id, writer, v) VALUES (?, ?, 0)");
                PreparedStatement update = c.prepareStatement("UPDATE public.counters SET v = v + 1 WHERE id = ?")) {
            for (int i = 0; i < ROWS_PER_WRITER; i++) {
                insert.setLong(1, (long) writer * ROWS_PER_WRITER + i);
                insert.setInt(2, writer);
                insert.executeUpdate();
            }
            inserted.countDown();
            inserted.await();
            int rows = WRITERS * ROWS_PER_WRITER;
            for (int i = ROWS_PER_WRITER; i < CHANGES_PER_WRITER; i++) {
                update.setLong(1, (writer * 37L + i) % rows);
                assertEquals(1, update.executeUpdate());
            }
        }
    }

    @Test
    void everyChangeArrivesInRowOrderThroughBrokerAndDatabaseFailures() throws Exception {
        sql("CREATE TABLE public.counters (id bigint PRIMARY KEY, writer int NOT NULL, v int NOT NULL)",
                "SELECT eventflow.enable_capture('public.counters')");
        consumer.clear();

        long start = System.currentTimeMillis();
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
        List<Future<?>> writers = new ArrayList<>();
        CountDownLatch inserted = new CountDownLatch(WRITERS);
        for (int w = 0; w < WRITERS; w++) {
            int writer = w;
            writers.add(pool.submit(() -> {
                write(writer, inserted);
                return null;
            }));
        }

        await().atMost(Duration.ofSeconds(60)).until(() -> consumer.count() >= TOTAL / 5);
        TestServices.run("rabbitmqctl", "close_all_connections", "EventFlow resilience test");
        await().atMost(Duration.ofSeconds(60)).until(() -> consumer.distinctCount() >= TOTAL / 2);
        int terminated = terminateEventFlowConnections("eventflow%");
        assertTrue(terminated >= 1, "EventFlow had sessions to end");
        await().atMost(Duration.ofSeconds(60)).until(() -> consumer.distinctCount() >= TOTAL * 3 / 4);
        TestServices.run("rabbitmqctl", "close_all_connections", "EventFlow resilience test");
        terminateEventFlowConnections("eventflow%");

        for (Future<?> f : writers) {
            f.get();
        }
        pool.shutdown();
        try {
            await().atMost(Duration.ofSeconds(120)).until(() -> consumer.distinctCount() >= TOTAL);
        } catch (ConditionTimeoutException e) {
            CaptureStats stats = context().getRegistry().lookupByNameAndType("captureStats", CaptureStats.class);
            Set<Long> got = new HashSet<>();
            consumer.received().forEach(r -> got.add(Long.parseLong(r.messageId())));
            List<Long> missing = new ArrayList<>();
            for (long id = 1; id <= TOTAL && missing.size() < 20; id++) {
                if (!got.contains(id)) {
                    missing.add(id);
                }
            }
            fail("missing change ids " + missing + "; received " + consumer.distinctCount() + " of " + TOTAL + " changes; EventFlow: published "
                    + stats.getPublishedTotal() + ", backlog " + stats.getBacklog() + ", last published change "
                    + stats.getLastPublishedChangeId() + ", listener " + stats.getListenerState() + ", last error '" + stats.getLastError() + "'");
        }
        long end = System.currentTimeMillis();

        RowVersions.Result rows = RowVersions.check(consumer.received());
        assertEquals(TOTAL, rows.firsts().size(), "every change arrived");
        assertEquals(WRITERS * ROWS_PER_WRITER, rows.last().size());
        try (Connection c = db()) {
            rows.assertEndsAtCommitted(c, "public.counters");
        }
        List<Long> latencies = new ArrayList<>();
        for (Received r : rows.firsts()) {
            latencies.add(r.receivedAtMillis() - r.json().at("/source/ts_ms").asLong());
        }
        int republished = rows.sentAgain();
        int redelivered = rows.redelivered();
        // EventFlow sends again at most the batch in flight at each of the 4 failures (a batch: at most 1000 changes)
        assertTrue(republished <= 4 * 1000, "EventFlow sent again only around failures: " + republished);
        int duplicates = republished + redelivered;

        Collections.sort(latencies);
        System.out.printf("ResilienceIT: %d changes, %d duplicates (%d sent again by EventFlow, %d redelivered to the consumer), %.0f events/s end to end, latency p50 %d ms, p99 %d ms, max %d ms%n",
                TOTAL, duplicates, republished, redelivered, TOTAL * 1000.0 / (end - start), latencies.get(latencies.size() / 2),
                latencies.get(latencies.size() * 99 / 100), latencies.get(latencies.size() - 1));
    }
}
