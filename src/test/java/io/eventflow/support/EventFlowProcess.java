package io.eventflow.support;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.rabbitmq.client.Channel;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * EventFlow started as users start it, {@code bin/eventflow} (its own process, its JVM flags), on a
 * test's database and exchanges, with its output in a log file under target/.
 */
public final class EventFlowProcess implements AutoCloseable {

    /**
     * A database, a change exchange and an unrouted exchange of a test's own, a log file, and the
     * HTTP port EventFlow runs on, the same at every start (as a service restarted on its machine).
     */
    public record Scratch(String database, String exchange, String unrouted, Path log, int port) {

        public static Scratch create(String logName) throws Exception {
            Path log = Path.of("target", logName);
            Files.deleteIfExists(log);
            Scratch scratch = new Scratch(TestServices.uniqueName("eventflow_it"), TestServices.uniqueName("eventflow.test.changes"),
                    TestServices.uniqueName("eventflow.test.unrouted"), log, TestServices.freePort());
            TestServices.createDatabase(scratch.database());
            return scratch;
        }

        /** Starts EventFlow on these; extra JVM options (-D settings too) win over the scratch's settings. */
        public EventFlowProcess start(String... javaOpts) throws Exception {
            return EventFlowProcess.start(database, exchange, unrouted, log, port, javaOpts);
        }

        /** Leaves PostgreSQL and RabbitMQ as they were. */
        public void remove() throws Exception {
            try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); Channel ch = c.createChannel()) {
                ch.exchangeDelete(exchange);
                ch.queueDelete(unrouted);
                ch.exchangeDelete(unrouted);
            }
            TestServices.dropDatabase(database);
        }
    }

    private final Process process;
    private final Path log;

    private EventFlowProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts EventFlow and waits until its readiness is UP; extra JVM options (-D settings too) come last and win. */
    public static EventFlowProcess start(String database, String exchange, String unrouted, Path log, int port, String... javaOpts)
            throws Exception {
        List<String> opts = new ArrayList<>();
        TestServices.eventflowSettings(database, exchange, unrouted, port).forEach((key, value) -> opts.add("-D" + key + "=" + value));
        opts.add("-Deventflow.stream.enabled=false");
        // last: a test's own options win over the settings above
        opts.addAll(List.of(javaOpts));
        ProcessBuilder builder = new ProcessBuilder(List.of("sh", "bin/eventflow"))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().put("JAVA_OPTS", String.join(" ", opts));
        EventFlowProcess eventflow = new EventFlowProcess(builder.start(), log);
        eventflow.awaitReady(port);
        return eventflow;
    }

    private void awaitReady(int port) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/health/ready"))
                .timeout(Duration.ofSeconds(2)).build();
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertTrue(process.isAlive(), "EventFlow exited at start: " + tail());
            try {
                return http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
            } catch (IOException e) {
                return false;
            }
        });
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL: no shutdown hook, no graceful stop, whatever it was doing is cut where it was. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** Its whole log. */
    public String log() throws IOException {
        return Files.readString(log);
    }

    /** The last lines of its log, for failure messages. */
    public String tail() throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
