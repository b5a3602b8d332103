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
import com.fasterxml.jackson.databind.node.NullNode;

import static io.eventflow.web.Html.escape;

/**
 * Renders one change event, as RabbitMQ delivered it, as the card the page shows in its stream:
 * operation, table, row id, time, change id, for updates the fields that changed (from what to
 * what), and, folded, the delivery itself (routing key, AMQP properties, the body pretty-printed).
 * Every value is escaped.
 */
public class ChangeCard {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneOffset.UTC);
    private static final String H = "CamelSpringRabbitmq";

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
        String rowId = row.has("id") ? row.get("id").asText() : "";
        String changeId = header(headers, "MessageId");
        if (changeId.isEmpty()) {
            changeId = source.path("changeId").asText("");
        }
        String time = source.has("ts_ms") ? TIME.format(Instant.ofEpochMilli(source.get("ts_ms").asLong())) : "";

        StringBuilder html = new StringBuilder(1024 + text.length() * 2);
        html.append("<article class=\"card op-").append(escape(op)).append("\" id=\"change-").append(escape(changeId))
                .append("\" data-op=\"").append(escape(op)).append("\" data-table=\"").append(escape(table))
                .append("\" data-change-id=\"").append(escape(changeId)).append("\" data-row-id=\"").append(escape(rowId)).append("\">");
        html.append("<header>")
                .append("<span class=\"op\" title=\"").append(escape(opName(op))).append("\">").append(escape(op)).append("</span> ")
                .append("<span class=\"table\">").append(escape(table)).append("</span> ")
                .append("<span class=\"row-id\">id ").append(escape(rowId)).append("</span> ")
                .append("<time datetime=\"").append(source.has("ts_ms") ? escape(Instant.ofEpochMilli(source.get("ts_ms").asLong())) : "")
                .append("\">").append(escape(time)).append("</time> ")
                .append("<span class=\"change-id\">change ").append(escape(changeId)).append("</span>")
                .append("</header>");
        if ("u".equals(op) && before.isObject() && after.isObject()) {
            html.append(diff(before, after));
        } else if (row.isObject() && row.has("name")) {
            html.append("<p class=\"summary\">").append(escape(row.get("name").asText())).append("</p>");
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
        html.append("</dl><pre class=\"body\">").append(escape(pretty(event, text))).append("</pre></details>");
        html.append("</article>");
        return html.toString();
    }

    /** The fields whose value differs between before and after, as field: old → new. */
    static String diff(JsonNode before, JsonNode after) {
        Set<String> fields = new LinkedHashSet<>();
        before.fieldNames().forEachRemaining(fields::add);
        after.fieldNames().forEachRemaining(fields::add);
        StringBuilder html = new StringBuilder("<ul class=\"diff\">");
        int changed = 0;
        for (String field : fields) {
            JsonNode old = before.has(field) ? before.get(field) : NullNode.getInstance();
            JsonNode now = after.has(field) ? after.get(field) : NullNode.getInstance();
            if (!Objects.equals(old, now)) {
                changed++;
                html.append("<li data-field=\"").append(escape(field)).append("\"><span class=\"field\">").append(escape(field))
                        .append("</span>: <del>").append(escape(value(old))).append("</del> → <ins>").append(escape(value(now)))
                        .append("</ins></li>");
            }
        }
        if (changed == 0) {
            html.append("<li class=\"unchanged\">no field changed</li>");
        }
        return html.append("</ul>").toString();
    }

    private static String value(JsonNode node) {
        return node.isTextual() ? node.asText() : node.toString();
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

    private static String pretty(JsonNode event, String text) {
        if (event.isMissingNode() || event.isNull()) {
            return text;
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(event);
        } catch (IOException e) {
            return text;
        }
    }
}
