package io.eventflow;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.eventflow.support.EventFlowTestSupport;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bounded storage without autovacuum: at a steady write rate the change log's size levels off at
 * what the retention keeps, because EventFlow deletes what every cursor published and vacuums its
 * own table.
 */
class StorageIT extends EventFlowTestSupport {

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.capture.retention", "1 second", "eventflow.capture.cleanup-interval-ms", "1000",
                "eventflow.stream.enabled", "false");
    }

    @Test
    void theChangeLogLevelsOffAtASteadyRateWithAutovacuumOff() throws Exception {
        sql("ALTER TABLE eventflow.change_log SET (autovacuum_enabled = false)",
                "INSERT INTO eventflow_demo.users (name, email) SELECT 'Row ' || i, 'row' || i || '@example.com' FROM generate_series(1, 100) i");
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicLong written = new AtomicLong();
        Thread writer = new Thread(() -> {
            try (Connection c = db(); PreparedStatement update = c.prepareStatement(
                    "UPDATE eventflow_demo.users SET name = 'Row ' || ? WHERE email = 'row' || ? || '@example.com'")) {
                long next = System.nanoTime();
                while (writing.get()) {
                    long n = written.incrementAndGet();
                    update.setLong(1, n);
                    update.setLong(2, n % 100 + 1);
                    update.executeUpdate();
                    // a steady 400 updates/s
                    next += 2_500_000;
                    long wait = next - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        writer.start();
        try {
            // the size, sampled over 24 s of updates: the peak of the last 8 s against that of seconds 4 to 12
            // (without the vacuum it grows with every update, about 1 MB in this time)
            List<long[]> samples = java.util.Collections.synchronizedList(new ArrayList<>());
            long start = System.nanoTime();
            await().pollInterval(Duration.ofMillis(500)).atMost(Duration.ofSeconds(60)).until(() -> {
                samples.add(new long[] {(System.nanoTime() - start) / 1_000_000, changeLogBytes()});
                return written.get() >= 9_600;
            });
            long early = peak(samples, 4_000, 12_000);
            long late = peak(samples, samples.get(samples.size() - 1)[0] - 8_000, Long.MAX_VALUE);
            System.out.printf("change log peak: %d bytes in seconds 4 to 12, %d bytes in the last 8 s, %d updates%n", early, late, written.get());
            assertTrue(late < early * 1.5, "the change log grew from a peak of " + early + " to one of " + late + " bytes");
        } finally {
            writing.set(false);
            writer.join();
        }
    }

    private static long peak(List<long[]> samples, long fromMillis, long toMillis) {
        return samples.stream().filter(s -> s[0] >= fromMillis && s[0] < toMillis).mapToLong(s -> s[1]).max().orElseThrow();
    }

    private long changeLogBytes() throws Exception {
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT pg_total_relation_size('eventflow.change_log')")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
