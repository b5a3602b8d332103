package io.eventflow;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.TestServices;
import org.apache.camel.main.Main;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two instances on the same cursor: one publishes, the other waits as a standby and says so, and
 * every change is published once; when the first stops, the standby takes over.
 */
class StandbyIT extends EventFlowTestSupport {

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.capture.poll-interval-ms", "200", "eventflow.stats.interval-ms", "300");
    }

    @Test
    void aSecondInstanceOnTheSameCursorWaitsAndTakesOverWhenTheFirstStops() throws Exception {
        int standbyPort = TestServices.freePort();
        Main standby = startApp(database, standbyPort, properties());
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> health(standbyPort).contains("\"state\":\"STANDBY\""));
            assertTrue(health(httpPort).contains("\"state\":\"ACTIVE\""), health(httpPort));
            assertTrue(metrics(standbyPort).contains("eventflow_cursor_state{state=\"STANDBY\"} 1.0"), metrics(standbyPort));

            consumer.clear();
            sql("INSERT INTO eventflow_demo.users (name, email) SELECT 'User ' || i, 'user' || i || '@example.com' FROM generate_series(1, 1000) i");
            String[] updates = new String[1000];
            for (int i = 0; i < updates.length; i++) {
                updates[i] = "UPDATE eventflow_demo.users SET name = 'Updated " + i + "' WHERE email = 'user" + (i + 1) + "@example.com'";
            }
            sql(updates);
            await().atMost(Duration.ofSeconds(60)).until(() -> consumer.distinctCount() >= 2000);
            // give a second publisher, if there were one, the time to publish its copies too
            await().pollDelay(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> true);
            assertEquals(2000, consumer.count(), "2,000 changes, each published once");
            String holder = queryText("SELECT holder FROM eventflow.cursors WHERE name = 'default'");
            assertTrue(holder.endsWith("." + httpPort), "the first instance holds the cursor: " + holder);

            // the holder stops (and gives its claim up): the standby takes over and publishes what comes next
            stopApp();
            long id = insertUser("After the handover", "handover@example.com");
            await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream()
                    .anyMatch(r -> r.json().at("/after/id").asLong() == id));
            assertTrue(health(standbyPort).contains("\"state\":\"ACTIVE\""), health(standbyPort));
            List<Received> handover = consumer.received().stream().filter(r -> r.json().at("/after/id").asLong() == id).toList();
            assertEquals(1, handover.size(), "published once");
        } finally {
            standby.stop();
        }
    }

    private String queryText(String query) throws Exception {
        try (var c = db(); var st = c.createStatement(); var rs = st.executeQuery(query)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private String health(int port) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/health/ready?data=true")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    private String metrics(int port) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
