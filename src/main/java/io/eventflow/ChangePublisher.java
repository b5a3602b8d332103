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
import com.rabbitmq.client.Channel;
import org.springframework.amqp.AmqpIOException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.MessageProperties;
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
    public record Outgoing(String routingKey, Message message) {
    }

    private final RabbitTemplate template;
    private final String unroutedExchange;
    private final long confirmTimeoutMs;
    private final Set<String> declared = ConcurrentHashMap.newKeySet();

    public ChangePublisher(RabbitTemplate template, String unroutedExchange, long confirmTimeoutMs) {
        this.template = template;
        this.unroutedExchange = unroutedExchange;
        this.confirmTimeoutMs = confirmTimeoutMs;
    }

    /** A new, empty batch; the route keeps it in an exchange property while it splits the changes. */
    public List<Outgoing> newBatch() {
        return new ArrayList<>();
    }

    /**
     * Adds one change, as read by the capture route, to the batch: the event JSON becomes the body;
     * the change id the AMQP message_id; {@code <schema>.<table>.<op>} the type.
     */
    public void stage(@ExchangeProperty("outgoing") List<Outgoing> batch, @Body Map<String, Object> change,
            @Header("routingKey") String routingKey) {
        String event = (String) change.get("event");
        MessageProperties props = new MessageProperties();
        props.setMessageId(String.valueOf(change.get("id")));
        props.setContentType(MessageProperties.CONTENT_TYPE_JSON);
        props.setContentEncoding(StandardCharsets.UTF_8.name());
        props.setDeliveryMode(MessageDeliveryMode.PERSISTENT);
        props.setTimestamp(new Date());
        props.setType(change.get("schema_name") + "." + change.get("table_name") + "." + change.get("op"));
        props.setAppId("eventflow");
        batch.add(new Outgoing(routingKey, new Message(event.getBytes(StandardCharsets.UTF_8), props)));
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
            template.invoke(ops -> {
                Channel channel = ops.execute(ChangePublisher::physical);
                for (Outgoing out : batch) {
                    ops.send(exchange, out.routingKey(), out.message());
                }
                ops.waitForConfirmsOrDie(confirmTimeoutMs);
                // Spring replaces a channel the broker closed by a new one without saying so: the
                // confirms then cover only what went out on the new one, so the batch counts only
                // when all of it went out, and was confirmed, on one channel
                if (ops.execute(ChangePublisher::physical) != channel || !channel.isOpen()) {
                    throw new AmqpIOException(new IOException("the broker closed the publishing channel during the batch"));
                }
                return null;
            });
        } catch (RuntimeException e) {
            // the exchange may have been deleted or the broker restarted: declare again next time
            declared.remove(exchange);
            throw e;
        }
        return batch.size();
    }

    private static Channel physical(Channel channel) {
        return channel instanceof ChannelProxy proxy ? proxy.getTargetChannel() : channel;
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
            channel.exchangeDeclare(exchange, "topic", true, false, Map.of("alternate-exchange", unroutedExchange));
            return null;
        });
        declared.add(exchange);
        LOG.info("Declared exchange {} (topic, alternate exchange {})", exchange, unroutedExchange);
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
