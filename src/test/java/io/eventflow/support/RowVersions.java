package io.eventflow.support;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import io.eventflow.support.EventConsumer.Received;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Per-row order, checked on what a consumer received from a table of counters (id, v; inserted with
 * v = 0, each update v = v + 1): taking each message_id at its first delivery, every row's versions
 * must come from 0 up, one by one, none missing, none out of order.
 */
public final class RowVersions {

    /**
     * @param last        each row's last version received
     * @param firsts      the first delivery of each change, in arrival order
     * @param sentAgain   deliveries of a change already received that EventFlow published again
     * @param redelivered deliveries of a change already received that RabbitMQ delivered again to the consumer
     */
    public record Result(Map<Long, Integer> last, List<Received> firsts, int sentAgain, int redelivered) {

        /** Each row's last version received is the one the table holds. */
        public void assertEndsAtCommitted(Connection db, String table) throws SQLException {
            Map<Long, Integer> committed = new HashMap<>();
            try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT id, v FROM " + table)) {
                while (rs.next()) {
                    committed.put(rs.getLong(1), rs.getInt(2));
                }
            }
            assertEquals(committed, last, "each row's last event carries its committed version");
        }
    }

    private RowVersions() {
    }

    public static Result check(List<Received> events) {
        Set<String> seen = new HashSet<>();
        Map<Long, Integer> last = new HashMap<>();
        List<Received> firsts = new ArrayList<>();
        int sentAgain = 0;
        int redelivered = 0;
        for (Received r : events) {
            if (!seen.add(r.messageId())) {
                if (r.redelivered()) {
                    redelivered++;
                } else {
                    sentAgain++;
                }
                continue;
            }
            firsts.add(r);
            JsonNode after = r.json().get("after");
            long row = after.get("id").asLong();
            int v = after.get("v").asInt();
            Integer previous = last.put(row, v);
            assertEquals(previous == null ? 0 : previous + 1, v, "row " + row + ": versions in commit order, none missing");
        }
        return new Result(last, firsts, sentAgain, redelivered);
    }
}
