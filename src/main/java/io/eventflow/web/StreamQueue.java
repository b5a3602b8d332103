package io.eventflow.web;

import java.util.Map;

import com.rabbitmq.client.Channel;
import io.eventflow.ChangePublisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.amqp.rabbit.connection.ConnectionListener;

/**
 * The queue the stream route consumes: one per EventFlow instance, bound to the stream's exchange,
 * to which the publisher sends a copy of every event (not to the change exchange: the demo's queue
 * would take every event there, and none would ever be unroutable).
 * It goes when the instance goes: deleted when EventFlow stops, and expiring (x-expires) once no
 * consumer has used it for a while should EventFlow die without stopping. It is not auto-deleted,
 * so a restart of the stream route (a live reload of its route file restarts it) finds it still there.
 * Not durable: a broker restart loses it, and it is declared again on every new broker connection,
 * so the stream comes back by itself (spring-rabbitmq's consumer would otherwise log "Queue not
 * present" forever).
 */
public class StreamQueue implements ConnectionListener {

    private static final Logger LOG = LoggerFactory.getLogger(StreamQueue.class);

    private final String exchange;
    private final String queue;
    private final String bindingKey;
    private final Map<String, Object> arguments;

    public StreamQueue(String exchange, String queue, String bindingKey, long expiresMs, int maxLength) {
        this.exchange = exchange;
        this.queue = queue;
        this.bindingKey = bindingKey;
        // bounded: a stalled stream drops its oldest events, never fills the broker
        this.arguments = Map.of("x-expires", expiresMs, "x-max-length", maxLength, "x-overflow", "drop-head");
    }

    /** Declares on the current connection (when there is one) and on every later one. */
    public void register(CachingConnectionFactory factory) {
        factory.addConnectionListener(this);
        try {
            factory.createConnection().close();
        } catch (RuntimeException e) {
            LOG.warn("RabbitMQ not reachable at start-up: the stream queue {} is declared when it is ({})", queue, e.getMessage());
        }
    }

    @Override
    public void onCreate(Connection connection) {
        try (Channel channel = connection.createChannel(false)) {
            ChangePublisher.declareTapExchange(channel, exchange);
            channel.queueDeclare(queue, false, false, false, arguments);
            channel.queueBind(queue, exchange, bindingKey);
            LOG.info("Declared stream queue {} bound to {} with {}", queue, exchange, bindingKey);
        } catch (Exception e) {
            LOG.warn("Could not declare the stream queue {}: {}", queue, e.getMessage());
        }
    }

    /** Deletes the queue (EventFlow stops); a broker that cannot be reached leaves it to x-expires. */
    public void delete(CachingConnectionFactory factory) {
        factory.removeConnectionListener(this);
        try (Connection connection = factory.createConnection(); Channel channel = connection.createChannel(false)) {
            channel.queueDelete(queue);
            LOG.info("Deleted stream queue {}", queue);
        } catch (Exception e) {
            LOG.info("Stream queue {} not deleted ({}): it expires on the broker", queue, e.getMessage());
        }
    }
}
