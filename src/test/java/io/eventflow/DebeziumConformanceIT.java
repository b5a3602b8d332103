package io.eventflow;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.eventflow.bench.DebeziumFixtures;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * EventFlow with eventflow.event.values=debezium against what Debezium Server 3.6.1 published for
 * the same table and the same changes (src/test/resources/conformance: schema.sql, workload.sql,
 * and the fixtures bench/DebeziumFixtures recorded): every value of every column, event by event.
 */
class DebeziumConformanceIT extends EventFlowTestSupport {

    private static final Path DIRECTORY = Path.of("src/test/resources/conformance");
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.event.values", "debezium");
    }

    @Override
    protected String[] bindingKeys() {
        return new String[] {"public.conformance.*"};
    }

    @Test
    void everyValueOfEveryColumnIsWhatDebeziumWrites() throws Exception {
        List<JsonNode> expected = new ArrayList<>();
        for (String line : Files.readAllLines(DIRECTORY.resolve("debezium-3.6.1.jsonl"))) {
            expected.add(JSON.readTree(line).get("body"));
        }
        try (Connection c = db(); Statement st = c.createStatement()) {
            st.execute(Files.readString(DIRECTORY.resolve("schema.sql")));
            st.execute("SELECT eventflow.enable_capture('public.conformance')");
            for (String statement : DebeziumFixtures.statements(Files.readString(DIRECTORY.resolve("workload.sql")))) {
                st.execute(statement);
            }
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() >= expected.size());
        List<Received> received = consumer.received();
        assertEquals(expected.size(), received.size(), "one event per change");

        List<String> differences = new ArrayList<>();
        int compared = 0;
        for (int i = 0; i < expected.size(); i++) {
            JsonNode debezium = expected.get(i);
            JsonNode eventflow = received.get(i).json();
            assertEquals(debezium.get("op").asText(), eventflow.get("op").asText(), "event " + i);
            for (String side : List.of("before", "after")) {
                JsonNode want = debezium.get(side);
                JsonNode have = eventflow.get(side);
                if (want.isNull() || have.isNull()) {
                    if (want.isNull() != have.isNull()) {
                        differences.add(i + " " + side + ": Debezium " + want + ", EventFlow " + have);
                    }
                    continue;
                }
                for (Iterator<String> columns = want.fieldNames(); columns.hasNext();) {
                    String column = columns.next();
                    compared++;
                    if (!same(want.get(column), have.get(column))) {
                        differences.add(i + " " + debezium.get("op").asText() + " " + side + "." + column + ": Debezium "
                                + want.get(column) + ", EventFlow " + have.get(column));
                    }
                }
            }
        }
        assertEquals(List.of(), differences, "values that differ from Debezium's (of " + compared + " compared)");
        System.out.printf("DebeziumConformanceIT: %d values in %d events as Debezium Server 3.6.1 wrote them%n", compared, expected.size());
    }

    /** Equal JSON, numbers by value (1.5 and 1.50, 7 as an int or a long). */
    private static boolean same(JsonNode want, JsonNode have) {
        if (have == null) {
            return false;
        }
        if (want.isNumber() && have.isNumber()) {
            return want.decimalValue().compareTo(have.decimalValue()) == 0;
        }
        if (want.isContainerNode() && have.isContainerNode() && want.size() == have.size()) {
            if (want.isArray()) {
                for (int i = 0; i < want.size(); i++) {
                    if (!same(want.get(i), have.get(i))) {
                        return false;
                    }
                }
                return true;
            }
            for (Iterator<String> names = want.fieldNames(); names.hasNext();) {
                String name = names.next();
                if (!same(want.get(name), have.get(name))) {
                    return false;
                }
            }
            return true;
        }
        return want.equals(have);
    }
}
