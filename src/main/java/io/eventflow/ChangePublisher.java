package io.eventflow;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeoutException;

import org.apache.camel.Body;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.Header;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConfirmListener;
import org.springframework.amqp.AmqpTimeoutException;
import org.springframework.amqp.rabbit.connection.ChannelProxy;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes a batch of change events to a RabbitMQ exchange on one channel and waits once for the
 * broker's confirms of the whole batch, so the route finishes the batch only after RabbitMQ has
 * taken every event, and events leave in the order they were staged. When the broker refuses part
 * of a batch (a full queue that rejects publishes, say), the batch fails, naming what was refused,
 * and the next attempt at the same batch sends only what the broker has not confirmed yet: the
 * other queues do not get the rest of the batch again on every retry.
 */
public class ChangePublisher {

    private static final Logger LOG = LoggerFactory.getLogger(ChangePublisher.class);

    /** One event ready to leave: its change id, where it goes and the AMQP message. */
    public record Outgoing(String changeId, String routingKey, AMQP.BasicProperties properties, byte[] body) {
    }

    /** The broker refused (nacked) some events of a batch; they are sent again, and only they. */
    public static class RefusedException extends RuntimeException {

        private static final long serialVersionUID = 1L;

        RefusedException(String message) {
            super(message);
        }
    }

    private final RabbitTemplate template;
    private final ObjectMapper json;
    private final String unroutedExchange;
    private volatile String tapExchange;
    private final long confirmTimeoutMs;
    private final Set<String> declared = ConcurrentHashMap.newKeySet();
    /** The batch last attempted (its first and last change ids) and which of its events the broker confirmed. */
    private String attempted;
    private final Set<String> confirmed = ConcurrentHashMap.newKeySet();

    public ChangePublisher(RabbitTemplate template, ObjectMapper json, String unroutedExchange, long confirmTimeoutMs) {
        this.template = template;
        this.json = json;
        this.unroutedExchange = unroutedExchange;
        this.confirmTimeoutMs = confirmTimeoutMs;
    }

    /**
     * Sends a copy of every event to this exchange too (the web demo's stream), so that the demo's
     * queue is not one of the change exchange's: an event no service queue is bound for still goes
     * to the alternate exchange.
     */
    public void tapTo(String exchange) {
        this.tapExchange = exchange;
    }

    /** A new, empty batch; the route keeps it in an exchange property while it splits the changes. */
    public List<Outgoing> newBatch() {
        return new ArrayList<>();
    }

    /**
     * Adds one change, as the capture route read it, to the batch: its event, as JSON, becomes the
     * body; the change id the AMQP message_id; the change key {@code <schema>.<table>.<op>} the type.
     */
    public void stage(@ExchangeProperty("outgoing") List<Outgoing> batch, @Body Map<String, Object> change,
            @Header("routingKey") String routingKey) throws JsonProcessingException {
        Object envelope = change.get("event");
        byte[] event = envelope instanceof RawEvent raw ? raw.json() : json.writeValueAsBytes(envelope);
        // the change id; <txid>.begin and <txid>.end for a transaction's BEGIN and END
        String changeId = String.valueOf(change.getOrDefault("message_id", change.get("change_id")));
        // a primary-key change's d and c name the other key (__debezium.newkey, __debezium.oldkey), as Debezium does
        Map<String, Object> headers = null;
        if (change.get("headers") instanceof String text) {
            headers = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> header : json.readTree(text).properties()) {
                headers.put(header.getKey(), header.getValue().toString());
            }
        }
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .headers(headers)
                .messageId(changeId)
                .contentType("application/json")
                .contentEncoding(StandardCharsets.UTF_8.name())
                .deliveryMode(2)
                .timestamp(new Date())
                // <schema>.<table>.<op>, as next_batch gives it
                .type((String) change.get("change"))
                .appId("eventflow")
                .build();
        batch.add(new Outgoing(changeId, routingKey, props, event));
    }

    /**
     * Sends the batch in order on one channel and waits for the broker to confirm all of it. Events
     * of the same batch that the broker confirmed at an earlier attempt are not sent again.
     *
     * @return how many events the batch published
     * @throws RefusedException when the broker refused (nacked) some of it
     * @throws org.springframework.amqp.AmqpException when the broker is unreachable or does not
     *         confirm in time
     */
    public synchronized int publish(List<Outgoing> batch, String exchange) {
        if (batch == null || batch.isEmpty()) {
            return 0;
        }
        String key = batch.get(0).changeId() + ".." + batch.get(batch.size() - 1).changeId() + "/" + batch.size();
        if (!key.equals(attempted)) {
            attempted = key;
            confirmed.clear();
        }
        List<Outgoing> unsent = batch.stream().filter(out -> !confirmed.contains(out.changeId())).toList();
        declare(exchange);
        List<Outgoing> refused;
        try {
            refused = template.execute(proxy -> send(proxy instanceof ChannelProxy p ? p.getTargetChannel() : proxy, exchange, unsent));
        } catch (RuntimeException e) {
            // the exchange may have been deleted or the broker restarted: declare again next time
            declared.remove(exchange);
            throw e;
        }
        if (!refused.isEmpty()) {
            Set<String> keys = new TreeSet<>();
            refused.forEach(out -> keys.add(out.routingKey()));
            throw new RefusedException("RabbitMQ refused " + refused.size() + " of " + batch.size() + " events (routing keys "
                    + String.join(", ", keys) + "); only those are sent again");
        }
        attempted = null;
        confirmed.clear();
        return batch.size();
    }

    /**
     * Publishes on the channel itself, not on Spring's proxy of it: the proxy replaces a channel the
     * broker closed by a new one without a word, and the rest of the batch would go out on that one,
     * outside the confirms waited for. A closed channel fails the batch, which is sent again.
     *
     * @return the events the broker refused
     */
    private List<Outgoing> send(Channel channel, String exchange, List<Outgoing> events) throws Exception {
        NavigableMap<Long, Outgoing> unconfirmed = new ConcurrentSkipListMap<>();
        List<Outgoing> refused = Collections.synchronizedList(new ArrayList<>());
        ConfirmListener listener = new ConfirmListener() {
            @Override
            public void handleAck(long tag, boolean multiple) {
                settle(unconfirmed, tag, multiple).forEach(out -> confirmed.add(out.changeId()));
            }

            @Override
            public void handleNack(long tag, boolean multiple) {
                refused.addAll(settle(unconfirmed, tag, multiple));
            }
        };
        channel.addConfirmListener(listener);
        try {
            for (Outgoing out : events) {
                unconfirmed.put(channel.getNextPublishSeqNo(), out);
                channel.basicPublish(exchange, out.routingKey(), false, out.properties(), out.body());
                if (tapExchange != null) {
                    // the demo's copy: confirmed with the batch, but its refusal refuses nothing
                    channel.basicPublish(tapExchange, out.routingKey(), false, out.properties(), out.body());
                }
            }
            channel.waitForConfirms(confirmTimeoutMs);
        } catch (TimeoutException e) {
            throw new AmqpTimeoutException("RabbitMQ did not confirm " + unconfirmed.size() + " of " + events.size()
                    + " events within " + confirmTimeoutMs + " ms", e);
        } finally {
            channel.removeConfirmListener(listener);
        }
        refused.sort(Comparator.comparingInt(events::indexOf));
        return refused;
    }

    /** The events an ack or nack settles: the one with that tag, or every one up to it. */
    private static List<Outgoing> settle(NavigableMap<Long, Outgoing> unconfirmed, long tag, boolean multiple) {
        Map<Long, Outgoing> settled = multiple ? unconfirmed.headMap(tag, true) : unconfirmed.subMap(tag, true, tag, true);
        List<Outgoing> events = new ArrayList<>(settled.values());
        settled.clear();
        return events;
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
            if (tapExchange != null) {
                declareTapExchange(channel, tapExchange);
            }
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

    /** Declares the exchange the web demo's stream takes its copy of the events from: topic, not durable. */
    public static void declareTapExchange(Channel channel, String tapExchange) throws IOException {
        channel.exchangeDeclare(tapExchange, "topic", false);
    }

    /** Declares at start-up when the broker is there; when it is not, publishing declares later. */
    public void declareQuietly(String exchange) {
        try {
            declare(exchange);
        } catch (RuntimeException e) {
            LOG.warn("RabbitMQ not reachable at start-up ({}); changes stay in the change log until it is", rootMessage(e));
        }
    }

    /** The deepest message of a chain of causes (the one that says why), or the root's type when none has one. */
    static String rootMessage(Throwable e) {
        Throwable root = e;
        String message = e.getMessage();
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
            if (root.getMessage() != null) {
                message = root.getMessage();
            }
        }
        return message == null ? root.getClass().getSimpleName() : message;
    }
}
