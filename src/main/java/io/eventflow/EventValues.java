package io.eventflow;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import javax.sql.DataSource;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * How column values are written ({@code eventflow.event.values}): the event's {@code before} and
 * {@code after} rewritten column by column from the text the capture trigger logged, by the kind of
 * each column (eventflow.column_kinds, read once per table and again when a row's columns are not
 * the ones known); the rest of the envelope is kept as it is.
 *
 * <ul>
 * <li>{@code json}: the logged text, but where it is not ISO 8601 or depends on the writer's
 * session: timestamptz and timetz in UTC with {@code Z}, interval as an ISO 8601 duration, money as
 * a number, bytea as base64. A row without such columns is not touched at all.
 * <li>{@code debezium}: what Debezium 3.x writes with its default settings (decimal.handling.mode
 * precise, time.precision.mode adaptive, binary.handling.mode bytes, interval.handling.mode
 * numeric), decimals also as its string or double modes.
 * </ul>
 */
public class EventValues {

    private static final JsonFactory JSON = new JsonFactory();
    /** The kinds whose logged text the json values rewrite; a table with none of them is left as it is. */
    private static final java.util.Set<String> JSON_KINDS = java.util.Set.of("timestamptz", "timetz", "interval", "money", "bytea");
    /** The key, in a table's columns, that says it has such a column (no column name is empty). */
    private static final String JSON_REWRITTEN = "";
    private static final java.util.Set<String> TEMPORAL = java.util.Set.of("date", "time", "timetz", "timestamp", "timestamptz");
    private static final JsonStringEncoder QUOTE = JsonStringEncoder.getInstance();
    /** Debezium's ZonedTimestamp and ZonedTime: ISO 8601 in UTC, fractional digits as the value has them. */
    private static final DateTimeFormatter ZONED_TIMESTAMP = new DateTimeFormatterBuilder()
            .append(DateTimeFormatter.ISO_LOCAL_DATE).appendLiteral('T').append(timeWithFraction()).appendLiteral('Z').toFormatter();
    private static final DateTimeFormatter ZONED_TIME = new DateTimeFormatterBuilder()
            .append(timeWithFraction()).appendLiteral('Z').toFormatter();
    /** PostgreSQL's own forms of the values, as to_json writes them with the trigger's settings. */
    private static final DateTimeFormatter PG_OFFSET_TIME = new DateTimeFormatterBuilder()
            .append(DateTimeFormatter.ISO_LOCAL_TIME).appendPattern("[XXXXX][XXX][X]").toFormatter();

    /** A column: its kind (eventflow.column_kinds), its precision or scale, whether it is an array. */
    record Column(String kind, int modifier, boolean array) {
    }

    /** A column whose values are published as logged. */
    private static final Column AS_LOGGED = new Column("text", 0, false);
    private static final Logger LOG = LoggerFactory.getLogger(EventValues.class);
    /** The columns a value of which could not be rewritten, each logged once. */
    private final java.util.Set<String> unforeseen = ConcurrentHashMap.newKeySet();

    private final Supplier<DataSource> dataSource;
    /** eventflow.rabbitmq.max-message-bytes: an event rewritten past it is set aside, as one logged past it is. */
    private final long maxEventBytes;
    private final boolean debezium;
    private final String decimalHandling;
    private final Map<String, Map<String, Column>> tables = new ConcurrentHashMap<>();
    private final Map<String, Long> loadedAt = new ConcurrentHashMap<>();
    /** How long a table's column kinds are used before they are read again (a type changed by ALTER TABLE). */
    private static final long REFRESH_NANOS = 30_000_000_000L;

    /**
     * @param dataSource EventFlow's pool (the catalog is read through it)
     * @param values json or debezium
     * @param decimalHandling with debezium values: precise (base64 of the unscaled value, as Debezium's default), string or
     *        double (as its decimal.handling.mode)
     * @param maxEventBytes the broker's limit: a rewritten event over it is marked oversized
     */
    public EventValues(Supplier<DataSource> dataSource, String values, String decimalHandling, long maxEventBytes) {
        this.maxEventBytes = maxEventBytes;
        if (!List.of("json", "debezium").contains(values)) {
            throw new IllegalArgumentException("eventflow.event.values must be json or debezium, not '" + values + "'");
        }
        this.dataSource = dataSource;
        this.debezium = "debezium".equals(values);
        if (!List.of("precise", "string", "double").contains(decimalHandling)) {
            throw new IllegalArgumentException("eventflow.event.decimal-handling must be precise, string or double, not " + decimalHandling);
        }
        this.decimalHandling = decimalHandling;
    }

    private static DateTimeFormatter timeWithFraction() {
        return new DateTimeFormatterBuilder().appendPattern("HH:mm:ss")
                .appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true).toFormatter();
    }

    /** Rewrites the change's event (a next_batch row) with the values asked for; transaction events stay. */
    public void encode(Map<String, Object> change) throws IOException {
        if (!(change.get("event") instanceof RawEvent raw) || !(change.get("schema_name") instanceof String schema)) {
            return;
        }
        String tableName = (String) change.get("table_name");
        // the cache's key: no name holds a NUL, so no two tables share one (as "a.b"."c" and "a"."b.c" would with a dot)
        String table = schema + '\u0000' + tableName;
        if (!debezium) {
            if (!columns(table, schema, tableName).containsKey(JSON_REWRITTEN)) {
                // the logged text is the json form already; a column added since is found at the next load
                return;
            }
        }
        String envelope = rewrite(new String(raw.json(), StandardCharsets.UTF_8), (field, value) ->
                ("before".equals(field) || "after".equals(field)) && !"null".equals(value)
                        ? row(table, schema, tableName, value) : value);
        byte[] rewritten = envelope.getBytes(StandardCharsets.UTF_8);
        change.put("event", new RawEvent(rewritten));
        // the size the broker sees: an interval's ISO form, or a json column as a Debezium string, may be longer
        change.put("bytes", (long) rewritten.length);
        if (rewritten.length > maxEventBytes) {
            change.put("oversized", true);
        }
    }

    /** A row's JSON object with each column's value written as the values asked for ({@code table}: the cache's key). */
    String row(String table, String schema, String tableName, String json) throws IOException {
        Map<String, Column> columns = columns(table, schema, tableName);
        return rewrite(json, (name, raw) -> {
            Column column = columns.get(name);
            if (column == null) {
                // a column added since the kinds were read, or not in the catalog (dropped or renamed since the row was
                // logged): as logged, until the next refresh
                column = load(table, schema, tableName).computeIfAbsent(name, unknown -> AS_LOGGED);
            }
            try {
                return value(column, raw);
            } catch (RuntimeException e) {
                // a value of a form not foreseen: published as logged, never a batch stuck on it
                if (unforeseen.add(table + '\u0000' + name)) {
                    LOG.warn("Column {} of {}.{}: a value of kind {} is published as logged ({}): {}", name, schema, tableName, column.kind(),
                            e.getMessage(), raw.length() > 100 ? raw.substring(0, 100) + "..." : raw);
                }
                return raw;
            }
        });
    }

    /** What a member of a JSON object (its name) or array (name null), given as its text, is written as. */
    @FunctionalInterface
    interface Member {
        String write(String name, String raw) throws IOException;
    }

    /**
     * A JSON object or array written again member by member: each member's text as it is in
     * {@code json} (a string or a nested value exactly as written) goes through {@code member};
     * names are kept, the rest is compact.
     */
    static String rewrite(String json, Member member) throws IOException {
        StringBuilder out = new StringBuilder(json.length() + 32);
        try (JsonParser p = JSON.createParser(json)) {
            boolean object = p.nextToken() == JsonToken.START_OBJECT;
            out.append(object ? '{' : '[');
            boolean first = true;
            for (JsonToken token = p.nextToken(); token != JsonToken.END_OBJECT && token != JsonToken.END_ARRAY; token = p.nextToken()) {
                String name = null;
                if (object) {
                    name = p.currentName();
                    p.nextToken();
                }
                int start = (int) p.currentTokenLocation().getCharOffset();
                skipValue(p);
                int end = (int) p.currentLocation().getCharOffset();
                out.append(first ? "" : ",");
                first = false;
                if (object) {
                    out.append('"').append(QUOTE.quoteAsString(name)).append("\":");
                }
                out.append(member.write(name, json.substring(start, end)));
            }
            out.append(object ? '}' : ']');
        }
        return out.toString();
    }

    /** A table's column kinds, read again when they are older than the refresh interval. */
    private Map<String, Column> columns(String table, String schema, String tableName) {
        Map<String, Column> columns = tables.get(table);
        return columns == null || stale(table) ? load(table, schema, tableName) : columns;
    }

    private Map<String, Column> load(String table, String schema, String tableName) {
        Map<String, Column> columns = new ConcurrentHashMap<>();
        new JdbcTemplate(dataSource.get()).query("SELECT column_name, kind, coalesce(modifier, 0), is_array FROM eventflow.column_kinds(?, ?)",
                rs -> {
                    columns.put(rs.getString(1), new Column(rs.getString(2), rs.getInt(3), rs.getBoolean(4)));
                }, schema, tableName);
        if (columns.values().stream().anyMatch(c -> JSON_KINDS.contains(c.kind()))) {
            columns.put(JSON_REWRITTEN, new Column("", 0, false));
        }
        tables.put(table, columns);
        loadedAt.put(table, System.nanoTime());
        return columns;
    }

    /** Read longer ago than the refresh interval: a column's type may have changed since. */
    private boolean stale(String table) {
        Long at = loadedAt.get(table);
        return at == null || System.nanoTime() - at > REFRESH_NANOS;
    }

    /** One value (its JSON text as logged) as the values asked for write it. */
    String value(Column column, String raw) throws IOException {
        if ("null".equals(raw)) {
            return raw;
        }
        if (column.array()) {
            Column element = new Column(column.kind(), column.modifier(), false);
            return rewrite(raw, (none, item) -> value(element, item));
        }
        if (TEMPORAL.contains(column.kind()) && unquoted(raw).endsWith("infinity")) {
            // PostgreSQL's infinities stay the strings they are, as Debezium sends them
            return raw;
        }
        // the same in both: times with zone in UTC with Z, bytea in base64
        switch (column.kind()) {
            case "timetz":
                return quoted(OffsetTime.parse(unquoted(raw), PG_OFFSET_TIME).withOffsetSameInstant(ZoneOffset.UTC)
                        .toLocalTime().format(ZONED_TIME));
            case "timestamptz":
                String utc = utcTimestamp(raw);
                return utc != null ? utc : zonedTimestamp(raw);
            case "bytea":
                return quoted(Base64.getEncoder().encodeToString(HexFormat.of().parseHex(unquoted(raw).substring(2))));
            default:
                break;
        }
        if (!debezium) {
            return switch (column.kind()) {
                case "money" -> money(unquoted(raw)).toPlainString();
                case "interval" -> quoted(Intervals.iso(unquoted(raw)));
                default -> raw;
            };
        }
        if (("numeric".equals(column.kind()) || "float".equals(column.kind())) && raw.startsWith("\"")) {
            // NaN and the infinities, which JSON has no number for: strings, as Debezium writes a float's
            return raw;
        }
        return switch (column.kind()) {
            case "numeric" -> decimal(new BigDecimal(unquoted(raw)), column.modifier());
            case "money" -> decimal(money(unquoted(raw)), 2);
            case "date" -> String.valueOf(LocalDate.parse(unquoted(raw)).toEpochDay());
            case "time" -> time(LocalTime.parse(unquoted(raw)), column.modifier());
            case "timestamp" -> timestamp(LocalDateTime.parse(unquoted(raw)), column.modifier());
            case "interval" -> String.valueOf(Intervals.micros(unquoted(raw)));
            case "json" -> quoted(raw);
            case "point" -> point(unquoted(raw));
            default -> raw;
        };
    }

    private String decimal(BigDecimal value, int scale) {
        return switch (decimalHandling) {
            case "string" -> quoted(value.toPlainString());
            case "double" -> String.valueOf(value.doubleValue());
            default -> {
                if (scale >= 0) {
                    yield quoted(Base64.getEncoder().encodeToString(value.setScale(scale, RoundingMode.UNNECESSARY).unscaledValue().toByteArray()));
                }
                yield "{\"scale\":" + value.scale() + ",\"value\":\""
                        + Base64.getEncoder().encodeToString(value.unscaledValue().toByteArray()) + "\"}";
            }
        };
    }

    /**
     * A money value as the writer's lc_monetary wrote it ("$1,234.56", "-$0.50", "1.234,56 €",
     * "($5.00)"): its digits, the last two the cents (Debezium's money.fraction.digits).
     */
    static BigDecimal money(String text) {
        StringBuilder digits = new StringBuilder();
        for (char ch : text.toCharArray()) {
            if (ch >= '0' && ch <= '9') {
                digits.append(ch);
            }
        }
        BigDecimal value = new BigDecimal(new java.math.BigInteger(digits.length() == 0 ? "0" : digits.toString()), 2);
        return text.contains("-") || text.contains("(") ? value.negate() : value;
    }

    private static String time(LocalTime time, int precision) {
        long nanos = time.toNanoOfDay();
        return precision <= 3 ? String.valueOf(nanos / 1_000_000) : String.valueOf(nanos / 1_000);
    }

    private static String timestamp(LocalDateTime at, int precision) {
        long seconds = at.toEpochSecond(ZoneOffset.UTC);
        long nanos = at.getNano();
        return precision <= 3 ? String.valueOf(seconds * 1_000 + nanos / 1_000_000) : String.valueOf(seconds * 1_000_000 + nanos / 1_000);
    }

    /** Debezium's Point: x, y, the point as WKB (little-endian) in base64, and no SRID. */
    private static String point(String text) {
        String[] xy = text.substring(1, text.length() - 1).split(",");
        double x = Double.parseDouble(xy[0]);
        double y = Double.parseDouble(xy[1]);
        ByteBuffer wkb = ByteBuffer.allocate(21).order(ByteOrder.LITTLE_ENDIAN);
        wkb.put((byte) 1).putInt(1).putDouble(x).putDouble(y);
        return "{\"x\":" + x + ",\"y\":" + y + ",\"wkb\":\"" + Base64.getEncoder().encodeToString(wkb.array()) + "\",\"srid\":null}";
    }

    /** Past the current value, whole: a string token is read to its closing quote (Jackson reads it lazily). */
    private static void skipValue(JsonParser p) throws IOException {
        if (p.currentToken().isScalarValue()) {
            p.finishToken();
        } else {
            p.skipChildren();
        }
    }

    /** A timestamptz (as JSON text, quoted) in UTC with Z, through java.time: any form to_json writes. */
    static String zonedTimestamp(String raw) {
        return quoted(OffsetDateTime.parse(unquoted(raw)).withOffsetSameInstant(ZoneOffset.UTC).toLocalDateTime().format(ZONED_TIMESTAMP));
    }

    /**
     * The usual timestamptz as the trigger logs it, "yyyy-mm-ddThh:mm:ss[.f]+00:00" (in UTC), with Z for
     * its offset, as the general path writes it; null for any other form.
     */
    static String utcTimestamp(String raw) {
        int n = raw.length();
        if (n < 27 || n > 34 || raw.charAt(0) != '"' || !raw.endsWith("+00:00\"") || raw.charAt(11) != 'T') {
            return null;
        }
        for (int i = 1; i < n - 7; i++) {
            char c = raw.charAt(i);
            boolean ok = switch (i) {
                case 5, 8 -> c == '-';
                case 11 -> true;
                case 14, 17 -> c == ':';
                case 20 -> c == '.' && n >= 29;
                default -> c >= '0' && c <= '9';
            };
            if (!ok) {
                return null;
            }
        }
        return raw.substring(0, n - 7) + "Z\"";
    }

    private static String unquoted(String raw) {
        if (raw.length() >= 2 && raw.charAt(0) == '"' && raw.charAt(raw.length() - 1) == '"' && raw.indexOf('\\') < 0) {
            // no escape in it: the text between the quotes
            return raw.substring(1, raw.length() - 1);
        }
        if (raw.startsWith("\"")) {
            try (JsonParser p = JSON.createParser(raw)) {
                p.nextToken();
                return p.getText();
            } catch (IOException e) {
                throw new IllegalArgumentException("not a JSON string: " + raw, e);
            }
        }
        return raw;
    }

    private static String quoted(String text) {
        return "\"" + new String(QUOTE.quoteAsString(text)) + "\"";
    }

    /** PostgreSQL's interval text (IntervalStyle postgres) as Debezium's MicroDuration. */
    static final class Intervals {

        /** Debezium's average month: 365.25 / 12 days. */
        static final double DAYS_PER_MONTH = 365.25 / 12;

        private Intervals() {
        }

        /** An interval's parts: months (a year is 12), days and the time of day in microseconds, each with its sign. */
        record Parts(long months, long days, long timeMicros) {
        }

        /** Reads PostgreSQL's interval text (IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.5"). */
        static Parts parse(String text) {
            long months = 0;
            long days = 0;
            long timeMicros = 0;
            String[] parts = text.trim().split(" ");
            for (int i = 0; i < parts.length; i++) {
                String part = parts[i];
                if (part.contains(":")) {
                    boolean negative = part.startsWith("-");
                    String[] hms = (negative || part.startsWith("+") ? part.substring(1) : part).split(":");
                    long micros = Long.parseLong(hms[0]) * 3_600_000_000L + Long.parseLong(hms[1]) * 60_000_000L
                            + new BigDecimal(hms[2]).movePointRight(6).longValue();
                    timeMicros += negative ? -micros : micros;
                    continue;
                }
                long n = Long.parseLong(part);
                String unit = parts[++i];
                if (unit.startsWith("year")) {
                    months += 12 * n;
                } else if (unit.startsWith("mon")) {
                    months += n;
                } else if (unit.startsWith("day")) {
                    days += n;
                }
            }
            return new Parts(months, days, timeMicros);
        }

        /**
         * As an ISO 8601 duration, the form PostgreSQL writes with IntervalStyle iso_8601:
         * {@code P1Y2M3DT4H5M6.789S}, each part with its own sign ({@code P-1DT-1S}), {@code PT0S} for none.
         */
        static String iso(String text) {
            Parts p = parse(text);
            StringBuilder out = new StringBuilder("P");
            if (p.months() / 12 != 0) {
                out.append(p.months() / 12).append('Y');
            }
            if (p.months() % 12 != 0) {
                out.append(p.months() % 12).append('M');
            }
            if (p.days() != 0) {
                out.append(p.days()).append('D');
            }
            if (p.timeMicros() != 0) {
                long abs = Math.abs(p.timeMicros());
                String sign = p.timeMicros() < 0 ? "-" : "";
                out.append('T');
                if (abs >= 3_600_000_000L) {
                    out.append(sign).append(abs / 3_600_000_000L).append('H');
                }
                if (abs % 3_600_000_000L >= 60_000_000L) {
                    out.append(sign).append(abs % 3_600_000_000L / 60_000_000L).append('M');
                }
                long micros = abs % 60_000_000L;
                if (micros != 0) {
                    out.append(sign).append(BigDecimal.valueOf(micros, 6).stripTrailingZeros().toPlainString()).append('S');
                }
            }
            return out.length() == 1 ? "PT0S" : out.toString();
        }

        /** As Debezium's MicroDuration: microseconds, a month being DAYS_PER_MONTH days. */
        static long micros(String text) {
            Parts p = parse(text);
            double totalDays = p.months() * DAYS_PER_MONTH + p.days();
            return Math.round(totalDays * 86_400_000_000.0) + p.timeMicros();
        }
    }
}
