package io.eventflow;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import com.fasterxml.jackson.databind.JsonNode;
import io.eventflow.support.EventConsumer;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowProcess;
import io.eventflow.support.EventFlowProcess.Scratch;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An incremental snapshot of a 200,000-row table while 4 writers update, delete and insert random
 * rows, with EventFlow killed once mid-snapshot: a consumer that applies the events in order (the
 * highest change id of a row wins) ends with exactly the table's rows, and every row no writer
 * touched got its 'r'. The writers' latency with and without the snapshot is printed.
 */
class SnapshotIT {

    /** 200,000 in the build; -Deventflow.test.snapshot-rows=1000000 for a larger run. */
    private static final int ROWS = Integer.getInteger("eventflow.test.snapshot-rows", 200_000);
    private static final int WRITERS = 4;
    /** EventFlow's pause between two chunks: its default, or another with -Deventflow.test.snapshot-chunk-delay-ms=0. */
    private static final String CHUNK_DELAY = System.getProperty("eventflow.test.snapshot-chunk-delay-ms");
    private static final String[] OPTIONS = CHUNK_DELAY == null ? new String[0]
            : new String[] {"-Deventflow.snapshot.chunk-delay-ms=" + CHUNK_DELAY};

    /** Each writer's statement latencies (ns), and the ids any writer touched. */
    private final List<List<Long>> latencies = new ArrayList<>();
    private final Set<Long> touched = ConcurrentHashMap.newKeySet();
    private final AtomicLong nextId = new AtomicLong(ROWS);

    @Test
    void everyRowArrivesAndNoReadOverwritesANewerChange() throws Exception {
        Scratch scratch = Scratch.create("snapshot-eventflow.log");
        AtomicBoolean writing = new AtomicBoolean(true);
        List<CompletableFuture<Void>> writers = new ArrayList<>();
        try (EventConsumer consumer = new EventConsumer(scratch.exchange(), scratch.unrouted(), TestServices.uniqueName("eventflow.test.consumer"), "public.items.*")) {
            TestServices.migrate(scratch.database());
            try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE public.items (id bigint PRIMARY KEY, v int NOT NULL, note text)");
                st.execute("INSERT INTO public.items SELECT g, 0, 'row ' || g FROM generate_series(1, " + ROWS + ") g");
                st.execute("VACUUM ANALYZE public.items");
                st.execute("SELECT eventflow.enable_capture('public.items')");
            }
            for (int w = 0; w < WRITERS; w++) {
                List<Long> mine = new ArrayList<>();
                latencies.add(mine);
                writers.add(CompletableFuture.runAsync(() -> write(scratch.database(), writing, mine)));
            }
            EventFlowProcess eventflow = scratch.start(OPTIONS);
            try {
                // the writers' latency without a snapshot
                Thread.sleep(5_000);
                double[] without = p50p99(takeLatencies());

                long started = System.nanoTime();
                try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement()) {
                    st.execute("SELECT eventflow.snapshot('public.items')");
                }
                // killed mid-snapshot, started again: it goes on from the last chunk it finished
                await().atMost(Duration.ofSeconds(120)).until(() -> rowsDone(scratch) >= ROWS / 3);
                eventflow.kill();
                long atKill = rowsDone(scratch);
                Thread.sleep(2_000);
                eventflow = scratch.start(OPTIONS);
                await().atMost(Duration.ofSeconds(300)).until(() -> "done".equals(state(scratch)));
                double seconds = (System.nanoTime() - started) / 1e9;
                double[] during = p50p99(takeLatencies());
                writing.set(false);
                CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).join();

                // everything logged has arrived: the consumer's table is the database's
                Map<Long, Integer> table = new HashMap<>();
                try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement();
                        ResultSet rs = st.executeQuery("SELECT id, v FROM public.items")) {
                    while (rs.next()) {
                        table.put(rs.getLong(1), rs.getInt(2));
                    }
                }
                Map<Long, Integer>[] applied = new Map[1];
                await().atMost(Duration.ofSeconds(120 + ROWS / 5_000)).pollInterval(Duration.ofSeconds(Math.max(1, ROWS / 100_000)))
                        .until(() -> (applied[0] = apply(consumer.received())).equals(table));

                Set<Long> read = new HashSet<>();
                Set<String> lasts = new HashSet<>();
                for (Received r : consumer.received()) {
                    JsonNode event = r.json();
                    if ("r".equals(event.get("op").asText())) {
                        read.add(event.at("/after/id").asLong());
                        if ("last".equals(event.at("/source/snapshot").asText())) {
                            lasts.add(r.messageId());
                        }
                    }
                }
                List<Long> untouchedUnread = new ArrayList<>();
                for (long id = 1; id <= ROWS; id++) {
                    if (!touched.contains(id) && !read.contains(id)) {
                        untouchedUnread.add(id);
                    }
                }
                assertEquals(List.of(), untouchedUnread.subList(0, Math.min(20, untouchedUnread.size())),
                        "every row no writer touched got its 'r' (" + untouchedUnread.size() + " did not)");
                assertEquals(1, lasts.size(), "one 'r' marked last");
                try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement();
                        ResultSet rs = st.executeQuery("SELECT rows_done, error IS NULL FROM eventflow.snapshots")) {
                    rs.next();
                    assertTrue(rs.getLong(1) >= ROWS - touched.size(), "rows done: " + rs.getLong(1));
                    assertTrue(rs.getBoolean(2));
                }
                System.out.printf("SnapshotIT: %d rows in %.1f s (%.0f rows/s, killed once at %d rows, %s) with %d writers; "
                        + "writers' latency p50/p99 without a snapshot %.1f/%.1f ms, during it %.1f/%.1f ms (p99 %.2fx); %d rows touched%n",
                        ROWS, seconds, ROWS / seconds, atKill, "chunk delay " + (CHUNK_DELAY == null ? "by default" : CHUNK_DELAY + " ms"), WRITERS, without[0], without[1], during[0], during[1],
                        during[1] / without[1], touched.size());
            } finally {
                eventflow.close();
            }
        } finally {
            writing.set(false);
            writers.forEach(w -> w.exceptionally(e -> null).join());
            scratch.remove();
        }
    }

    /** Random updates, deletes and inserts, one row per transaction, each statement timed. */
    private void write(String database, AtomicBoolean writing, List<Long> mine) {
        try (Connection c = TestServices.connect(database);
                PreparedStatement update = c.prepareStatement("UPDATE public.items SET v = v + 1 WHERE id = ?");
                PreparedStatement delete = c.prepareStatement("DELETE FROM public.items WHERE id = ?");
                PreparedStatement insert = c.prepareStatement("INSERT INTO public.items VALUES (?, 1, 'new')")) {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            while (writing.get()) {
                int kind = random.nextInt(10);
                long id = kind < 8 ? 1 + random.nextInt(ROWS) : nextId.incrementAndGet();
                PreparedStatement statement = kind < 7 ? update : kind < 8 ? delete : insert;
                statement.setLong(1, id);
                touched.add(id);
                long t0 = System.nanoTime();
                statement.executeUpdate();
                long took = System.nanoTime() - t0;
                synchronized (mine) {
                    mine.add(took);
                }
                Thread.sleep(2);
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private long[] takeLatencies() {
        List<Long> all = new ArrayList<>();
        for (List<Long> mine : latencies) {
            synchronized (mine) {
                all.addAll(mine);
                mine.clear();
            }
        }
        return all.stream().mapToLong(Long::longValue).toArray();
    }

    private static double[] p50p99(long[] nanos) {
        Arrays.sort(nanos);
        return new double[] {nanos[nanos.length / 2] / 1e6, nanos[(int) (nanos.length * 0.99)] / 1e6};
    }

    /** The consumer's copy of the table: events applied in arrival order, a row's highest change id wins. */
    private static Map<Long, Integer> apply(List<Received> events) {
        Map<Long, Integer> rows = new HashMap<>();
        Map<Long, Long> newest = new HashMap<>();
        for (Received r : events) {
            JsonNode event = r.json();
            String op = event.get("op").asText();
            JsonNode row = "d".equals(op) ? event.get("before") : event.get("after");
            long id = row.get("id").asLong();
            long change = event.at("/source/changeId").asLong();
            if (change <= newest.getOrDefault(id, 0L)) {
                continue;
            }
            newest.put(id, change);
            if ("d".equals(op)) {
                rows.remove(id);
            } else {
                rows.put(id, row.get("v").asInt());
            }
        }
        return rows;
    }

    private static long rowsDone(Scratch scratch) throws SQLException {
        try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT coalesce(max(rows_done), 0) FROM eventflow.snapshots")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String state(Scratch scratch) throws SQLException {
        try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT state FROM eventflow.snapshots")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }
}
