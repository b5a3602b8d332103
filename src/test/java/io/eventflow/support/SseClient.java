package io.eventflow.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A browser's EventSource, in Java: reads GET /events and records every event (name, id, data)
 * with the time it arrived, and every comment line (heartbeats).
 */
public final class SseClient implements AutoCloseable {

    /** One event as received. */
    public record Event(String name, String id, String data, long receivedNanos) {
    }

    private final List<Event> events = new ArrayList<>();
    private final List<String> comments = new ArrayList<>();
    /** Kept referenced for as long as the stream is read, so that the JDK does not reclaim the client under it. */
    private final HttpClient client;
    private final HttpResponse<InputStream> response;
    private final Thread reader;
    private volatile boolean ended;

    public SseClient(String url, String lastEventId) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).header("Accept", "text/event-stream");
        if (lastEventId != null) {
            request.header("Last-Event-ID", lastEventId);
        }
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        response = client.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        reader = new Thread(this::read, "sse-client");
        reader.setDaemon(true);
        reader.start();
    }

    public SseClient(String url) throws IOException, InterruptedException {
        this(url, null);
    }

    private void read() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String name = "message";
            String id = null;
            StringBuilder data = null;
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isEmpty()) {
                    if (data != null) {
                        synchronized (events) {
                            events.add(new Event(name, id, data.toString(), System.nanoTime()));
                        }
                    }
                    name = "message";
                    id = null;
                    data = null;
                } else if (line.startsWith(":")) {
                    synchronized (comments) {
                        comments.add(line.substring(1).strip());
                    }
                } else if (line.startsWith("event:")) {
                    name = line.substring(6).strip();
                } else if (line.startsWith("id:")) {
                    id = line.substring(3).strip();
                } else if (line.startsWith("data:")) {
                    String value = line.substring(5);
                    value = value.startsWith(" ") ? value.substring(1) : value;
                    data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
                }
            }
        } catch (IOException e) {
            // closed
        } finally {
            ended = true;
        }
    }

    public HttpResponse<InputStream> response() {
        return response;
    }

    public List<Event> events() {
        synchronized (events) {
            return new ArrayList<>(events);
        }
    }

    public List<Event> events(String name) {
        return events().stream().filter(e -> e.name().equals(name)).toList();
    }

    public Event find(String name, Predicate<Event> match) {
        return events(name).stream().filter(match).findFirst().orElse(null);
    }

    /** The first change card of a table row, of any operation; null while there is none. */
    public Event change(long rowId) {
        return find("change", e -> e.data().contains("data-row-id=\"" + rowId + "\""));
    }

    /** The first change card of a table row with that operation (c, u, d, r); null while there is none. */
    public Event change(long rowId, String op) {
        return find("change", e -> e.data().contains("data-op=\"" + op + "\"") && e.data().contains("data-row-id=\"" + rowId + "\""));
    }

    public List<String> comments() {
        synchronized (comments) {
            return new ArrayList<>(comments);
        }
    }

    /** True once the server closed the stream. */
    public boolean ended() {
        return ended;
    }

    @Override
    public void close() throws IOException {
        response.body().close();
    }
}
