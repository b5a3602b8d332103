package io.eventflow;

import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kind of change a consumer needs: TRUNCATE, a primary-key change, the partitions of a
 * partitioned table, and each transaction's place and bounds (transaction events on).
 */
class ChangeKindsIT extends EventFlowTestSupport {

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.capture.transaction-events", "true");
    }

    @Override
    protected String[] bindingKeys() {
        // not the demo's table: only what these tests change
        return new String[] {"public.#", "eventflow.transaction"};
    }

    @BeforeEach
    void clear() {
        consumer.clear();
    }

    private List<Received> awaitEvents(int n) {
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() >= n);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(10)).until(() -> consumer.count() == n);
        return consumer.received();
    }

    private static List<String> keys(List<Received> events) {
        return events.stream().map(Received::routingKey).toList();
    }

    @Test
    void aTruncateIsOneEventInCommitOrderWithTheRowChanges() throws Exception {
        sql("CREATE TABLE public.carts (id bigint PRIMARY KEY, item text)", "SELECT eventflow.enable_capture('public.carts')",
                "INSERT INTO public.carts VALUES (1, 'pen')",
                "TRUNCATE public.carts",
                "INSERT INTO public.carts VALUES (2, 'ink')");
        List<Received> events = awaitEvents(9);
        assertEquals(List.of("eventflow.transaction", "public.carts.c", "eventflow.transaction",
                "eventflow.transaction", "public.carts.t", "eventflow.transaction",
                "eventflow.transaction", "public.carts.c", "eventflow.transaction"), keys(events));
        JsonNode truncate = events.get(4).json();
        assertEquals("t", truncate.get("op").asText());
        assertTrue(truncate.get("before").isNull() && truncate.get("after").isNull());
        assertEquals("carts", truncate.at("/source/table").asText());
    }

    @Test
    void aPrimaryKeyChangeIsADeleteOfTheOldKeyThenACreateOfTheNew() throws Exception {
        sql("CREATE TABLE public.tags (id bigint PRIMARY KEY, label text)", "SELECT eventflow.enable_capture('public.tags')",
                "INSERT INTO public.tags VALUES (1, 'red')");
        awaitEvents(3);
        consumer.clear();
        sql("UPDATE public.tags SET id = 2 WHERE id = 1", "UPDATE public.tags SET label = 'blue' WHERE id = 2");
        List<Received> events = awaitEvents(7);
        assertEquals(List.of("eventflow.transaction", "public.tags.d", "public.tags.c", "eventflow.transaction",
                "eventflow.transaction", "public.tags.u", "eventflow.transaction"), keys(events));
        assertEquals(1, events.get(1).json().at("/before/id").asLong());
        assertTrue(events.get(1).json().get("after").isNull());
        assertTrue(events.get(2).json().get("before").isNull());
        assertEquals(2, events.get(2).json().at("/after/id").asLong());
        assertEquals("red", events.get(2).json().at("/after/label").asText());
        assertEquals(2, events.get(5).json().at("/before/id").asLong(), "a change of other columns stays an update");
        // each names the other key in its headers, as Debezium's do
        assertEquals("{\"id\":2}", String.valueOf(events.get(1).properties().getHeaders().get("__debezium.newkey")).replace(" ", ""));
        assertEquals("{\"id\":1}", String.valueOf(events.get(2).properties().getHeaders().get("__debezium.oldkey")).replace(" ", ""));
        assertEquals(null, events.get(5).properties().getHeaders(), "no headers on other changes");
    }

    @Test
    void aPartitionedTableIsCapturedUnderItsOwnNameWithEveryPartition() throws Exception {
        sql("CREATE TABLE public.meas (id bigint, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region)",
                "CREATE TABLE public.meas_eu PARTITION OF public.meas FOR VALUES IN ('eu')",
                "SELECT eventflow.enable_capture('public.meas')",
                // attached after capture was turned on
                "CREATE TABLE public.meas_us PARTITION OF public.meas FOR VALUES IN ('us')",
                "INSERT INTO public.meas VALUES (1, 'eu', 10)",
                "INSERT INTO public.meas VALUES (2, 'us', 20)",
                // moves to another partition: a key change
                "UPDATE public.meas SET region = 'us' WHERE id = 1",
                "TRUNCATE public.meas_eu",
                "TRUNCATE public.meas");
        List<Received> events = awaitEvents(16);
        List<String> changes = events.stream().filter(r -> !r.routingKey().equals("eventflow.transaction"))
                .map(r -> r.routingKey() + " " + r.json().at("/source/partition").asText("-")).toList();
        assertEquals(List.of("public.meas.c meas_eu", "public.meas.c meas_us", "public.meas.d meas_eu", "public.meas.c meas_us",
                "public.meas.t meas_eu", "public.meas.t -"), changes);
        assertEquals("meas", events.get(1).json().at("/source/table").asText());

        SQLException refused = assertThrows(SQLException.class, () -> sql("SELECT eventflow.enable_capture('public.meas_us')"));
        assertTrue(refused.getMessage().contains("meas_us is a partition of meas"), refused.getMessage());
        refused = assertThrows(SQLException.class, () -> sql("SELECT eventflow.disable_capture('public.meas_eu')"));
        assertTrue(refused.getMessage().contains("meas_eu is a partition of meas"), refused.getMessage());
        try (var c = db(); var st = c.createStatement();
                var rs = st.executeQuery("SELECT string_agg(table_name, ',') FROM eventflow.captured_tables WHERE table_name LIKE 'meas%'")) {
            rs.next();
            assertEquals("meas", rs.getString(1), "the partitioned table, once");
        }
        // a snapshot of the partitioned table: every partition's rows, under its name
        consumer.clear();
        sql("INSERT INTO public.meas VALUES (5, 'eu', 1), (6, 'us', 2)");
        awaitEvents(4);
        consumer.clear();
        sql("SELECT eventflow.snapshot('public.meas')");
        List<String> reads = awaitEvents(4).stream().filter(r -> r.routingKey().endsWith(".r"))
                .map(r -> r.routingKey() + " " + r.json().at("/source/partition").asText() + " " + r.json().at("/after/id").asLong()).toList();
        assertEquals(List.of("public.meas.r meas_eu 5", "public.meas.r meas_us 6"), reads);
    }

    @Test
    void eachEventNamesItsTransactionAndTheEndCountsItsEventsPerTable() throws Exception {
        sql("CREATE TABLE public.orders (id bigint PRIMARY KEY, total int)",
                "CREATE TABLE public.lines (id bigint PRIMARY KEY, order_id bigint)",
                "SELECT eventflow.enable_capture('public.orders')", "SELECT eventflow.enable_capture('public.lines')",
                "BEGIN; INSERT INTO public.orders VALUES (1, 30); INSERT INTO public.lines VALUES (10, 1), (11, 1); COMMIT");
        List<Received> events = awaitEvents(5);
        assertEquals(List.of("eventflow.transaction", "public.orders.c", "public.lines.c", "public.lines.c", "eventflow.transaction"),
                keys(events));
        JsonNode begin = events.get(0).json();
        JsonNode end = events.get(4).json();
        String tx = events.get(1).json().at("/transaction/id").asText();
        assertEquals("BEGIN", begin.get("status").asText());
        assertEquals(tx, begin.get("id").asText());
        assertEquals(tx + ".begin", events.get(0).messageId());
        assertEquals(List.of("1 1", "2 1", "3 2"), events.subList(1, 4).stream()
                .map(r -> r.json().at("/transaction/total_order").asInt() + " " + r.json().at("/transaction/data_collection_order").asInt()).toList());
        events.subList(1, 4).forEach(r -> assertEquals(tx, r.json().at("/transaction/id").asText()));
        assertEquals("END", end.get("status").asText());
        assertEquals(tx, end.get("id").asText());
        assertEquals(3, end.get("event_count").asInt());
        assertEquals("[{\"data_collection\":\"public.lines\",\"event_count\":2},{\"data_collection\":\"public.orders\",\"event_count\":1}]",
                end.get("data_collections").toString());
    }
}
