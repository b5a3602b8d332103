package io.eventflow;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import java.util.HashMap;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A batch as the capture route reads it: the events leave as PostgreSQL built them, or as a step changed them. */
class ChangeTest {

    private static final ObjectMapper JSON = EventJson.mapper();

    private static final String EVENT = "{\"before\":null,\"after\":{\"id\":7,\"price\":12.30,\"big\":123456789012345678901234567890.12345678901234567890,"
            + "\"tiny\":1.0E-30,\"name\":\"Ad\\\"a é \\\\ \\n \\u0001 <b>\",\"tags\":[\"a\",1,true,false,null,{\"deep\":[[]]}],\"none\":null},"
            + "\"source\":{\"table\":\"users\",\"changeId\":42},\"op\":\"c\",\"ts_ms\":1700000000000}";

    /** A row of eventflow.next_batch as camel-sql gives it. */
    private static Map<String, Object> row(long id, String change, String event) {
        Map<String, Object> row = new HashMap<>();
        row.put("change_id", id);
        row.put("change", change);
        row.put("event", event);
        row.put("bytes", event == null ? 999L : (long) event.getBytes(StandardCharsets.UTF_8).length);
        row.put("oversized", event == null);
        return row;
    }

    @Test
    void anEventNoStepLookedIntoLeavesAsItCameExactlyInItsDigits() throws Exception {
        List<Change> batch = Change.fromRows(List.of(row(42, "eventflow_demo.users.c", EVENT), row(43, "eventflow_demo.users.d", null)));

        assertEquals(2, batch.size());
        Change first = batch.get(0);
        assertEquals(42L, first.get("change_id"));
        assertEquals("eventflow_demo.users.c", first.get("change"));
        RawEvent event = assertInstanceOf(RawEvent.class, first.get("event"));
        // same JSON, byte for byte, as PostgreSQL built it: 12.30 keeps its zero, 30 digits stay 30
        // digits, 1.0E-30 its form
        assertEquals(EVENT, new String(event.json(), StandardCharsets.UTF_8));
        assertNull(batch.get(1).get("event"), "an event set aside (over the broker's limit) stays null");
    }

    @Test
    void hashingAChangeDoesNotReadItsEvent() throws Exception {
        // Camel's bean language hashes the body ${body[change]} is read from, once per row
        Change change = Change.fromRows(List.of(row(42, "eventflow_demo.users.c", EVENT))).get(0);
        RawEvent event = (RawEvent) change.get("event");
        change.hashCode();
        event.hashCode();
        assertTrue(event.untouched(), "the event is still bytes only");
        assertEquals(EVENT, new String(event.json(), StandardCharsets.UTF_8));
    }

    @Test
    void aStepCanLookIntoTheEventAndChangeIt() throws Exception {
        Change change = Change.fromRows(List.of(row(42, "eventflow_demo.users.c", EVENT))).get(0);
        RawEvent event = (RawEvent) change.get("event");

        @SuppressWarnings("unchecked")
        Map<String, Object> after = (Map<String, Object>) event.get("after");
        assertEquals("Ad\"a é \\ \n \u0001 <b>", after.get("name"));
        assertEquals("12.30", after.get("price").toString(), "decimals as BigDecimal, not double");
        after.remove("price");

        Map<?, ?> written = JSON.readValue(event.json(), Map.class);
        assertNull(((Map<?, ?>) written.get("after")).get("price"), "what a step changed is what leaves");
        assertEquals("users", ((Map<?, ?>) written.get("source")).get("table"));
    }
}
