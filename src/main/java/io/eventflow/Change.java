package io.eventflow;

import java.io.IOException;
import java.util.LinkedHashMap;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.deser.ResolvableDeserializer;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;

/**
 * One change of a batch as the capture route reads it: id, schema_name, table_name, op, change,
 * bytes, and event, the Debezium envelope, as a {@link RawEvent} (a map when a step looks into it).
 */
@JsonDeserialize(using = Change.Reader.class)
public class Change extends LinkedHashMap<String, Object> {

    private static final long serialVersionUID = 1L;

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

    /** Reads a change; its event is copied token by token into bytes, numbers as their digits. */
    public static final class Reader extends StdDeserializer<Change> implements ResolvableDeserializer {

        private static final long serialVersionUID = 1L;
        private static final JsonFactory JSON = EventJson.factory();

        /** Reads the other fields as the mapper reads any value; looked up once, not once per change. */
        private transient JsonDeserializer<Object> values;

        public Reader() {
            super(Change.class);
        }

        @Override
        public void resolve(DeserializationContext ctxt) throws JsonMappingException {
            values = ctxt.findRootValueDeserializer(ctxt.constructType(Object.class));
        }

        @Override
        public Change deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            if (!p.isExpectedStartObjectToken()) {
                return (Change) ctxt.handleUnexpectedToken(Change.class, p);
            }
            Change change = new Change();
            for (String name = p.nextFieldName(); name != null; name = p.nextFieldName()) {
                JsonToken token = p.nextToken();
                if (token == JsonToken.VALUE_NULL) {
                    change.put(name, null);
                } else if ("event".equals(name) && token == JsonToken.START_OBJECT) {
                    change.put(name, new RawEvent(copy(p)));
                } else {
                    change.put(name, values.deserialize(p, ctxt));
                }
            }
            return change;
        }

        /** The JSON value the parser is at, as UTF-8 bytes; numbers keep their digits exactly. */
        private static byte[] copy(JsonParser p) throws IOException {
            ByteArrayBuilder out = new ByteArrayBuilder();
            try (JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
                int depth = 0;
                do {
                    switch (p.currentToken()) {
                        case START_OBJECT -> {
                            g.writeStartObject();
                            depth++;
                        }
                        case END_OBJECT -> {
                            g.writeEndObject();
                            depth--;
                        }
                        case START_ARRAY -> {
                            g.writeStartArray();
                            depth++;
                        }
                        case END_ARRAY -> {
                            g.writeEndArray();
                            depth--;
                        }
                        case FIELD_NAME -> g.writeFieldName(p.currentName());
                        case VALUE_STRING -> g.writeString(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
                        case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> g.writeNumber(p.getText());
                        case VALUE_TRUE -> g.writeBoolean(true);
                        case VALUE_FALSE -> g.writeBoolean(false);
                        case VALUE_NULL -> g.writeNull();
                        default -> throw new JsonParseException(p, "unexpected " + p.currentToken() + " in an event");
                    }
                } while (depth > 0 && p.nextToken() != null);
            }
            return out.toByteArray();
        }
    }
}
