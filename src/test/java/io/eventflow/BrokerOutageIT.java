package io.eventflow;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Map;

import javax.management.ObjectName;

import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.TcpProxy;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RabbitMQ becomes unreachable for EventFlow (through a proxy the test cuts, so the broker stays up
 * for everyone else): readiness says so, changes committed meanwhile wait, and both come back by
 * themselves when the broker is reachable again.
 */
class BrokerOutageIT extends EventFlowTestSupport {

    private TcpProxy broker;

    @Override
    protected Map<String, String> properties() {
        try {
            broker = new TcpProxy(TestServices.rabbitHost(), TestServices.rabbitPort());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return Map.of("eventflow.rabbitmq.url", "amqp://guest:guest@127.0.0.1:" + broker.port(), "eventflow.stats.interval-ms", "500");
    }

    @AfterAll
    void closeProxy() throws IOException {
        broker.close();
    }

    @Test
    void readinessAndDeliveryComeBackByThemselvesAfterTheBrokerWasUnreachable() throws Exception {
        await().atMost(Duration.ofSeconds(30)).until(() -> get("/observe/health/ready").statusCode() == 200);

        broker.stop();
        await().atMost(Duration.ofSeconds(30)).until(() -> get("/observe/health/ready").statusCode() == 503);
        String body = get("/observe/health/ready").body();
        assertTrue(body.contains("\"name\":\"rabbitmq\",\"status\":\"DOWN\""), body);

        // committed while EventFlow cannot reach the broker: the writer does not notice
        long first = insertUser("During outage 1", "outage1@example.com");
        long second = insertUser("During outage 2", "outage2@example.com");
        // EventFlow tried to publish them, failed, and keeps them
        ObjectName drain = new ObjectName("org.apache.camel:context=eventflow,type=routes,name=\"capture-drain\"");
        await().atMost(Duration.ofSeconds(30))
                .until(() -> (Long) ManagementFactory.getPlatformMBeanServer().getAttribute(drain, "FailuresHandled") > 0);
        assertEquals(0, consumer.count());

        broker.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> consumer.distinctCount() == 2);
        assertEquals(first, consumer.received().get(0).json().at("/after/id").asLong());
        assertEquals(second, consumer.received().get(consumer.count() - 1).json().at("/after/id").asLong());
        await().atMost(Duration.ofSeconds(30)).until(() -> get("/observe/health/ready").statusCode() == 200);
    }
}
