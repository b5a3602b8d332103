package io.eventflow;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import com.rabbitmq.client.Channel;
import io.eventflow.support.EventConsumer;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.SseClient;
import io.eventflow.support.TestServices;
import org.apache.camel.support.RouteWatcherReloadStrategy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An operator edits the capture route of a running EventFlow: the new routing key and filter take
 * effect without a restart, and every change committed before, during and after the reload is
 * published exactly once.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReloadIT extends EventFlowTestSupport {

    private Path routes;
    private Path demo;
    private final String audit = TestServices.uniqueName("eventflow.test.audit");

    @Override
    protected Map<String, String> properties() {
        try {
            // a copy of the real routes/, so the test can edit it
            routes = Files.createTempDirectory(Paths.get("target"), "reload-routes-").toAbsolutePath();
            try (Stream<Path> files = Files.list(Paths.get("routes"))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".camel.yaml")).toList()) {
                    Files.copy(f, routes.resolve(f.getFileName()));
                }
            }
            // and of the web demo's directory, whose routes reload too
            demo = Files.createTempDirectory(Paths.get("target"), "reload-demo-").toAbsolutePath();
            try (Stream<Path> files = Files.walk(Paths.get("demo"))) {
                for (Path f : files.toList()) {
                    Path copy = demo.resolve(Paths.get("demo").relativize(f).toString());
                    if (Files.isDirectory(f)) {
                        Files.createDirectories(copy);
                    } else {
                        Files.copy(f, copy);
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return Map.of(
                "camel.main.routes-include-pattern", "file:" + routes + "/*.camel.yaml",
                "camel.main.routes-reload-enabled", "true",
                "camel.main.routes-reload-directory", routes.toString(),
                "eventflow.demo.directory", demo.toString());
    }

    @AfterAll
    void removeRouteCopyAndAuditExchange() throws Exception {
        stopApp();
        try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); Channel ch = c.createChannel()) {
            ch.exchangeDelete(audit);
        }
        for (Path copy : List.of(routes, demo)) {
            try (Stream<Path> files = Files.walk(copy)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
    }

    /** Replaces one exact piece of the route file, failing when the piece is not there. */
    private void editCaptureRoute(List<String> from, List<String> to) throws IOException {
        Path file = routes.resolve("capture.camel.yaml");
        String yaml = Files.readString(file);
        for (int i = 0; i < from.size(); i++) {
            assertTrue(yaml.contains(from.get(i)), "capture.camel.yaml has " + from.get(i));
            yaml = yaml.replace(from.get(i), to.get(i));
        }
        replaceAtomically(file, yaml);
    }

    /** Saves a route file in one step, as editors do: the watcher never sees it half written. */
    private void replaceAtomically(Path file, String content) throws IOException {
        Path edited = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(edited, content);
        Files.move(edited, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    @BeforeEach
    void clear() {
        consumer.clear();
    }

    @Test
    @Order(2)
    void aStepAddedLiveSendsUsersChangesToASecondExchangeToo() throws Exception {
        try (EventConsumer auditConsumer = new EventConsumer(audit, unroutedExchange, TestServices.uniqueName("eventflow.test.audit"), "#")) {
            // the README's example: collect the users changes into a second batch, publish it to a second exchange
            String split = "              - split:\n";
            String stage = "                                steps: [{bean: {ref: changePublisher, method: stage}}]\n";
            String publish = "              - setProperty: {name: published, method: {ref: changePublisher, method: \"publish(";
            editCaptureRoute(List.of(split, stage, publish), List.of(
                    "              - setProperty: {name: audit, method: {ref: changePublisher, method: newBatch}}\n" + split,
                    "                                steps:\n"
                            + "                                  - bean: {ref: changePublisher, method: stage}\n"
                            + "                                  # users changes also go to the audit exchange\n"
                            + "                                  - filter:\n"
                            + "                                      simple: \"${body[table_name]} == 'users'\"\n"
                            + "                                      steps: [{bean: {ref: changePublisher, method: \"stage(${exchangeProperty.audit}, ${body}, ${header.routingKey})\"}}]\n",
                    "              - bean: {ref: changePublisher, method: \"publish(${exchangeProperty.audit}, '" + audit + "')\"}\n" + publish));
            // wait until the reloaded route is the one publishing: a users change reaches the audit exchange
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                insertUser("audit-probe-" + System.nanoTime(), System.nanoTime() + "@probe.example.com");
                return auditConsumer.count() > 0;
            });
            // events leave in commit order: once this marker is in, every probe before it is too
            insertUser("audit-marker", "audit-marker@example.com");
            await().atMost(Duration.ofSeconds(20)).until(() -> auditConsumer.received().stream()
                    .anyMatch(r -> r.json().at("/after/name").asText().equals("audit-marker")));
            consumer.clear();
            auditConsumer.clear();
            sql("CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric)", "SELECT eventflow.enable_capture('public.orders')");
            long user = insertUser("Audited", "audited@example.com");
            sql("INSERT INTO public.orders VALUES (1, 9.99)");

            // the audit batch is published right after the main one: wait for both
            await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() >= 2 && auditConsumer.count() >= 1);
            assertEquals(1, auditConsumer.count(), () -> "only the users change goes to the audit exchange: "
                    + auditConsumer.received().stream().map(r -> r.routingKey() + " " + r.json().at("/after/name")).toList());
            Received audited = auditConsumer.received().get(0);
            assertEquals(user, audited.json().at("/after/id").asLong());
            assertEquals(consumer.received().get(0).messageId(), audited.messageId(), "the same event, with the same message_id");
        }
    }

    @Test
    @Order(3)
    void anEditedStreamRouteKeepsTheBrowserStreamFlowing() throws Exception {
        // the demo's own watcher, on its routes/ folder
        RouteWatcherReloadStrategy reloads = context().hasServices(RouteWatcherReloadStrategy.class).stream()
                .filter(r -> Paths.get(r.getFolder()).toAbsolutePath().startsWith(demo)).findFirst().orElseThrow();
        long reloaded = reloads.getReloadCounter();
        long failed = reloads.getFailedCounter();
        Path file = demo.resolve("routes/stream.camel.yaml");
        String yaml = Files.readString(file);
        String from = "could not show an event";
        assertTrue(yaml.contains(from), "stream.camel.yaml has " + from);
        replaceAtomically(file, yaml.replace(from, "could not show this event"));
        // the edited file is reloaded, without failing
        await().atMost(Duration.ofSeconds(30)).until(() -> reloads.getReloadCounter() > reloaded);
        assertEquals(failed, reloads.getFailedCounter(), "reload failures");
        assertTrue(context().getRouteController().getRouteStatus("stream-changes").isStarted());
        try (SseClient browser = new SseClient(url("/events"))) {
            long id = insertUser("After stream reload", "after-stream-reload@example.com");
            await().atMost(Duration.ofSeconds(30)).until(() -> browser.find("change", e -> e.data().contains("After stream reload")) != null);
            assertTrue(id > 0);
        }
    }

    @Test
    @Order(1)
    void editedRoutingKeyAndFilterTakeEffectLiveWithoutLosingOrRepeatingChanges() throws Exception {
        AtomicBoolean writing = new AtomicBoolean(true);
        List<Long> written = new ArrayList<>();
        Thread writer = new Thread(() -> {
            try (Connection c = db();
                    PreparedStatement insert = c.prepareStatement("INSERT INTO eventflow_demo.users (name, email) VALUES (?, ?) RETURNING id")) {
                for (int i = 0; writing.get(); i++) {
                    insert.setString(1, "reload-" + i);
                    insert.setString(2, "reload-" + i + "@example.com");
                    try (ResultSet rs = insert.executeQuery()) {
                        rs.next();
                        synchronized (written) {
                            written.add(rs.getLong(1));
                        }
                    }
                    // a steady trickle, about 200 changes/s, so changes commit while the route reloads
                    LockSupport.parkNanos(5_000_000);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, "reload-writer");
        writer.start();
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() >= 50);
            assertTrue(consumer.received().stream().allMatch(r -> r.routingKey().equals("eventflow_demo.users.c")));

            // the operator's edit: a new routing key, deletes of users are no longer published, nor
            // the rows named 'hidden' (a test on the row itself, read into the event)
            editCaptureRoute(List.of(
                    "simple: \"${header.change}\"",
                    "not regex '{{eventflow.filter.exclude}}'"), List.of(
                    "simple: \"cdc.${header.change}\"",
                    "not regex '{{eventflow.filter.exclude}}' && ${body[op]} != 'd' && ${body[event][after][name]} != 'hidden'"));
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> consumer.received().stream().anyMatch(r -> r.routingKey().startsWith("cdc.")));

            // the writer keeps going for a while after the reload
            int seen = consumer.count();
            await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() >= seen + 100);
        } finally {
            writing.set(false);
            writer.join(10_000);
        }

        List<Long> ids;
        synchronized (written) {
            ids = List.copyOf(written);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> consumer.distinctCount() >= ids.size());
        List<Received> events = consumer.received();
        Map<Long, Integer> perRow = new HashMap<>();
        for (Received r : events) {
            perRow.merge(r.json().at("/after/id").asLong(), 1, Integer::sum);
        }
        for (long id : ids) {
            assertEquals(1, perRow.getOrDefault(id, 0), "row " + id + " published exactly once");
        }
        assertEquals(ids.size(), events.size(), "no change published twice across the reload");

        // once reloaded, every event has the new routing key: the old route is gone for good
        int firstNew = 0;
        while (!events.get(firstNew).routingKey().startsWith("cdc.")) {
            firstNew++;
        }
        for (Received r : events.subList(firstNew, events.size())) {
            assertEquals("cdc.eventflow_demo.users.c", r.routingKey());
        }
        assertTrue(firstNew > 0, "events before the edit had the old routing key");

        // Camel clears its metrics registry on reload: EventFlow's figures are back in it
        await().atMost(Duration.ofSeconds(10)).until(() -> get("/observe/metrics").body().contains("eventflow_published_total"));

        // and the edited filter: deletes of users are no longer published, nor a row named 'hidden';
        // updates and other rows still are
        consumer.clear();
        sql("DELETE FROM eventflow_demo.users WHERE id = " + ids.get(0),
                "UPDATE eventflow_demo.users SET name = 'renamed' WHERE id = " + ids.get(1),
                "INSERT INTO eventflow_demo.users (name, email) VALUES ('hidden', 'hidden@example.com')",
                "UPDATE eventflow_demo.users SET name = 'shown' WHERE id = " + ids.get(2));
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() >= 2);
        // events leave in commit order: had the delete or the hidden row been published, they would be here
        assertEquals(List.of("cdc.eventflow_demo.users.u renamed", "cdc.eventflow_demo.users.u shown"), consumer.received().stream()
                .map(r -> r.routingKey() + " " + r.json().at("/after/name").asText()).toList());
    }
}
