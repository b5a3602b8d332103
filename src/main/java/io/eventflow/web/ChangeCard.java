package io.eventflow.web;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.NullNode;
import io.eventflow.EventJson;

import static io.eventflow.web.Html.escape;

/**
 * Renders one change event, as RabbitMQ delivered it, as the card the page shows in its stream:
 * operation, table, row id, time, change id, for updates the fields that changed (from what to
 * what), and, folded, the delivery itself (routing key, AMQP properties, the body pretty-printed).
 * Every value is escaped.
 *
 * <p>The event is read with EventFlow's own mapper, so that values show as PostgreSQL wrote them
 * (a numeric(40,20) in all its digits, {@code 12.30} with its zero) and an event of any size is
 * read. A card's size is bounded all the same, since the stream keeps cards for replay and sends
 * them to every browser: past a limit, the body and the changed values are cut, saying how much
 * was left out. The header (operation, table, row id, change id, time) stays whole; only a row id
 * no key would be (a table without an id column whose first column holds a document) is shortened.
 */
public class ChangeCard {

    private static final ObjectMapper JSON = EventJson.mapper();
    private static final ObjectWriter PRETTY = JSON.writerWithDefaultPrettyPrinter();
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneOffset.UTC);
    private static final String H = "CamelSpringRabbitmq";
    /** A row id from a table without an id column is its first column's value, shortened past this. */
    private static final int FIRST_COLUMN_BYTES = 200;

    private final int bodyBytes;

    /**
     * @param bodyBytes most bytes of the pretty-printed message a card shows unfolded, and most bytes
     *                  of the changed values its update diff shows, all fields together
     */
    public ChangeCard(int bodyBytes) {
        this.bodyBytes = bodyBytes;
    }

    /**
     * @param body    the message body as delivered (bytes of the JSON event)
     * @param headers the Camel headers of the spring-rabbitmq consumer (AMQP properties and envelope)
     */
    public String render(Object body, Map<String, Object> headers) {
        String text = body instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(body);
        JsonNode event = parse(text);
        JsonNode source = event.path("source");
        String op = event.path("op").asText("?");
        String table = source.path("schema").asText("?") + "." + source.path("table").asText("?");
        JsonNode before = event.path("before");
        JsonNode after = event.path("after");
        JsonNode row = after.isObject() ? after : before;
        String rowId = rowId(row, bodyBytes);
        String changeId = header(headers, "MessageId");
        if (changeId.isEmpty()) {
            changeId = source.path("changeId").asText("");
        }
        String time = source.has("ts_ms") ? TIME.format(Instant.ofEpochMilli(source.get("ts_ms").asLong())) : "";

        // sized by what the card shows, not by the event
        StringBuilder html = new StringBuilder(2048 + Math.min(Math.min(text.length(), bodyBytes), 1 << 20) * 2);
        html.append("<article class=\"card op-").append(escape(op)).append("\" id=\"change-").append(escape(changeId))
                .append("\" data-op=\"").append(escape(op)).append("\" data-table=\"").append(escape(table))
                .append("\" data-change-id=\"").append(escape(changeId)).append("\" data-row-id=\"").append(escape(rowId)).append("\">");
        html.append("<header>")
                .append("<span class=\"op\" title=\"").append(escape(opName(op))).append("\">").append(escape(op)).append("</span> ")
                .append("<span class=\"table\">").append(escape(table)).append("</span> ")
                .append("<span class=\"row-id\">").append(row.has("id") ? "id " : "").append(escape(rowId)).append("</span> ")
                .append("<time datetime=\"").append(source.has("ts_ms") ? escape(Instant.ofEpochMilli(source.get("ts_ms").asLong())) : "")
                .append("\">").append(escape(time)).append("</time> ")
                .append("<span class=\"change-id\">change ").append(escape(changeId)).append("</span>")
                .append("</header>");
        if ("u".equals(op) && before.isObject() && after.isObject()) {
            html.append(diff(before, after, bodyBytes));
        } else if (row.isObject() && row.has("name")) {
            html.append("<p class=\"summary\">").append(shown(value(row.get("name"), bodyBytes))).append("</p>");
        }
        html.append("<details class=\"delivery\"><summary>Message as delivered</summary><dl>");
        item(html, "exchange", header(headers, "ExchangeName"));
        item(html, "routing key", header(headers, "RoutingKey"));
        item(html, "message_id", header(headers, "MessageId"));
        item(html, "type", header(headers, "Type"));
        item(html, "timestamp", timestamp(headers.get(H + "Timestamp")));
        item(html, "content_type", header(headers, "ContentType"));
        item(html, "content_encoding", header(headers, "ContentEncoding"));
        item(html, "delivery_mode", deliveryMode(headers.get(H + "DeliveryMode")));
        item(html, "app_id", header(headers, "AppId"));
        item(html, "redelivered", header(headers, "Redelivered"));
        Excerpt shown = pretty(event, text, bodyBytes);
        html.append("</dl><pre class=\"body\">").append(escape(shown.text())).append("</pre>");
        if (shown.isCut()) {
            html.append("<p class=\"left-out\">").append(escape("… " + Excerpt.bytes(shown.leftOutBytes())
                    + " more bytes of this message left out: a card shows its first " + Excerpt.bytes(shown.keptBytes())
                    + " bytes (eventflow.stream.card-body-bytes)")).append("</p>");
        }
        html.append("</details>");
        html.append("</article>");
        return html.toString();
    }

    /**
     * The row id: its {@code id} column, or, for a table without one, its first column as
     * {@code name=value} (first as the event has it: jsonb orders a row's columns shortest name first,
     * so it is the same column in every change of a table).
     */
    static String rowId(JsonNode row, int limitBytes) {
        if (!row.isObject() || row.isEmpty()) {
            return "";
        }
        if (row.has("id")) {
            return text(value(row.get("id"), limitBytes));
        }
        String column = row.fieldNames().next();
        return column + "=" + text(value(row.get(column), FIRST_COLUMN_BYTES));
    }

    /**
     * The fields whose value differs between before and after, as field: old → new. The values
     * together show at most {@code limitBytes}; a value cut short ends in an ellipsis and says how
     * much of it is not shown.
     */
    static String diff(JsonNode before, JsonNode after, int limitBytes) {
        Set<String> fields = new LinkedHashSet<>();
        before.fieldNames().forEachRemaining(fields::add);
        after.fieldNames().forEachRemaining(fields::add);
        StringBuilder html = new StringBuilder("<ul class=\"diff\">");
        int changed = 0;
        long budget = limitBytes;
        for (String field : fields) {
            JsonNode old = before.has(field) ? before.get(field) : NullNode.getInstance();
            JsonNode now = after.has(field) ? after.get(field) : NullNode.getInstance();
            if (!Objects.equals(old, now)) {
                changed++;
                // the old value gets at most half of what is left, so that the new one shows too
                Excerpt was = value(old, budget / 2);
                budget -= was.keptBytes();
                Excerpt is = value(now, budget);
                budget -= is.keptBytes();
                html.append("<li data-field=\"").append(escape(field)).append("\"><span class=\"field\">").append(escape(field))
                        .append("</span>: <del>").append(shown(was)).append("</del> → <ins>").append(shown(is))
                        .append("</ins></li>");
            }
        }
        if (changed == 0) {
            html.append("<li class=\"unchanged\">no field changed</li>");
        }
        return html.append("</ul>").toString();
    }

    /** A value as the card shows it: text as it is, anything else as JSON (decimals in plain digits), cut at the limit. */
    private static Excerpt value(JsonNode node, long limitBytes) {
        if (node.isTextual()) {
            return Excerpt.of(node.asText(), limitBytes);
        }
        Excerpt excerpt = new Excerpt(limitBytes);
        try {
            JSON.writeValue(excerpt, node);
        } catch (IOException e) {
            // a tree Jackson read itself always writes; the excerpt then shows what was written
        }
        return excerpt;
    }

    /** The value's text with an ellipsis when it was cut (to be escaped where it is rendered). */
    private static String text(Excerpt value) {
        return value.isCut() ? value.text() + "…" : value.text();
    }

    /** The value, escaped, with an ellipsis and how many bytes are not shown when it was cut. */
    private static String shown(Excerpt value) {
        if (!value.isCut()) {
            return escape(value.text());
        }
        return escape(value.text()) + "…<span class=\"left-out\"> (" + escape(Excerpt.bytes(value.leftOutBytes()))
                + " more bytes)</span>";
    }

    private static void item(StringBuilder html, String name, String value) {
        html.append("<dt>").append(escape(name)).append("</dt><dd data-property=\"").append(escape(name)).append("\">")
                .append(escape(value)).append("</dd>");
    }

    private static String header(Map<String, Object> headers, String name) {
        Object value = headers == null ? null : headers.get(H + name);
        return value == null ? "" : String.valueOf(value);
    }

    private static String timestamp(Object value) {
        if (value instanceof Date date) {
            return date.toInstant().toString();
        }
        return value == null ? "" : String.valueOf(value);
    }

    private static String deliveryMode(Object value) {
        if (value == null) {
            return "";
        }
        String mode = String.valueOf(value);
        return switch (mode) {
            case "PERSISTENT" -> "2 (persistent)";
            case "NON_PERSISTENT" -> "1 (non-persistent)";
            default -> mode;
        };
    }

    private static String opName(String op) {
        return switch (op) {
            case "c" -> "create";
            case "u" -> "update";
            case "d" -> "delete";
            case "r" -> "read (snapshot)";
            case "t" -> "truncate";
            default -> "unknown";
        };
    }

    private static JsonNode parse(String text) {
        try {
            JsonNode node = JSON.readTree(text);
            return node == null ? NullNode.getInstance() : node;
        } catch (IOException e) {
            return NullNode.getInstance();
        }
    }

    /** The message pretty-printed (as delivered when it is not JSON), up to the limit. */
    private static Excerpt pretty(JsonNode event, String text, long limitBytes) {
        if (event.isMissingNode() || event.isNull()) {
            return Excerpt.of(text, limitBytes);
        }
        Excerpt excerpt = new Excerpt(limitBytes);
        try {
            PRETTY.writeValue(excerpt, event);
            return excerpt;
        } catch (IOException e) {
            return Excerpt.of(text, limitBytes);
        }
    }
}
