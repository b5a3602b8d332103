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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * EventFlow with eventflow.event.values=debezium against what Debezium Server 3.6.1 published for
 * the same table and the same changes (src/test/resources/conformance: schema.sql, workload.sql,
 * and the fixtures bench/DebeziumFixtures recorded): every value of every column, event by event.
 * And an event the values made larger than the broker takes is set aside, as one logged larger.
 */
class DebeziumConformanceIT extends EventFlowTestSupport {

    private static final Path DIRECTORY = Path.of("src/test/resources/conformance");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A broker limit the conformance rows are far under, and a json row written as a Debezium string goes over. */
    private static final int MAX_MESSAGE_BYTES = 20_000;

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.event.values", "debezium", "eventflow.rabbitmq.max-message-bytes", String.valueOf(MAX_MESSAGE_BYTES));
    }

    @Override
    protected String[] bindingKeys() {
        return new String[] {"public.conformance.*", "public.documents.*"};
    }

    @Test
    void anEventTheValuesMadeLargerThanTheBrokerTakesIsSetAsideAndTheNextOnesGoOn() throws Exception {
        // 1,500 keys: logged under the limit; as Debezium's JSON string every quote is escaped, over it
        StringBuilder doc = new StringBuilder("{");
        for (int i = 0; i < 1500; i++) {
            doc.append(i == 0 ? "" : ",").append("\"k").append(i).append("\":\"v\"");
        }
        doc.append('}');
        try (Connection c = db(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE public.documents (id integer PRIMARY KEY, body json)");
            st.execute("SELECT eventflow.enable_capture('public.documents')");
            st.execute("INSERT INTO public.documents VALUES (1, '" + doc + "')");
            st.execute("INSERT INTO public.documents VALUES (2, '{}')");
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream().anyMatch(r -> r.routingKey().equals("public.documents.c")));
        List<Received> documents = consumer.received().stream().filter(r -> r.routingKey().equals("public.documents.c")).toList();
        assertEquals(1, documents.size(), "the next change goes on");
        assertEquals(2, documents.get(0).json().at("/after/id").asInt());
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT event_bytes, octet_length(after::text) FROM eventflow.failed_change WHERE table_name = 'documents'")) {
            rs.next();
            assertTrue(rs.getLong(2) < MAX_MESSAGE_BYTES && rs.getLong(1) > MAX_MESSAGE_BYTES,
                    "logged under the limit, set aside with the size it had as written: " + rs.getLong(1));
        }
        consumer.clear();
    }

    @Test
    void everyValueOfEveryColumnIsWhatDebeziumWrites() throws Exception {
        consumer.clear();
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
        await().atMost(Duration.ofSeconds(20)).until(() -> conformance().size() >= expected.size());
        List<Received> received = conformance();
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

    private List<Received> conformance() {
        return consumer.received().stream().filter(r -> r.routingKey().startsWith("public.conformance.")).toList();
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
