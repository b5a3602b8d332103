package io.eventflow;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One change of a batch as {@code eventflow.next_batch} returns it: change_id, change
 * ({@code <schema>.<table>.<op>}), bytes, oversized, and event, the Debezium envelope as the bytes
 * to publish, a {@link RawEvent} (a map when a step looks into it).
 */
public class Change extends LinkedHashMap<String, Object> {

    private static final long serialVersionUID = 1L;

    /** The rows of a next_batch query, as changes. */
    public static List<Change> fromRows(List<Map<String, Object>> rows) {
        List<Change> changes = new ArrayList<>(rows.size());
        for (Map<String, Object> row : rows) {
            Change change = new Change();
            row.forEach((column, value) -> change.put(column, "event".equals(column) && value instanceof String json
                    ? new RawEvent(json.getBytes(StandardCharsets.UTF_8)) : value));
            changes.add(change);
        }
        return changes;
    }

    /**
     * Identity, not content: Camel's bean language hashes the body it reads {@code ${body[change]}}
     * from (a cache key), and a change hashed by content would hash, and turn into maps, the whole
     * row it carries, once per read of one of its fields.
     */
    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }

    @Override
    public boolean equals(Object other) {
        return this == other;
    }
}
