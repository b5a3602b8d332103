package io.eventflow.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;

/**
 * A service team's consumer: a queue of its own bound to the change exchange, recording every
 * delivery (acknowledged after it is recorded, so a dropped connection redelivers rather than loses).
 */
public final class EventConsumer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One delivery as the consumer saw it. */
    public record Received(String routingKey, AMQP.BasicProperties properties, String body, long receivedAtMillis, boolean redelivered) {
        public JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new IllegalStateException("event body is not JSON: " + body, e);
            }
        }

        public String messageId() {
            return properties.getMessageId();
        }
    }

    private final Connection connection;
    private final Channel channel;
    private final String queue;
    private final List<Received> received = new ArrayList<>();

    public EventConsumer(String exchange, String unroutedExchange, String queue, String... bindingKeys) throws IOException, TimeoutException {
        this.connection = TestServices.rabbitFactory().newConnection("itest-consumer");
        this.channel = connection.createChannel();
        this.queue = queue;
        // declared exactly as EventFlow declares them, so it does not matter who comes first
        channel.exchangeDeclare(unroutedExchange, "fanout", true);
        channel.queueDeclare(unroutedExchange, true, false, false, null);
        channel.queueBind(unroutedExchange, unroutedExchange, "");
        channel.exchangeDeclare(exchange, "topic", true, false, Map.of("alternate-exchange", unroutedExchange));
        channel.queueDeclare(queue, true, false, false, null);
        for (String key : bindingKeys) {
            channel.queueBind(queue, exchange, key);
        }
        channel.basicQos(2000);
        channel.basicConsume(queue, false, new DefaultConsumer(channel) {
            @Override
            public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) throws IOException {
                synchronized (received) {
                    received.add(new Received(envelope.getRoutingKey(), props, new String(body, StandardCharsets.UTF_8),
                            System.currentTimeMillis(), envelope.isRedeliver()));
                }
                getChannel().basicAck(envelope.getDeliveryTag(), false);
            }
        });
    }

    public List<Received> received() {
        synchronized (received) {
            return new ArrayList<>(received);
        }
    }

    public int count() {
        synchronized (received) {
            return received.size();
        }
    }

    public long distinctCount() {
        return received().stream().map(Received::messageId).distinct().count();
    }

    public void clear() {
        synchronized (received) {
            received.clear();
        }
    }

    /** Deletes the consumer's queue. */
    @Override
    public void close() throws IOException, TimeoutException {
        try {
            channel.queueDelete(queue);
        } finally {
            connection.close();
        }
    }
}
