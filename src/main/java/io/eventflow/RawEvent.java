package io.eventflow;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.AbstractMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A change's event as the JSON PostgreSQL built, kept as bytes, and a map of it only when a step
 * looks into it ({@code ${body[event][after][email]}} in a filter, say). An event no step looked
 * into leaves as the bytes it came in, without being turned into maps and written back (that round
 * trip was a third of the capture route's CPU); one a step looked into, and may have changed, is
 * written from its map.
 */
public final class RawEvent extends AbstractMap<String, Object> {

    private static final ObjectMapper MAPPER = EventJson.mapper();
    private static final TypeReference<LinkedHashMap<String, Object>> MAP = new TypeReference<>() {
    };

    private final byte[] json;
    private Map<String, Object> map;

    public RawEvent(byte[] json) {
        this.json = json;
    }

    /** The event as UTF-8 JSON: the bytes as read when no step looked into it, else its map written. */
    public byte[] json() throws JsonProcessingException {
        return map == null ? json : MAPPER.writeValueAsBytes(map);
    }

    /** Whether no step has looked into the event yet (it is bytes only). */
    boolean untouched() {
        return map == null;
    }

    private Map<String, Object> map() {
        if (map == null) {
            try {
                map = MAPPER.readValue(json, MAP);
            } catch (IOException e) {
                // the bytes are JSON the capture route's reader wrote itself
                throw new UncheckedIOException("unreadable event JSON", e);
            }
        }
        return map;
    }

    /** Identity, as {@link Change}: hashing it must not turn it into maps. */
    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }

    @Override
    public boolean equals(Object other) {
        return this == other;
    }

    @Override
    public Set<Entry<String, Object>> entrySet() {
        return map().entrySet();
    }

    @Override
    public Object get(Object key) {
        return map().get(key);
    }

    @Override
    public boolean containsKey(Object key) {
        return map().containsKey(key);
    }

    @Override
    public Object put(String key, Object value) {
        return map().put(key, value);
    }

    @Override
    public Object remove(Object key) {
        return map().remove(key);
    }

    @Override
    public int size() {
        return map().size();
    }
}
