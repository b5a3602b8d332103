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
 * published; a batch the broker nacks is published again until it is taken, and nothing is lost.
 */
class RefusedEventsIT extends EventFlowTestSupport {

    private static final int MAX_MESSAGE_BYTES = 20_000;
    private int maxMessageBytes = MAX_MESSAGE_BYTES;

    @Override
    protected Map<String, String> properties() {
        return Map.of(
                "eventflow.rabbitmq.max-message-bytes", String.valueOf(maxMessageBytes),
                "eventflow.stats.interval-ms", "300",
                "eventflow.capture.poll-interval-ms", "200");
    }

    @Test
    void anEventLargerThanTheBrokerTakesIsSetAsideAndTheChangesAfterItArePublished() throws Exception {
        consumer.clear();
        String big = "x".repeat(30_000);
        long bigUser = insertUser(big, "big@example.com");
        // its before is the big row too: set aside as well
        sql("UPDATE public.users SET name = 'small' WHERE id = " + bigUser);
        sql("UPDATE public.users SET name = 'smaller' WHERE id = " + bigUser);
        long after = insertUser("After the big one", "after@example.com");

        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream()
                .anyMatch(r -> r.json().at("/after/id").asLong() == after));
        List<Received> events = consumer.received();
        // the two oversized changes are not published; the ones after them are, in order
        assertEquals(List.of("public.users.u " + bigUser + " smaller", "public.users.c " + after + " After the big one"),
                events.stream().map(r -> r.routingKey() + " " + r.json().at("/after/id").asLong() + " "
                        + r.json().at("/after/name").asText()).toList());
        assertEquals("small", events.get(0).json().at("/before/name").asText());

        try (var c = db(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT schema_name || '.' || table_name || '.' || op AS change, before->>'name' AS before,"
                        + " after->>'name' AS after, event_bytes, reason FROM eventflow.failed_change ORDER BY change_id")) {
            assertTrue(rs.next(), "the oversized insert is in eventflow.failed_change");
            assertEquals("public.users.c", rs.getString("change"));
            assertEquals(big, rs.getString("after"), "the change is kept whole");
            assertTrue(rs.getLong("event_bytes") > MAX_MESSAGE_BYTES);
            assertTrue(rs.getString("reason").contains("eventflow.rabbitmq.max-message-bytes"), rs.getString("reason"));
            assertTrue(rs.next(), "the update whose before is the big row too");
            assertEquals("public.users.u", rs.getString("change"));
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
        // back: it is published, after everything else, with a new id
        stopApp();
        maxMessageBytes = 1_000_000;
        app = startApp();
        try (var c = db(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT eventflow.republish_failed(min(change_id)) FROM eventflow.failed_change")) {
            rs.next();
            assertEquals(1, rs.getLong(1), "changes put back");
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 3);
        Received republished = consumer.received().get(2);
        assertEquals("public.users.c " + bigUser, republished.routingKey() + " " + republished.json().at("/after/id").asLong());
        assertEquals(big, republished.json().at("/after/name").asText());
        assertTrue(Long.parseLong(republished.messageId()) > Long.parseLong(events.get(1).messageId()), "a new change id");
        await().atMost(Duration.ofSeconds(10)).until(() -> get("/observe/metrics").body().contains("eventflow_failed_total 1.0"));
        stopApp();
        maxMessageBytes = MAX_MESSAGE_BYTES;
        app = startApp();
    }

    @Test
    void aBatchTheBrokerNacksIsPublishedAgainUntilItIsTakenAndNothingIsLost() throws Exception {
        String full = TestServices.uniqueName("eventflow.test.full");
        long[] ids = new long[5];
        try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); Channel ch = c.createChannel()) {
            // a consumer's queue that is full and refuses more: RabbitMQ nacks every event routed to it
            ch.queueDeclare(full, false, false, false, Map.of("x-max-length", 1, "x-overflow", "reject-publish"));
            ch.queueBind(full, exchange, "public.users.#");
            ch.basicPublish("", full, null, "filler".getBytes());
            consumer.clear();
            long failuresBefore = metric("eventflow_capture_failures_total");
            long publishedBefore = publishedTotal();

            for (int i = 0; i < ids.length; i++) {
                ids[i] = insertUser("Nacked " + i, "nacked" + i + "@example.com");
            }
            // refused, counted, retried; nothing counts as published while the broker refuses it
            await().atMost(Duration.ofSeconds(20)).until(() -> metric("eventflow_capture_failures_total") >= failuresBefore + 2);
            assertEquals(publishedBefore, publishedTotal());

            // the full queue is emptied (its consumer caught up, or here: it goes away): everything goes out, in row order
            ch.queuePurge(full);
            ch.queueDelete(full);
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.distinctCount() >= 5
                && consumer.received().stream().map(r -> r.json().at("/after/id").asLong()).distinct().count() == 5);
        List<Long> firstSeen = consumer.received().stream().map(r -> r.json().at("/after/id").asLong()).distinct().toList();
        assertEquals(List.of(ids[0], ids[1], ids[2], ids[3], ids[4]), firstSeen, "in commit order");
        // sent again around the refusals, with the same message_id: recognisable duplicates only
        consumer.received().stream().collect(Collectors.groupingBy(Received::messageId)).values()
                .forEach(copies -> assertEquals(1, copies.stream().map(r -> r.json().get("after")).distinct().count()));
    }

    private long publishedTotal() throws Exception {
        try (var c = db(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT published_total FROM eventflow.capture_state")) {
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
