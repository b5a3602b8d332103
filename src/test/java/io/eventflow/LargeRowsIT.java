package io.eventflow;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import io.eventflow.support.EventConsumer;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowProcess;
import io.eventflow.support.EventFlowProcess.Scratch;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A backlog of large rows, drained by EventFlow started as users start it (bin/eventflow, its own
 * process), with a heap smaller than the backlog: every row arrives whole and in order, because a
 * batch is bounded by bytes too (a batch of 100 such rows used to exhaust the heap on every try,
 * and nothing after them was ever published).
 */
class LargeRowsIT {

    private static final int ROWS = 100;
    private static final int ROW_BYTES = 1024 * 1024;

    @Test
    void aBacklogOfOneMegabyteRowsLargerThanTheHeapIsDeliveredWholeAndInOrder() throws Exception {
        Scratch scratch = Scratch.create("large-rows-eventflow.log");
        try (EventFlowProcess eventflow = scratch.start("-Xmx128m")) {
            try (EventConsumer consumer = new EventConsumer(scratch.exchange(), scratch.unrouted(), TestServices.uniqueName("eventflow.test.consumer"), "#")) {
                // 100 MB committed at once, then one small row after it
                try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement()) {
                    st.execute("INSERT INTO eventflow_demo.users (name, email) SELECT repeat(md5(g::text), " + ROW_BYTES / 32 + "),"
                            + " 'large' || g || '@example.com' FROM generate_series(1, " + ROWS + ") g");
                    st.execute("INSERT INTO eventflow_demo.users (name, email) VALUES ('small', 'small@example.com')");
                }
                await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500))
                        .until(() -> consumer.count() >= ROWS + 1 || !eventflow.isAlive());
                assertTrue(eventflow.isAlive(), "EventFlow still runs: " + eventflow.tail());

                List<Received> events = consumer.received();
                assertEquals(ROWS + 1, events.size(), "every change once");
                for (int g = 1; g <= ROWS; g++) {
                    JsonNode after = events.get(g - 1).json().get("after");
                    assertEquals("large" + g + "@example.com", after.get("email").asText(), "in commit order");
                    String name = after.get("name").asText();
                    assertEquals(ROW_BYTES, name.length(), "whole");
                    assertEquals(name.substring(0, 32).repeat(ROW_BYTES / 32), name, "byte for byte");
                }
                assertEquals("small", events.get(ROWS).json().at("/after/name").asText());
            }
        } finally {
            scratch.remove();
        }
    }
}
