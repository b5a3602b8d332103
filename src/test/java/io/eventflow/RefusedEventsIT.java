package io.eventflow;

import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import com.rabbitmq.client.Channel;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.SseClient;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What RabbitMQ refuses does not vanish and does not stop the pipeline: an event larger than the
 * broker takes is set aside in eventflow.failed_change and counted, and the changes after it are
 * published; the part of a batch the broker refuses is published again, and only that part, until
 * it is taken, and nothing is lost.
 */
class RefusedEventsIT extends EventFlowTestSupport {

    private static final int MAX_MESSAGE_BYTES = 20_000;
    private int maxMessageBytes = MAX_MESSAGE_BYTES;

    @Override
    protected Map<String, String> properties() {
        return Map.of(
                "eventflow.rabbitmq.max-message-bytes", String.valueOf(maxMessageBytes),
                "eventflow.stats.interval-ms", "300",
                "eventflow.capture.poll-interval-ms", "200",
                "eventflow.capture.retry-delay-ms", "200",
                "eventflow.capture.retry-max-delay-ms", "2000");
    }

    @Test
    void anEventLargerThanTheBrokerTakesIsSetAsideAndTheChangesAfterItArePublished() throws Exception {
        consumer.clear();
        String big = "x".repeat(30_000);
        long bigUser = insertUser(big, "big@example.com");
        // its before is the big row too: set aside as well
        sql("UPDATE eventflow_demo.users SET name = 'small' WHERE id = " + bigUser);
        sql("UPDATE eventflow_demo.users SET name = 'smaller' WHERE id = " + bigUser);
        long after = insertUser("After the big one", "after@example.com");

        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream()
                .anyMatch(r -> r.json().at("/after/id").asLong() == after));
        List<Received> events = consumer.received();
        // the two oversized changes are not published; the ones after them are, in order
        assertEquals(List.of("eventflow_demo.users.u " + bigUser + " smaller", "eventflow_demo.users.c " + after + " After the big one"),
                events.stream().map(r -> r.routingKey() + " " + r.json().at("/after/id").asLong() + " "
                        + r.json().at("/after/name").asText()).toList());
        assertEquals("small", events.get(0).json().at("/before/name").asText());

        try (var c = db(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT schema_name || '.' || table_name || '.' || op AS change, before->>'name' AS before,"
                        + " after->>'name' AS after, event_bytes, reason FROM eventflow.failed_change ORDER BY change_id")) {
            assertTrue(rs.next(), "the oversized insert is in eventflow.failed_change");
            assertEquals("eventflow_demo.users.c", rs.getString("change"));
            assertEquals(big, rs.getString("after"), "the change is kept whole");
            assertTrue(rs.getLong("event_bytes") > MAX_MESSAGE_BYTES);
            assertTrue(rs.getString("reason").contains("eventflow.rabbitmq.max-message-bytes"), rs.getString("reason"));
            assertTrue(rs.next(), "the update whose before is the big row too");
            assertEquals("eventflow_demo.users.u", rs.getString("change"));
            assertEquals(big, rs.getString("before"));
            assertEquals("small", rs.getString("after"));
            assertFalse(rs.next(), "only those two");
        }
        // counted where operators look, and on the demo page's status strip
        await().atMost(Duration.ofSeconds(10)).until(() -> get("/observe/metrics").body().contains("eventflow_failed_total 2.0"));
        try (SseClient page = new SseClient(url("/events"))) {
            await().atMost(Duration.ofSeconds(10)).until(() -> page.find("stats",
                    e -> e.data().contains("<div data-stat=\"failed\"><dt>set aside</dt><dd>2</dd></div>")) != null);
        }

        // the operator raised the broker's limit, and EventFlow's with it, and puts the set-aside insert
        // back: it is published, after everything else, with the change id it was logged with
        stopApp();
        maxMessageBytes = 1_000_000;
        app = startApp();
        long setAside = queryLong("SELECT min(change_id) FROM eventflow.failed_change");
        try (var c = db(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT eventflow.republish_failed(min(change_id)) FROM eventflow.failed_change")) {
            rs.next();
            assertEquals(1, rs.getLong(1), "changes put back");
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 3);
        Received republished = consumer.received().get(2);
        assertEquals("eventflow_demo.users.c " + bigUser, republished.routingKey() + " " + republished.json().at("/after/id").asLong());
        assertEquals(big, republished.json().at("/after/name").asText());
        assertEquals(String.valueOf(setAside), republished.messageId(), "its own change id, not a new one");
        assertEquals(setAside, republished.json().at("/source/changeId").asLong());
        // a consumer that keeps, per row, the change with the highest id ends with the row as it is
        // in the database: the republished insert is older than the update published before it
        Received newest = consumer.received().stream().filter(r -> r.json().at("/after/id").asLong() == bigUser)
                .max(java.util.Comparator.comparingLong(r -> Long.parseLong(r.messageId()))).orElseThrow();
        assertEquals(queryText("SELECT name FROM eventflow_demo.users WHERE id = " + bigUser), newest.json().at("/after/name").asText());
        await().atMost(Duration.ofSeconds(10)).until(() -> get("/observe/metrics").body().contains("eventflow_failed_total 1.0"));
        stopApp();
        maxMessageBytes = MAX_MESSAGE_BYTES;
        app = startApp();
    }

    @Test
    void theSizeCheckedIsTheSizePublished() throws Exception {
        consumer.clear();
        // an event a little under the limit is published, and its message has exactly the size the
        // read measured; one a little over is set aside with the size it would have had
        long under = insertUser("u".repeat(MAX_MESSAGE_BYTES - 800), "under@example.com");
        long over = insertUser("o".repeat(MAX_MESSAGE_BYTES), "over@example.com");
        long next = insertUser("Next", "next@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream().anyMatch(r -> r.json().at("/after/id").asLong() == next));
        Received published = consumer.received().stream().filter(r -> r.json().at("/after/id").asLong() == under).findFirst().orElseThrow();
        long measured = eventBytes(under);
        assertTrue(measured <= MAX_MESSAGE_BYTES, measured + " bytes");
        // the json values write the demo table's two timestamptz columns in UTC with Z: 5 bytes shorter each than logged
        assertEquals(measured - 10, published.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length,
                "the size measured is the size sent, less what the json values shortened");
        assertEquals(eventBytes(over),
                queryLong("SELECT event_bytes FROM eventflow.failed_change WHERE after->>'id' = '" + over + "'"));
        sql("DELETE FROM eventflow.failed_change");
    }

    @Test
    void aBatchTheBrokerRefusesInPartIsRetriedOnlyWhereItWasRefused() throws Exception {
        sql("CREATE TABLE IF NOT EXISTS public.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, item text NOT NULL)",
                "SELECT eventflow.enable_capture('public.orders')");
        String full = TestServices.uniqueName("eventflow.test.full");
        List<Long> users = new java.util.ArrayList<>();
        List<Long> orders = new java.util.ArrayList<>();
        try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); Channel ch = c.createChannel();
                AutoCloseable removeFull = () -> ch.queueDelete(full)) {
            // the orders service's queue is full and refuses more: RabbitMQ nacks every order event
            ch.queueDeclare(full, false, false, false, Map.of("x-max-length", 1, "x-overflow", "reject-publish"));
            ch.queueBind(full, exchange, "public.orders.#");
            ch.basicPublish("", full, null, "filler".getBytes());
            consumer.clear();
            long failuresBefore = metric("eventflow_capture_failures_total");
            long publishedBefore = publishedTotal();

            // one transaction, one batch: users and orders changes interleaved
            List<String> writes = new java.util.ArrayList<>(List.of("BEGIN"));
            for (int i = 0; i < 5; i++) {
                writes.add("INSERT INTO eventflow_demo.users (name, email) VALUES ('Refused " + i + "', 'refused" + i + "@example.com')");
                writes.add("INSERT INTO public.orders (item) VALUES ('item " + i + "')");
            }
            writes.add("COMMIT");
            sql(writes.toArray(String[]::new));
            users.addAll(queryLongs("SELECT id FROM eventflow_demo.users WHERE email LIKE 'refused%' ORDER BY id"));
            orders.addAll(queryLongs("SELECT id FROM public.orders ORDER BY id"));
            // not ready within seconds, saying which routing key the broker refuses
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                var ready = get("/observe/health/ready");
                return ready.statusCode() == 503 && ready.body().contains("public.orders.c");
            });
            // retried with a growing delay (200 ms doubled each time, up to 2 s): a few attempts in 6 s, not 30
            long failuresAtDown = metric("eventflow_capture_failures_total");
            await().pollDelay(Duration.ofSeconds(6)).atMost(Duration.ofSeconds(7)).until(() -> true);
            long attempts = metric("eventflow_capture_failures_total") - failuresAtDown;
            assertTrue(attempts >= 2 && attempts <= 6, attempts + " attempts in 6 s");
            assertTrue(metric("eventflow_capture_failures_total") > failuresBefore);
            assertEquals(publishedBefore, publishedTotal(), "nothing counts as published while part of the batch is refused");
            // what the broker took is not sent again on every retry: each user event once
            for (long user : users) {
                assertEquals(1, consumer.received().stream().filter(r -> r.routingKey().equals("eventflow_demo.users.c")
                        && r.json().at("/after/id").asLong() == user).count(), "user " + user + " published once");
            }

            // the full queue is emptied (its consumer caught up, or here: it goes away): everything goes out
            ch.queuePurge(full);
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream()
                .filter(r -> r.routingKey().equals("public.orders.c")).map(r -> r.json().at("/after/id").asLong()).distinct().count() == 5);
        List<Long> firstSeen = consumer.received().stream().filter(r -> r.routingKey().equals("public.orders.c"))
                .map(r -> r.json().at("/after/id").asLong()).distinct().toList();
        assertEquals(orders, firstSeen, "in commit order");
        // sent again around the refusals, with the same message_id: recognisable duplicates only
        consumer.received().stream().collect(Collectors.groupingBy(Received::messageId)).values()
                .forEach(copies -> assertEquals(1, copies.stream().map(r -> r.json().get("after")).distinct().count()));
        await().atMost(Duration.ofSeconds(10)).until(() -> get("/observe/health/ready").statusCode() == 200);
        sql("SELECT eventflow.disable_capture('public.orders')");
    }

    /** The size of the event of a user's insert as the read measures it (its read time as long as a real one). */
    private long eventBytes(long user) throws Exception {
        return queryLong("SELECT b.bytes FROM eventflow.change_log c, eventflow.batch_events('1:1:', pg_current_snapshot(), c.id - 1, c.id,"
                + " 9223372036854775807, 1700000000000000, c.id - 1, false) b WHERE c.op = 'c' AND c.after->>'id' = '" + user + "'");
    }

    private long queryLong(String query) throws Exception {
        try (var c = db(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private List<Long> queryLongs(String query) throws Exception {
        List<Long> values = new java.util.ArrayList<>();
        try (var c = db(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            while (rs.next()) {
                values.add(rs.getLong(1));
            }
        }
        return values;
    }

    private String queryText(String query) throws Exception {
        try (var c = db(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private long publishedTotal() throws Exception {
        try (var c = db(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT published_total FROM eventflow.cursors WHERE name = 'default'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private long metric(String name) throws Exception {
        for (String line : get("/observe/metrics").body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return (long) Double.parseDouble(line.substring(name.length() + 1).trim());
            }
        }
        return 0;
    }
}
