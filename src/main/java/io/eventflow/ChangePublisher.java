package io.eventflow;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.NavigableSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.TimeoutException;

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
 * Publishes batches of change events to a RabbitMQ exchange, in the order they were staged, with
 * one wait for the broker's confirms per batch, so the route advances its read position only after
 * RabbitMQ has taken every event. The capture route sends a batch ({@link #send}), reads and sends
 * the next one while the broker confirms it, and then waits for the confirms of the first
 * ({@link #awaitConfirmed}): at most two batches in flight, on a channel of the publisher's own.
 * {@link #publish} sends and waits at once, on a channel of the pool (for a second exchange, say).
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
    /**
     * A batch sent: how many events, the channel they went on (a number that grows with each new
     * channel) and the publish sequence number of the last event sent on it by then.
     */
    public record Sent(int events, long channel, long lastSeq) {
    }

    /** The channel batches are sent on (Spring's proxy, and the channel itself), and what it has not confirmed. */
    private Channel sendingProxy;
    private Channel sending;
    private final Object confirms = new Object();
    private final NavigableSet<Long> unconfirmed = new ConcurrentSkipListSet<>();
    private volatile String refused;
    private long lastSeq = -1;
    private long channelNumber;

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
        byte[] event = json.writeValueAsBytes(change.get("event"));
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
     * Sends the batch in order on the publisher's own channel, without waiting for the broker: the
     * route reads and sends the next batch meanwhile, then waits with {@link #awaitConfirmed}.
     *
     * @return how many events were sent, and the sequence number to wait for
     * @throws IOException when the broker is unreachable or the channel closed; nothing is then taken
     *         as published
     */
    public synchronized Sent send(List<Outgoing> batch, String exchange) throws IOException {
        if (batch == null || batch.isEmpty()) {
            return new Sent(0, channelNumber, lastSeq);
        }
        declare(exchange);
        try {
            Channel channel = sendingChannel();
            for (Outgoing out : batch) {
                long seq = channel.getNextPublishSeqNo();
                unconfirmed.add(seq);
                channel.basicPublish(exchange, out.routingKey(), false, out.properties(), out.body());
                lastSeq = seq;
            }
        } catch (IOException | RuntimeException e) {
            discardSendingChannel();
            declared.remove(exchange);
            throw e;
        }
        return new Sent(batch.size(), channelNumber, lastSeq);
    }

    /**
     * Waits until RabbitMQ has confirmed every event sent up to this batch's last one (those sent
     * after it may still be on their way).
     *
     * @throws IOException when the broker nacked an event or the channel closed, TimeoutException when
     *         it did not confirm in time: the batch is then not published, and is read and sent again
     */
    public void awaitConfirmed(Sent sent) throws IOException, InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + confirmTimeoutMs * 1_000_000L;
        Exception failure = null;
        synchronized (confirms) {
            if (sent.lastSeq() >= 0 && sent.channel() != channelNumber) {
                failure = new IOException("the channel the batch was sent on closed before RabbitMQ confirmed it");
            }
            while (failure == null && !unconfirmed.isEmpty() && unconfirmed.first() <= sent.lastSeq()) {
                Channel channel = sending;
                long left = deadline - System.nanoTime();
                if (refused != null) {
                    failure = new IOException("RabbitMQ refused an event of the batch (" + refused + ")");
                } else if (channel == null || !channel.isOpen()) {
                    failure = new IOException("the channel closed before RabbitMQ confirmed the batch: "
                            + (channel == null || channel.getCloseReason() == null ? "closed" : rootMessage(channel.getCloseReason())));
                } else if (left <= 0) {
                    failure = new TimeoutException("RabbitMQ did not confirm the batch within " + confirmTimeoutMs + " ms");
                } else {
                    confirms.wait(left / 1_000_000L + 1);
                }
            }
        }
        if (failure != null) {
            // not while holding the confirms' lock: closing the channel waits on the connection's
            // thread, which may be about to report a confirm
            failed();
            if (failure instanceof TimeoutException timeout) {
                throw timeout;
            }
            throw (IOException) failure;
        }
    }

    private synchronized void failed() {
        discardSendingChannel();
    }

    private void confirmed(long seq, boolean multiple) {
        synchronized (confirms) {
            if (multiple) {
                unconfirmed.headSet(seq, true).clear();
            } else {
                unconfirmed.remove(seq);
            }
            confirms.notifyAll();
        }
    }

    private void refused(long seq, boolean multiple) {
        synchronized (confirms) {
            refused = "nack for publish " + seq;
            confirms.notifyAll();
        }
    }

    /**
     * The channel batches are sent on, held from one batch to the next (a channel of the pool would go
     * back to it between the send and the wait for the confirms). The channel itself, not Spring's
     * proxy of it: the proxy replaces a channel the broker closed by a new one without a word.
     */
    private Channel sendingChannel() throws IOException {
        if (sending != null && sending.isOpen()) {
            return sending;
        }
        if (!unconfirmed.isEmpty()) {
            // a batch sent on the closed channel may be lost in part: sending the next one on a new
            // channel would put its changes ahead of those. The drain starts again from the read
            // position instead, and sends both again, in order.
            discardSendingChannel();
            throw new IOException("the channel closed before RabbitMQ confirmed the batch in flight");
        }
        discardSendingChannel();
        sendingProxy = template.getConnectionFactory().createConnection().createChannel(false);
        Channel channel = sendingProxy instanceof ChannelProxy p ? p.getTargetChannel() : sendingProxy;
        channel.addConfirmListener(this::confirmed, this::refused);
        channel.addShutdownListener(cause -> {
            synchronized (confirms) {
                confirms.notifyAll();
            }
        });
        sending = channel;
        channelNumber++;
        return sending;
    }

    /** Closes the sending channel (its unconfirmed sends with it), so that the next send opens a new one. */
    private void discardSendingChannel() {
        try {
            if (sending != null && sending.isOpen()) {
                sending.close();
            }
            if (sendingProxy != null) {
                // its channel closed: Spring's cache drops it rather than lend it again
                sendingProxy.close();
            }
        } catch (IOException | TimeoutException | RuntimeException e) {
            LOG.debug("Closing the sending channel: {}", rootMessage(e));
        }
        sending = null;
        sendingProxy = null;
        // a new channel numbers its publishes from 1 again
        synchronized (confirms) {
            unconfirmed.clear();
            refused = null;
            lastSeq = -1;
        }
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
