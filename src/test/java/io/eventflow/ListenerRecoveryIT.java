package io.eventflow;

import java.lang.management.ManagementFactory;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import javax.management.ObjectName;

import io.eventflow.support.EventFlowTestSupport;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pgevent LISTEN connection dies: EventFlow notices by itself and brings low-latency wake-ups
 * back. Polling is set to a minute here, so only a working wake-up delivers within seconds.
 */
class ListenerRecoveryIT extends EventFlowTestSupport {

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.capture.poll-interval-ms", "60000",
                "eventflow.capture.listener-check-interval-ms", "500");
    }

    private int counter;

    /** Inserts a user and tells whether its event arrived within the given time. */
    private boolean arrivesWithin(Duration limit) throws Exception {
        int before = consumer.count();
        insertUser("probe-" + counter, "probe-" + counter++ + "@example.com");
        try {
            await().atMost(limit).until(() -> consumer.count() > before);
            return true;
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            return false;
        }
    }

    private int listenerSessions() throws Exception {
        try (Connection c = db(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = ? AND application_name = 'eventflow-listener'")) {
            ps.setString(1, database);
            var rs = ps.executeQuery();
            rs.next();
            return rs.getInt(1);
        }
    }

    @Test
    void aKilledListenerIsReplacedAndWakeUpsComeBack() throws Exception {
        assertTrue(arrivesWithin(Duration.ofSeconds(5)), "wake-ups work before the failure");

        assertEquals(1, terminateEventFlowConnections("eventflow-listener"));

        // no restart of EventFlow: within a few seconds a change is again delivered within 2 s
        await().atMost(Duration.ofSeconds(30)).until(() -> arrivesWithin(Duration.ofSeconds(2)));
        await().atMost(Duration.ofSeconds(10)).until(() -> listenerSessions() == 1);
        assertTrue(arrivesWithin(Duration.ofSeconds(2)));
        assertEquals(counter, consumer.distinctCount(), "every change arrived");
    }

    private Object captureAttribute(String name) throws Exception {
        return ManagementFactory.getPlatformMBeanServer().getAttribute(new ObjectName("io.eventflow:type=Capture,name=\"eventflow\""), name);
    }

    private boolean wakeupListenerReady() throws Exception {
        HttpResponse<String> ready = get("/observe/health/ready");
        return ready.statusCode() == 200 && ready.body().contains("\"name\":\"wakeup-listener\",\"status\":\"UP\"");
    }

    private boolean wakeupListenerNotReady() throws Exception {
        HttpResponse<String> ready = get("/observe/health/ready");
        return ready.statusCode() == 503 && ready.body().contains("\"name\":\"wakeup-listener\",\"status\":\"DOWN\"");
    }

    @Test
    void readinessStaysDownWhileTheListenerKeepsDyingAndComesBackByItself() throws Exception {
        await().atMost(Duration.ofSeconds(30)).until(this::wakeupListenerReady);
        long restartsBefore = (Long) captureAttribute("ListenerRestarts");

        // a listener that dies again right after every restart
        ScheduledExecutorService killer = Executors.newSingleThreadScheduledExecutor();
        try {
            killer.scheduleWithFixedDelay(() -> {
                try {
                    terminateEventFlowConnections("eventflow-listener");
                } catch (SQLException e) {
                    // the next round tries again
                }
            }, 0, 50, TimeUnit.MILLISECONDS);

            await().atMost(Duration.ofSeconds(20)).until(this::wakeupListenerNotReady);
            // not ready at any moment while it stays broken, across restarts
            await().during(Duration.ofSeconds(6)).atMost(Duration.ofSeconds(15))
                    .until(() -> wakeupListenerNotReady() && Set.of("DEAD", "RESTARTING").contains(captureAttribute("ListenerState")));
            assertTrue((Long) captureAttribute("ListenerRestarts") >= restartsBefore + 3, "restarted again and again meanwhile");
        } finally {
            killer.shutdownNow();
            killer.awaitTermination(10, TimeUnit.SECONDS);
        }

        // no restart of EventFlow: ready again once a probe came back, and wake-ups work
        await().atMost(Duration.ofSeconds(30)).until(this::wakeupListenerReady);
        assertEquals("UP", captureAttribute("ListenerState"));
        await().atMost(Duration.ofSeconds(10)).until(() -> listenerSessions() == 1);
        assertTrue(arrivesWithin(Duration.ofSeconds(2)), "wake-ups work again");
    }

    @Test
    void repeatedFailuresLeaveExactlyOneListener() throws Exception {
        for (int i = 0; i < 3; i++) {
            terminateEventFlowConnections("eventflow-listener");
            await().atMost(Duration.ofSeconds(30)).until(() -> arrivesWithin(Duration.ofSeconds(2)));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> listenerSessions() == 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> consumer.distinctCount() == counter);
        assertEquals(consumer.count(), consumer.distinctCount(), "one listener: no event twice");
    }
}
