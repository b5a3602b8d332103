package io.eventflow;

import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;

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
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What an operator sees: JMX (Camel's route counters and EventFlow's figures), health and metrics. */
class ObserveIT extends EventFlowTestSupport {

    private int jmxPort;

    @Override
    protected Map<String, String> properties() {
        try {
            jmxPort = TestServices.freePort();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return Map.of("eventflow.jmx.port", String.valueOf(jmxPort), "eventflow.stats.interval-ms", "500");
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
        try (JMXConnector connector = JMXConnectorFactory.connect(url)) {
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
    }

    @Test
    void readinessGoesDownWhenPostgresIsCutAndComesBackByItself() throws Exception {
        await().atMost(Duration.ofSeconds(20)).until(() -> get("/observe/health/ready").statusCode() == 200);

        try (Connection admin = TestServices.connect("postgres"); Statement s = admin.createStatement()) {
            s.execute("ALTER DATABASE " + database + " WITH ALLOW_CONNECTIONS false");
            try {
                terminateEventFlowConnections("eventflow%");
                await().atMost(Duration.ofSeconds(20)).until(() -> get("/observe/health/ready").statusCode() == 503);
                String body = get("/observe/health/ready").body();
                assertTrue(body.contains("\"postgres\",\"status\":\"DOWN\"") || body.contains("\"wakeup-listener\",\"status\":\"DOWN\""), body);
                assertEquals(200, get("/observe/health/live").statusCode(), "still alive, only not ready");
            } finally {
                s.execute("ALTER DATABASE " + database + " WITH ALLOW_CONNECTIONS true");
            }
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> get("/observe/health/ready").statusCode() == 200);

        // and the pipeline works again
        insertUser("Back", "back@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 1);
    }
}
