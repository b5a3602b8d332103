package io.eventflow.web;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Server-Sent-Events endpoint: every connected browser gets every event the stream route
 * broadcasts. A plain Vert.x handler on Camel's own router, because Camel's response path cannot
 * stream in 4.17: an InputStream body is read through a 16 KiB buffer and the client's close is never seen.
 *
 * <p>Writes never block the caller: each client's writes run on its own event loop, and a client
 * whose write queue is full (it reads slower than events come) is disconnected rather than allowed
 * to grow memory or hold anyone up; its browser reconnects with {@code Last-Event-ID} and gets what
 * it missed from a short replay buffer, under the same bound (a long replay is sent over several
 * connections). A client that goes away is dropped at once.
 */
public class SseHub {

    private static final Logger LOG = LoggerFactory.getLogger(SseHub.class);

    /** One framed event, kept for replay. */
    private record Frame(String id, Buffer data) {
    }

    private final class Client {
        final HttpServerResponse response;
        final Context context;
        volatile boolean closed;

        Client(HttpServerResponse response, Context context) {
            this.response = response;
            this.context = context;
        }

        void send(Buffer data) {
            context.runOnContext(v -> {
                if (closed) {
                    return;
                }
                if (response.writeQueueFull()) {
                    slowClientsDropped.incrementAndGet();
                    LOG.info("SSE client too slow (over {} bytes unsent): disconnected, it reconnects and replays", writeQueueBytes);
                    drop(this);
                    response.close();
                    return;
                }
                response.write(data);
            });
        }
    }

    private final Set<Client> clients = ConcurrentHashMap.newKeySet();
    private final ArrayDeque<Frame> replay = new ArrayDeque<>();
    private final int replaySize;
    private final int writeQueueBytes;
    private final long retryMs;
    private final AtomicLong eventsSent = new AtomicLong();
    private final AtomicLong slowClientsDropped = new AtomicLong();
    private final long replayWindowNanos;
    private volatile long lastLeftNanos = System.nanoTime() - Long.MAX_VALUE / 2;

    /**
     * @param replaySize      events kept for clients that reconnect with Last-Event-ID
     * @param writeQueueBytes unsent bytes after which a client counts as too slow and is disconnected
     * @param retryMs         the reconnect delay the browsers are told
     * @param replayWindowMs  how long after the last client left events are still kept for a reconnect
     */
    public SseHub(int replaySize, int writeQueueBytes, long retryMs, long replayWindowMs) {
        this.replaySize = replaySize;
        this.writeQueueBytes = writeQueueBytes;
        this.retryMs = retryMs;
        this.replayWindowNanos = replayWindowMs * 1_000_000L;
    }

    /** Serves GET {@code path} as the event stream on the given router. */
    public void attach(Router router, String path) {
        router.route(HttpMethod.GET, path).handler(this::connect);
        LOG.info("Serving the change stream (text/event-stream) at {}", path);
    }

    private void connect(RoutingContext ctx) {
        HttpServerResponse response = ctx.response();
        response.setChunked(true)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader("Cache-Control", "no-cache")
                .putHeader("X-Accel-Buffering", "no")
                .setWriteQueueMaxSize(writeQueueBytes);
        Client client = new Client(response, ctx.vertx().getOrCreateContext());
        response.closeHandler(v -> drop(client));
        response.exceptionHandler(e -> drop(client));
        List<Frame> missed;
        synchronized (this) {
            // under the broadcast lock: every event is either replayed here or sent live, never lost between
            missed = missedSince(ctx.request().getHeader("Last-Event-ID"));
            clients.add(client);
        }
        // written now, on this client's event loop, so before any live event (those are queued behind this handler)
        response.write("retry: " + retryMs + "\n: connected\n\n");
        int replayed = 0;
        for (Frame frame : missed) {
            if (response.writeQueueFull()) {
                // the bound live sends have: a replay of large cards would otherwise queue all of them at
                // once. The stream ends here, cleanly, so that what is queued arrives whole; the browser
                // reconnects with the last id it got and the replay goes on from there
                LOG.info("SSE replay over {} bytes unsent: stream ended after {} of {} events, the client reconnects for the rest",
                        writeQueueBytes, replayed, missed.size());
                drop(client);
                response.end();
                return;
            }
            response.write(frame.data());
            replayed++;
        }
        LOG.debug("SSE client connected ({} now), {} events replayed", clients.size(), replayed);
    }

    private void drop(Client client) {
        client.closed = true;
        if (clients.remove(client)) {
            lastLeftNanos = System.nanoTime();
        }
    }

    /**
     * Whether events are worth rendering: a client is connected, or one left within the replay window
     * and may come back with Last-Event-ID. With nobody watching, the stream costs next to nothing.
     */
    public boolean isWatched() {
        return !clients.isEmpty() || System.nanoTime() - lastLeftNanos < replayWindowNanos;
    }

    /** The events after {@code lastEventId} in the replay buffer; none when it is unknown or absent. */
    private List<Frame> missedSince(String lastEventId) {
        List<Frame> missed = new ArrayList<>();
        if (lastEventId == null || lastEventId.isBlank()) {
            return missed;
        }
        boolean found = false;
        for (Frame frame : replay) {
            if (found) {
                missed.add(frame);
            } else if (lastEventId.equals(frame.id())) {
                found = true;
            }
        }
        return missed;
    }

    /**
     * Sends a named event to every connected client.
     *
     * @param event the SSE event name ({@code change}, {@code stats})
     * @param id    the SSE id (the change id), or null for events that are not replayed
     * @param html  the fragment the page swaps in
     */
    public void broadcast(String event, String id, String html) {
        Buffer data = Buffer.buffer(frame(event, id, html), StandardCharsets.UTF_8.name());
        List<Client> receivers;
        synchronized (this) {
            if (id != null && !id.isEmpty()) {
                replay.addLast(new Frame(id, data));
                while (replay.size() > replaySize) {
                    replay.removeFirst();
                }
                eventsSent.incrementAndGet();
            }
            receivers = new ArrayList<>(clients);
        }
        // each send only queues a task on the client's event loop: nothing here waits for a client
        for (Client client : receivers) {
            client.send(data);
        }
    }

    /** A comment line to every client, so proxies do not close a quiet stream. */
    public void heartbeat() {
        Buffer data = Buffer.buffer(": heartbeat\n\n");
        for (Client client : clients) {
            client.send(data);
        }
    }

    /** An SSE frame: {@code event:}, {@code id:}, and one {@code data:} line per line of the payload. */
    static String frame(String event, String id, String payload) {
        StringBuilder out = new StringBuilder(payload.length() + 64);
        out.append("event: ").append(oneLine(event)).append('\n');
        if (id != null && !id.isEmpty()) {
            out.append("id: ").append(oneLine(id)).append('\n');
        }
        Iterator<String> lines = payload.lines().iterator();
        if (!lines.hasNext()) {
            out.append("data: \n");
        }
        while (lines.hasNext()) {
            out.append("data: ").append(lines.next()).append('\n');
        }
        return out.append('\n').toString();
    }

    private static String oneLine(String value) {
        return value.replace('\r', ' ').replace('\n', ' ');
    }

    public int getClients() {
        return clients.size();
    }

    public long getEventsSent() {
        return eventsSent.get();
    }

    public long getSlowClientsDropped() {
        return slowClientsDropped.get();
    }
}
