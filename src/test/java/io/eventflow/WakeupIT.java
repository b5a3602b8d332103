package io.eventflow;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The wake-up channel is open to every database role: nobody without EventFlow's rights can fake
 * the listener probes into a restart loop, and with EventFlow gone writers pay one NOTIFY in all,
 * not one per transaction; idle, EventFlow reads at wake-ups and polls only.
 */
class WakeupIT extends EventFlowTestSupport {

    private static final String CHANNEL = "eventflow_wakeup";

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.capture.listener-check-interval-ms", "300", "eventflow.stats.interval-ms", "300");
    }

    @Test
    void probesReplayedOrInventedByAnotherRoleDoNotFakeTheListenerState() throws Exception {
        String role = TestServices.uniqueName("eventflow_it_intruder");
        sql("CREATE ROLE " + role + " LOGIN");
        try (Connection intruder = TestServices.connect(database, role); Statement st = intruder.createStatement()) {
            st.execute("LISTEN " + CHANNEL);
            WakeupListener listener = context().getRegistry().lookupByNameAndType("wakeupListener", WakeupListener.class);
            await().atMost(Duration.ofSeconds(20)).until(() -> listener.getState() == WakeupListener.State.UP);
            long restarts = listener.getRestarts();
            long deadline = System.nanoTime() + Duration.ofSeconds(6).toNanos();
            List<String> replayed = new ArrayList<>();
            while (System.nanoTime() < deadline) {
                // every probe EventFlow sends, sent again twice, and probes it never sent
                for (PGNotification n : intruder.unwrap(PGConnection.class).getNotifications(200)) {
                    if (n.getParameter().startsWith(WakeupListener.PROBE_PREFIX)) {
                        replayed.add(n.getParameter());
                        for (int i = 0; i < 2; i++) {
                            st.execute("SELECT pg_notify('" + CHANNEL + "', '" + n.getParameter() + "')");
                        }
                    }
                }
                st.execute("SELECT pg_notify('" + CHANNEL + "', 'probe:" + replayed.size() + "')");
            }
            assertTrue(replayed.size() >= 5, "the intruder saw the probes: " + replayed);
            assertEquals(WakeupListener.State.UP, listener.getState());
            assertEquals(restarts, listener.getRestarts(), "no restart of the wake-up route");
            assertTrue(get("/observe/health/ready").body().contains("\"name\":\"wakeup-listener\",\"status\":\"UP\""));
        } finally {
            sql("DROP ROLE " + role);
        }
    }

    @Test
    void withEventFlowStoppedWritersSendOneWakeUpInAll() throws Exception {
        consumer.clear();
        long id = insertUser("Before the stop", "before-stop@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream().anyMatch(r -> r.json().at("/after/id").asLong() == id));
        // idle, EventFlow armed the wake-up; then it goes away and the switch stays armed
        await().atMost(Duration.ofSeconds(10)).until(() -> armed() == 1);
        stopApp();
        try (Connection listening = db(); Statement st = listening.createStatement()) {
            st.execute("LISTEN " + CHANNEL);
            for (int i = 0; i < 50; i++) {
                insertUser("While stopped " + i, "stopped" + i + "@example.com");
            }
            int wakeUps = 0;
            for (PGNotification n : listening.unwrap(PGConnection.class).getNotifications(1000)) {
                wakeUps += n.getParameter().isEmpty() ? 1 : 0;
            }
            assertEquals(1, wakeUps, "50 writing transactions, one NOTIFY");
            assertEquals(0, armed(), "the first writer disarmed the switch");
        } finally {
            app = startApp();
        }
        // started again, EventFlow publishes what was written meanwhile and arms the switch once idle
        await().atMost(Duration.ofSeconds(30)).until(() -> consumer.received().stream()
                .anyMatch(r -> r.json().at("/after/email").asText().equals("stopped49@example.com")));
        await().atMost(Duration.ofSeconds(10)).until(() -> armed() == 1);
    }

    @Test
    void idleItReadsAtWakeUpsAndPollsOnlyAndStopsAtOnce() throws Exception {
        consumer.clear();
        long id = insertUser("Before the quiet", "before-quiet@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream().anyMatch(r -> r.json().at("/after/id").asLong() == id));
        await().atMost(Duration.ofSeconds(10)).until(() -> armed() == 1);
        // nothing written: a poll a second, the figures and the listener probes every 300 ms, a few
        // statements each; a drain that never ends would read thousands of times
        long before = commits();
        Thread.sleep(6000);
        long idle = commits() - before;
        assertTrue(idle < 300, idle + " transactions in 6 idle seconds");
        // a drain that does not end would hold a stop for the whole shutdown timeout
        long start = System.nanoTime();
        stopApp();
        long stopMs = (System.nanoTime() - start) / 1_000_000;
        app = startApp();
        assertTrue(stopMs < 5000, "stopped in " + stopMs + " ms");
    }

    /** Transactions committed in the test's database, as PostgreSQL counts them. */
    private long commits() throws Exception {
        try (Connection c = db(); Statement st = c.createStatement(); var rs = st.executeQuery(
                "SELECT pg_stat_force_next_flush(), (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())")) {
            rs.next();
            return rs.getLong(2);
        }
    }

    private long armed() throws Exception {
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT pg_sequence_last_value('eventflow.wakeup_armed')")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
