package io.eventflow;

import java.lang.management.ManagementFactory;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Pattern;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What an operator sees: JMX (Camel's route counters and EventFlow's figures), health and metrics. */
class ObserveIT extends EventFlowTestSupport {

    private int jmxPort;
    private java.nio.file.Path passwords;

    @Override
    protected Map<String, String> properties() {
        try {
            jmxPort = TestServices.freePort();
            // remote JMX only with a login: a password file readable by its owner only
            passwords = java.nio.file.Files.createTempFile("eventflow-jmx", ".passwords",
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            java.nio.file.Files.writeString(passwords, "# user password\noperator s3cret-Pa55\n");
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return Map.of("eventflow.jmx.port", String.valueOf(jmxPort), "eventflow.jmx.password-file", passwords.toString(),
                "eventflow.stats.interval-ms", "500", "eventflow.health.max-lag-seconds", "5");
    }

    @org.junit.jupiter.api.AfterAll
    void removePasswords() throws java.io.IOException {
        java.nio.file.Files.deleteIfExists(passwords);
    }

    @Test
    void remoteJmxRefusesAConnectionWithoutTheRightLogin() throws Exception {
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + jmxPort + "/jmxrmi");
        assertThrows(SecurityException.class, () -> JMXConnectorFactory.connect(url).close(), "no credentials");
        assertThrows(SecurityException.class, () -> JMXConnectorFactory.connect(url,
                Map.of(JMXConnector.CREDENTIALS, new String[] {"operator", "guessed"})).close(), "a wrong password");
        assertThrows(SecurityException.class, () -> JMXConnectorFactory.connect(url,
                Map.of(JMXConnector.CREDENTIALS, new String[] {"nobody", "s3cret-Pa55"})).close(), "an unknown user");
    }

    @BeforeEach
    void clear() {
        consumer.clear();
    }

    @Test
    void routeCountersAndEventFlowFiguresOverRemoteJmx() throws Exception {
        insertUser("Jmx", "jmx@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 1);
        long changeId = Long.parseLong(consumer.received().get(0).messageId());

        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + jmxPort + "/jmxrmi");
        try (JMXConnector connector = JMXConnectorFactory.connect(url, Map.of(JMXConnector.CREDENTIALS, new String[] {"operator", "s3cret-Pa55"}))) {
            MBeanServerConnection mbeans = connector.getMBeanServerConnection();
            ObjectName drain = new ObjectName("org.apache.camel:context=eventflow,type=routes,name=\"capture-drain\"");
            assertTrue((Long) mbeans.getAttribute(drain, "ExchangesCompleted") >= 1, "Camel's route counters");
            assertEquals("Started", mbeans.getAttribute(drain, "State"));

            ObjectName capture = new ObjectName("io.eventflow:type=Capture,name=\"eventflow\"");
            await().atMost(Duration.ofSeconds(10)).until(() -> (Long) mbeans.getAttribute(capture, "LastPublishedChangeId") == changeId);
            assertTrue((Long) mbeans.getAttribute(capture, "PublishedTotal") >= 1L);
            assertEquals(0L, mbeans.getAttribute(capture, "Backlog"));
            assertEquals(0.0, (Double) mbeans.getAttribute(capture, "LagSeconds"), 0.001);
            // the first probe is judged one listener-check interval after start
            await().atMost(Duration.ofSeconds(10)).until(() -> "UP".equals(mbeans.getAttribute(capture, "ListenerState")));
        }
    }

    @Test
    void prometheusMetricsHaveRoutesAndEventFlowFigures() throws Exception {
        insertUser("Metrics", "metrics@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> get("/observe/metrics").body().matches("(?s).*eventflow_published_total [1-9].*"));
        HttpResponse<String> metrics = get("/observe/metrics");
        assertEquals(200, metrics.statusCode());
        assertTrue(metrics.body().contains("eventflow_backlog "), "backlog gauge");
        assertTrue(metrics.body().contains("eventflow_lag_seconds "), "lag gauge");
        assertTrue(metrics.body().contains("routeId=\"capture-drain\""), "route metrics");
        // the listener's state, one series per state
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            String body = get("/observe/metrics").body();
            return Pattern.compile("eventflow_listener_state\\{state=\"UP\",?\\} 1\\.0").matcher(body).find()
                    && Pattern.compile("eventflow_listener_state\\{state=\"RESTARTING\",?\\} 0\\.0").matcher(body).find();
        });
    }

    @Test
    void readinessGoesDownWhenPostgresIsCutAndComesBackByItself() throws Exception {
        await().atMost(Duration.ofSeconds(20)).until(() -> get("/observe/health/ready").statusCode() == 200);

        try (Connection admin = TestServices.connect("postgres"); Statement s = admin.createStatement()) {
            s.execute("ALTER DATABASE " + database + " WITH ALLOW_CONNECTIONS false");
            try {
                terminateEventFlowConnections("eventflow%");
                // the postgres check itself, not only the listener that lost its connection too
                await().atMost(Duration.ofSeconds(30)).until(() -> readiness(503, "postgres", "DOWN"));
                assertEquals(200, get("/observe/health/live").statusCode(), "still alive, only not ready");
            } finally {
                s.execute("ALTER DATABASE " + database + " WITH ALLOW_CONNECTIONS true");
            }
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> readiness(200, "postgres", "UP"));

        // and the pipeline works again
        insertUser("Back", "back@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 1);
    }

    @Test
    void readinessGoesDownWhileChangesWaitLongerThanTheLagBoundAndUpOnceTheyArePublished() throws Exception {
        await().atMost(Duration.ofSeconds(30)).until(() -> readiness(200, "capture-lag", "UP"));

        // publishing held back: the drain stopped, as an operator can over JMX
        context().getRouteController().stopRoute("capture-drain");
        try {
            insertUser("Held", "held@example.com");
            await().atMost(Duration.ofSeconds(30)).until(() -> readiness(503, "capture-lag", "DOWN"));
            String body = get("/observe/health/ready").body();
            assertTrue(body.contains("(backlog 1)"), "says how many changes wait: " + body);
            assertEquals(0, consumer.count());
        } finally {
            context().getRouteController().startRoute("capture-drain");
        }

        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 1);
        await().atMost(Duration.ofSeconds(20)).until(() -> readiness(200, "capture-lag", "UP"));
    }

    @Test
    void backlogAndLagCountOnlyWhatIsNotPublishedOfABatchDrainedInChunks() throws Exception {
        ObjectName capture = new ObjectName("io.eventflow:type=Capture,name=\"eventflow\"");
        var mbeans = ManagementFactory.getPlatformMBeanServer();
        context().getRouteController().stopRoute("capture-drain");
        try {
            String lo = queryText("SELECT pg_current_snapshot()::text");
            sql("INSERT INTO eventflow_demo.users (name, email) SELECT 'Chunk ' || g, 'chunk' || g || '@example.com' FROM generate_series(1, 10) g");
            String hi = queryText("SELECT pg_current_snapshot()::text");
            // committed after the batch's end: not in it, waiting for the next one
            for (int i = 1; i <= 3; i++) {
                insertUser("After " + i, "after" + i + "@example.com");
            }
            // where capture stands after sending the first 4 of the batch's 10 changes (as with
            // eventflow.capture.batch-size = 4); those 4 are an hour old, the others just committed
            String fourth = queryText("SELECT id FROM eventflow.change_log WHERE NOT pg_visible_in_snapshot(tx_id, '" + lo
                    + "') AND pg_visible_in_snapshot(tx_id, '" + hi + "') ORDER BY id OFFSET 3 LIMIT 1");
            sql("UPDATE eventflow.capture_state SET lo_snapshot = '" + lo + "', hi_snapshot = '" + hi + "', last_id = " + fourth
                    + " WHERE name = 'default'",
                    "UPDATE eventflow.change_log SET changed_at = now() - interval '1 hour' WHERE id <= " + fourth
                    + " AND NOT pg_visible_in_snapshot(tx_id, '" + lo + "')");

            // 6 of the batch and the 3 after it wait, the oldest of them for seconds, not an hour
            await().atMost(Duration.ofSeconds(20)).until(() -> (Long) mbeans.getAttribute(capture, "Backlog") == 9L);
            double lag = (Double) mbeans.getAttribute(capture, "LagSeconds");
            assertTrue(lag < 600, "lag " + lag + " s: the age of the oldest change not published yet");
            String metrics = get("/observe/metrics").body();
            assertTrue(metrics.contains("eventflow_backlog 9.0"), metrics);
        } finally {
            context().getRouteController().startRoute("capture-drain");
        }

        // and capture publishes exactly those 9
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.distinctCount() == 9);
        await().atMost(Duration.ofSeconds(20)).until(() -> (Long) mbeans.getAttribute(capture, "Backlog") == 0L);
        assertEquals(9, consumer.distinctCount(), "the 4 changes sent before were not sent again");
        assertEquals("Chunk 5", consumer.received().get(0).json().at("/after/name").asText());
    }

    /** Whether readiness answers this HTTP status with this check in this state. */
    private boolean readiness(int status, String check, String checkStatus) throws Exception {
        HttpResponse<String> ready = get("/observe/health/ready");
        return ready.statusCode() == status && ready.body().contains("\"name\":\"" + check + "\",\"status\":\"" + checkStatus + "\"");
    }

    private String queryText(String query) throws Exception {
        try (Connection c = db(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(query)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
