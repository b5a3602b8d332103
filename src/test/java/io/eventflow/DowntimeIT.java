package io.eventflow;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.SseClient;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Changes committed while EventFlow or RabbitMQ is down are published, in order, once they are back. */
class DowntimeIT extends EventFlowTestSupport {

    @BeforeEach
    void clear() {
        consumer.clear();
    }

    /** Inserts n users, then renames each: 2n changes, each in its own transaction. */
    private void writeChanges(String prefix, int n) throws Exception {
        try (Connection c = db();
                PreparedStatement insert = c.prepareStatement("INSERT INTO eventflow_demo.users (name, email) VALUES (?, ?)");
                PreparedStatement update = c.prepareStatement("UPDATE eventflow_demo.users SET name = ? WHERE email = ?")) {
            for (int i = 0; i < n; i++) {
                insert.setString(1, prefix + "-" + i);
                insert.setString(2, prefix + "-" + i + "@example.com");
                insert.executeUpdate();
            }
            for (int i = 0; i < n; i++) {
                update.setString(1, prefix + "-" + i + "-renamed");
                update.setString(2, prefix + "-" + i + "@example.com");
                update.executeUpdate();
            }
        }
    }

    private void assertAllInOrder(int expected) {
        await().atMost(Duration.ofSeconds(60)).until(() -> consumer.distinctCount() >= expected);
        List<Received> events = consumer.received();
        assertEquals(expected, consumer.distinctCount());
        long previous = 0;
        Map<Long, String> lastOpPerRow = new HashMap<>();
        for (Received r : events) {
            long id = Long.parseLong(r.messageId());
            assertTrue(id > previous, "published in commit order");
            previous = id;
            long row = r.json().at(r.json().get("after").isNull() ? "/before/id" : "/after/id").asLong();
            String op = r.json().get("op").asText();
            assertTrue(!op.equals("c") || !lastOpPerRow.containsKey(row), "create comes first for row " + row);
            assertTrue(!op.equals("u") || lastOpPerRow.containsKey(row), "update after create for row " + row);
            lastOpPerRow.put(row, op);
        }
    }

    @Test
    void changesCommittedWhileEventFlowIsStoppedArriveAfterItStarts() throws Exception {
        stopApp();
        writeChanges("offline", 300);
        assertEquals(0, consumer.count(), "nothing can arrive while EventFlow is stopped");

        app = startApp();
        assertAllInOrder(600);
    }

    @Test
    void changesCommittedWhileRabbitMqIsDownArriveWhenItIsBack() throws Exception {
        try (SseClient browser = new SseClient(url("/events"))) {
            TestServices.run("rabbitmqctl", "stop_app");
            try {
                writeChanges("brokerdown", 200);
                // EventFlow keeps trying while the broker is away; nothing is taken as published
                await().pollDelay(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(10)).until(() -> true);
            } finally {
                TestServices.run("rabbitmqctl", "start_app");
                TestServices.run("rabbitmqctl", "await_startup");
            }
            assertAllInOrder(400);
            // the web demo's stream survived the broker restart too: its queue (not durable, so gone with
            // the restart) was declared again, and the page that stayed open gets the next change
            long id = insertUser("After the broker restart", "restarted@example.com");
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> browser.change(id) != null);
        }
    }
}
