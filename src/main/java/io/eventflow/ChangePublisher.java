package io.eventflow;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.camel.Body;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.Header;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import org.springframework.amqp.rabbit.connection.ChannelProxy;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes a batch of change events to a RabbitMQ exchange on one channel and waits once for the
 * broker's confirms of the whole batch, so the route advances its read position only after RabbitMQ
 * has taken every event, and events leave in the order they were staged.
 */
public class ChangePublisher {

    private static final Logger LOG = LoggerFactory.getLogger(ChangePublisher.class);

    /** One event ready to leave: where it goes and the AMQP message. */
    public record Outgoing(String routingKey, AMQP.BasicProperties properties, byte[] body) {
    }

    private final RabbitTemplate template;
    private final ObjectMapper json;
    private final String unroutedExchange;
    private final long confirmTimeoutMs;
    private final Set<String> declared = ConcurrentHashMap.newKeySet();

    public ChangePublisher(RabbitTemplate template, ObjectMapper json, String unroutedExchange, long confirmTimeoutMs) {
        this.template = template;
        this.json = json;
        this.unroutedExchange = unroutedExchange;
        this.confirmTimeoutMs = confirmTimeoutMs;
    }

    /** A new, empty batch; the route keeps it in an exchange property while it splits the changes. */
    public List<Outgoing> newBatch() {
        return new ArrayList<>();
    }

    /**
     * Adds one change, as the capture route unmarshalled it, to the batch: its event, as JSON, becomes
     * the body; the change id the AMQP message_id; the change key {@code <schema>.<table>.<op>} the type.
     */
    public void stage(@ExchangeProperty("outgoing") List<Outgoing> batch, @Body Map<String, Object> change,
            @Header("routingKey") String routingKey) throws JsonProcessingException {
        Object envelope = change.get("event");
        byte[] event = envelope instanceof RawEvent raw ? raw.json() : json.writeValueAsBytes(envelope);
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .messageId(String.valueOf(change.get("id")))
                .contentType("application/json")
                .contentEncoding(StandardCharsets.UTF_8.name())
                .deliveryMode(2)
                .timestamp(new Date())
                // <schema>.<table>.<op>, as capture-read-batch computes it
                .type((String) change.get("change"))
                .appId("eventflow")
                .build();
        batch.add(new Outgoing(routingKey, props, event));
    }

    /**
     * Sends the batch in order on one channel and waits for the broker to confirm all of it.
     *
     * @return how many events were published
     * @throws org.springframework.amqp.AmqpException when the broker is unreachable, nacks an event or
     *         does not confirm in time; nothing is then taken as published
     */
    public int publish(List<Outgoing> batch, String exchange) {
        if (batch == null || batch.isEmpty()) {
            return 0;
        }
        declare(exchange);
        try {
            template.execute(proxy -> {
                // on the channel itself, not on Spring's proxy of it: the proxy replaces a channel the
                // broker closed by a new one without a word, and the rest of the batch would go out
                // on that one, after changes lost with the old one (out of row order) and outside
                // the confirms waited for. A closed channel fails the batch, which is sent again.
                Channel channel = proxy instanceof ChannelProxy p ? p.getTargetChannel() : proxy;
                for (Outgoing out : batch) {
                    channel.basicPublish(exchange, out.routingKey(), false, out.properties(), out.body());
                }
                channel.waitForConfirmsOrDie(confirmTimeoutMs);
                return null;
            });
        } catch (RuntimeException e) {
            // the exchange may have been deleted or the broker restarted: declare again next time
            declared.remove(exchange);
            throw e;
        }
        return batch.size();
    }

    /**
     * Declares the durable topic exchange with its alternate exchange, and the durable queue that keeps
     * what no binding routed. Idempotent; done once per exchange until a publish fails.
     */
    public void declare(String exchange) {
        if (declared.contains(exchange)) {
            return;
        }
        template.execute(channel -> {
            channel.exchangeDeclare(unroutedExchange, "fanout", true);
            channel.queueDeclare(unroutedExchange, true, false, false, null);
            channel.queueBind(unroutedExchange, unroutedExchange, "");
            declareChangeExchange(channel, exchange, unroutedExchange);
            return null;
        });
        declared.add(exchange);
        LOG.info("Declared exchange {} (topic, alternate exchange {})", exchange, unroutedExchange);
    }

    /**
     * Declares a change exchange: durable, topic, with its alternate exchange. Whoever declares it
     * (the publisher, or a consumer of EventFlow's own such as the web demo's stream) declares it
     * exactly so, so it does not matter who is first.
     */
    public static void declareChangeExchange(Channel channel, String exchange, String unroutedExchange) throws IOException {
        channel.exchangeDeclare(exchange, "topic", true, false, Map.of("alternate-exchange", unroutedExchange));
    }

    /** Declares at start-up when the broker is there; when it is not, publishing declares later. */
    public void declareQuietly(String exchange) {
        try {
            declare(exchange);
        } catch (RuntimeException e) {
            LOG.warn("RabbitMQ not reachable at start-up ({}); changes stay in the change log until it is", rootMessage(e));
        }
    }

    static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }
}
