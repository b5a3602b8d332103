package io.eventflow;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.SseClient;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An event no queue is bound for ends in the alternate exchange's queue, not nowhere, also while
 * the web demo's stream shows every event (it takes its copy from an exchange of its own).
 */
class UnroutableEventsIT extends EventFlowTestSupport {

    private boolean streamEnabled() {
        return !"false".equals(properties().get("eventflow.stream.enabled"));
    }

    @Override
    protected String[] bindingKeys() {
        return new String[] {"eventflow_demo.users.#"};
    }

    @Test
    void anEventNoQueueIsBoundForIsKeptInTheUnroutedQueue() throws Exception {
        SseClient page = streamEnabled() ? new SseClient(url("/events")) : null;
        sql("CREATE TABLE public.audit (id bigint PRIMARY KEY, what text)",
                "SELECT eventflow.enable_capture('public.audit')",
                "INSERT INTO public.audit VALUES (7, 'nobody listens')");
        insertUser("Bound", "bound@example.com");

        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 1);
        assertEquals("eventflow_demo.users.c", consumer.received().get(0).routingKey());

        try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); Channel ch = c.createChannel()) {
            GetResponse unrouted = ch.basicGet(unroutedExchange, true);
            assertNotNull(unrouted, "the audit event is in " + unroutedExchange);
            assertEquals("public.audit.c", unrouted.getEnvelope().getRoutingKey());
            String body = new String(unrouted.getBody(), StandardCharsets.UTF_8);
            assertTrue(body.contains("nobody listens"), body);
            assertEquals(2, unrouted.getProps().getDeliveryMode());
        }
        if (page != null) {
            try (page) {
                await().atMost(Duration.ofSeconds(20)).until(() -> page.find("change", e -> e.data().contains("nobody listens")) != null);
            }
        }
    }

    @Test
    void exchangesRemovedWhileRunningAreDeclaredAgainByEventFlow() throws Exception {
        // the test's consumer declared them too: gone now, only EventFlow can bring them back
        try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); Channel ch = c.createChannel()) {
            ch.exchangeDelete(exchange);
            ch.queueDelete(unroutedExchange);
            ch.exchangeDelete(unroutedExchange);
        }
        insertUser("Redeclared", "redeclared@example.com");

        // the change exchange is back, with its alternate exchange: nothing is bound to it now, so
        // the event is in the unrouted queue, declared again as well
        try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection()) {
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                try (Channel ch = c.createChannel()) {
                    return ch.queueDeclarePassive(unroutedExchange).getMessageCount() >= 1;
                }
            });
            try (Channel ch = c.createChannel()) {
                GetResponse unrouted = ch.basicGet(unroutedExchange, true);
                assertNotNull(unrouted);
                assertEquals("eventflow_demo.users.c", unrouted.getEnvelope().getRoutingKey());
                assertTrue(new String(unrouted.getBody(), StandardCharsets.UTF_8).contains("Redeclared"));
                // declared as a durable topic exchange with that alternate exchange: the same declaration is accepted
                ch.exchangeDeclare(exchange, "topic", true, false, Map.of("alternate-exchange", unroutedExchange));
            }
        }
    }
}
