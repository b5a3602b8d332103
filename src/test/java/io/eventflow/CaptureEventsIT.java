package io.eventflow;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.TestServices;
import io.eventflow.web.StatusStrip;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a consumer bound to the change exchange receives for inserts, updates and deletes. */
class CaptureEventsIT extends EventFlowTestSupport {

    @BeforeEach
    void clear() {
        consumer.clear();
    }

    private List<Received> awaitEvents(int n) {
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() >= n);
        return consumer.received();
    }

    @Test
    void insertUpdateDeleteBecomeCreateUpdateDeleteEvents() throws Exception {
        long id = insertUser("Ada Lovelace", "ada@example.com");
        sql("UPDATE eventflow_demo.users SET name = 'Ada King' WHERE id = " + id);
        sql("DELETE FROM eventflow_demo.users WHERE id = " + id);

        List<Received> events = awaitEvents(3);
        assertEquals(3, events.size(), "exactly one event per change");

        Received c = events.get(0);
        Received u = events.get(1);
        Received d = events.get(2);
        assertEquals("eventflow_demo.users.c", c.routingKey());
        assertEquals("eventflow_demo.users.u", u.routingKey());
        assertEquals("eventflow_demo.users.d", d.routingKey());

        JsonNode create = c.json();
        assertEquals("c", create.get("op").asText());
        assertTrue(create.get("before").isNull());
        assertEquals("Ada Lovelace", create.at("/after/name").asText());
        assertEquals("ada@example.com", create.at("/after/email").asText());
        assertEquals(id, create.at("/after/id").asLong());
        assertTrue(create.at("/after/created_at").isTextual(), "the full row, all columns");
        assertEquals(database, create.at("/source/db").asText());
        assertEquals("eventflow_demo", create.at("/source/schema").asText());
        assertEquals("users", create.at("/source/table").asText());
        assertTrue(create.at("/source/txId").asLong() > 0);
        assertTrue(create.at("/source/ts_ms").asLong() > 0);
        assertTrue(create.get("ts_ms").asLong() >= create.at("/source/ts_ms").asLong());

        // full rows on every side: the update's before is the row as created, its after the same
        // row with the new name (and updated_at moved, by the demo table's trigger), the delete's
        // before the row as updated
        JsonNode update = u.json();
        assertEquals("u", update.get("op").asText());
        assertEquals(create.get("after"), update.get("before"));
        assertTrue(!update.at("/after/updated_at").equals(create.at("/after/updated_at")), "updated_at moves on an update made with psql too");
        ObjectNode renamed = create.get("after").deepCopy();
        renamed.put("name", "Ada King");
        renamed.set("updated_at", update.at("/after/updated_at"));
        assertEquals(renamed, update.get("after"));

        JsonNode delete = d.json();
        assertEquals("d", delete.get("op").asText());
        assertEquals(renamed, delete.get("before"));
        assertTrue(delete.get("after").isNull());

        long previous = 0;
        for (Received r : events) {
            assertNotNull(r.messageId());
            assertEquals(r.json().at("/source/changeId").asText(), r.messageId(), "message_id is the change id");
            assertTrue(Long.parseLong(r.messageId()) > previous, "ids grow in commit order");
            previous = Long.parseLong(r.messageId());
            assertEquals(2, r.properties().getDeliveryMode(), "persistent");
            assertEquals("application/json", r.properties().getContentType());
            assertEquals(r.routingKey(), r.properties().getType());
            assertNotNull(r.properties().getTimestamp());
        }
    }

    @Test
    void aOneMegabyteRowIsDeliveredWhole() throws Exception {
        String big = "x".repeat(1024 * 1024);
        long id = insertUser(big, "big@example.com");

        Received r = awaitEvents(1).get(0);
        assertEquals(big, r.json().at("/after/name").asText(), "1 MB name arrives byte for byte");
        assertEquals(id, r.json().at("/after/id").asLong());
        assertTrue(r.body().length() > 1024 * 1024);
    }

    @Test
    void numbersTextAndNestedJsonArriveAsPostgresHoldsThem() throws Exception {
        sql("CREATE TABLE public.measures (id bigint PRIMARY KEY, amount numeric(40,20), ratio float8, big numeric,"
                + " tiny numeric, doc jsonb, note text)",
                "SELECT eventflow.enable_capture('public.measures')",
                "INSERT INTO public.measures VALUES (1, 12345678901234567890.12345678901234567890, 0.1,"
                        + " 123456789012345678901234567890, 0.00000001,"
                        + " '{\"a\": [1, 2.50, {\"b\": null}], \"k\": \"v\\\"q\"}',"
                        + " E'line\\nbreak \\u00e9 <b>&amp;')");

        Received r = awaitEvents(1).get(0);
        for (String number : List.of("12345678901234567890.12345678901234567890", "123456789012345678901234567890",
                "0.00000001", "2.50")) {
            assertTrue(r.body().contains(number), number + " written as PostgreSQL writes it: " + r.body());
        }
        // the row as PostgreSQL's to_jsonb gives it, compared with every number's digits and scale
        ObjectMapper exact = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
        String row;
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT to_jsonb(m)::text FROM public.measures m")) {
            rs.next();
            row = rs.getString(1);
        }
        assertEquals(exact.readTree(row), exact.readTree(r.body()).get("after"));
        assertEquals("line\nbreak \u00e9 <b>&amp;", r.json().at("/after/note").asText());
    }

    @Test
    void aRolledBackTransactionPublishesNothing() throws Exception {
        try (Connection c = db()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO eventflow_demo.users (name, email) VALUES (?, ?)")) {
                ps.setString(1, "Ghost");
                ps.setString(2, "ghost@example.com");
                ps.executeUpdate();
            }
            c.rollback();
        }
        insertUser("After", "after@example.com");

        List<Received> events = awaitEvents(1);
        // the later commit has arrived, so the rolled-back one would have been published before it
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(() -> consumer.count() == 1);
        assertEquals("After", events.get(0).json().at("/after/name").asText());
    }

    @Test
    void anotherTableIsCapturedOnceEnabled() throws Exception {
        sql("CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric, note text)",
                "SELECT eventflow.enable_capture('public.orders')",
                "INSERT INTO public.orders VALUES (1, 9.99, 'first')",
                "SELECT eventflow.disable_capture('public.orders')",
                "INSERT INTO public.orders VALUES (2, 1.00, 'not captured')");
        insertUser("Marker", "marker@example.com");

        List<Received> events = awaitEvents(2);
        await().during(Duration.ofMillis(1000)).atMost(Duration.ofSeconds(5)).until(() -> consumer.count() == 2);
        assertEquals("public.orders.c", events.get(0).routingKey());
        assertEquals(9.99, events.get(0).json().at("/after/total").asDouble());
        assertEquals("eventflow_demo.users.c", events.get(1).routingKey());
    }

    @Test
    void anApplicationRoleWithRightsOnItsOwnTableOnlyIsCaptured() throws Exception {
        String role = TestServices.uniqueName("eventflow_it_app");
        sql("CREATE TABLE public.invoices (id bigint PRIMARY KEY, amount numeric)",
                "SELECT eventflow.enable_capture('public.invoices')",
                "CREATE ROLE " + role + " LOGIN",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON public.invoices TO " + role);
        try {
            try (Connection app = DriverManager.getConnection(TestServices.jdbcUrl(database), role, null);
                    Statement st = app.createStatement()) {
                st.execute("INSERT INTO public.invoices VALUES (1, 10)");
                st.execute("UPDATE public.invoices SET amount = 12 WHERE id = 1");
                st.execute("DELETE FROM public.invoices WHERE id = 1");
                // and the role has no rights on EventFlow's own objects
                SQLException denied = assertThrows(SQLException.class, () -> st.executeQuery("SELECT 1 FROM eventflow.change_log"));
                assertEquals("42501", denied.getSQLState(), denied.getMessage());
            }
            List<Received> events = awaitEvents(3);
            assertEquals(List.of("public.invoices.c", "public.invoices.u", "public.invoices.d"),
                    events.stream().map(Received::routingKey).toList());
            assertEquals(12, events.get(1).json().at("/after/amount").asInt());
        } finally {
            sql("DROP OWNED BY " + role, "DROP ROLE " + role);
        }
    }

    @Test
    void aSnapshotPublishesTheRowsATableAlreadyHoldsBeforeTheirLaterChanges() throws Exception {
        // masked columns whose names are not plain ASCII, or hold a backslash, never appear in 'r' events
        sql("CREATE TABLE public.products (id bigint PRIMARY KEY, title text, \"pässwort\" text, \"pass\\word\" text)",
                "INSERT INTO public.products VALUES (1, 'lamp', 'geheim-ä', 'x\\y'), (2, 'desk', 'geheim-ä', 'x\\y'), (3, 'chair', 'geheim-ä', 'x\\y')",
                "SELECT eventflow.enable_capture('public.products', 'pässwort', 'pass\\word')");
        long job;
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT eventflow.snapshot('public.products')")) {
            rs.next();
            job = rs.getLong(1);
        }
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT masked_columns::text FROM eventflow.captured_tables WHERE table_name = 'products'")) {
            rs.next();
            assertEquals("{pässwort,\"pass\\\\word\"}", rs.getString(1), "captured_tables decodes the names as they were given");
        }
        List<Received> reads = awaitEvents(3);
        sql("UPDATE public.products SET title = 'desk lamp' WHERE id = 1");

        List<Received> events = awaitEvents(4);
        assertEquals(List.of("public.products.r 1", "public.products.r 2", "public.products.r 3", "public.products.u 1"),
                events.stream().map(r -> r.routingKey() + " " + r.json().at("/after/id").asLong()).toList());
        for (Received r : reads) {
            assertTrue(!r.body().contains("geheim") && !r.body().contains("pässwort") && !r.body().contains("pass") && !r.body().contains("x\\\\y"), "masked columns absent: " + r.body());
        }
        JsonNode read = events.get(1).json();
        assertEquals("r", read.get("op").asText());
        assertTrue(read.get("before").isNull());
        assertEquals("desk", read.at("/after/title").asText());
        assertEquals("incremental", read.at("/source/snapshot").asText());
        assertEquals("last", events.get(2).json().at("/source/snapshot").asText(), "the table's last row");
        assertEquals("false", events.get(3).json().at("/source/snapshot").asText());
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT id, state, rows_done, finished_at IS NOT NULL FROM eventflow.snapshots WHERE table_name = 'products'")) {
            assertTrue(rs.next());
            assertEquals(job, rs.getLong(1));
            assertEquals("done", rs.getString(2));
            assertEquals(3, rs.getLong(3));
            assertTrue(rs.getBoolean(4));
        }

        // refused with what to do: a table not captured, one without a primary key
        sql("CREATE TABLE public.drafts (id bigint PRIMARY KEY)");
        SQLException refused = assertThrows(SQLException.class, () -> sql("SELECT eventflow.snapshot('public.drafts')"));
        assertTrue(refused.getMessage().contains("capture is not enabled on public.drafts"), refused.getMessage());
        sql("CREATE TABLE public.notes (body text)", "SELECT eventflow.enable_capture('public.notes')");
        refused = assertThrows(SQLException.class, () -> sql("SELECT eventflow.snapshot('public.notes')"));
        assertTrue(refused.getMessage().contains("cannot snapshot notes: it has no primary key"), refused.getMessage());
    }

    @Test
    void aSnapshotCanBeCancelledAndRequestsRunOneAfterTheOther() throws Exception {
        sql("CREATE TABLE public.big (id bigint PRIMARY KEY, v int)",
                "INSERT INTO public.big SELECT g, 0 FROM generate_series(1, 20000) g",
                "CREATE TABLE public.small (id bigint PRIMARY KEY)",
                "INSERT INTO public.small SELECT generate_series(1, 5)",
                "SELECT eventflow.enable_capture('public.big')", "SELECT eventflow.enable_capture('public.small')");
        // asked for while the snapshot route is paused, so that both wait and the first is cancelled mid-way
        context().getRouteController().stopRoute("snapshot-chunks");
        try {
            sql("SELECT eventflow.snapshot('public.big')", "SELECT eventflow.snapshot('public.small')", "ANALYZE public.big",
                    // the first chunk of big, read by hand as EventFlow would
                    "SELECT eventflow.snapshot_chunk(1000)");
            // progress in the metrics, in JMX and on the demo page's status strip
            await().atMost(Duration.ofSeconds(10)).until(() -> get("/observe/metrics").body().contains("eventflow_snapshots_open 2.0"));
            CaptureStats stats = context().getRegistry().lookupByNameAndType("captureStats", CaptureStats.class);
            assertEquals("public.big: 1000 rows read of about 20000", stats.getSnapshotProgress());
            StatusStrip strip = context().getRegistry().lookupByNameAndType("statusStrip", StatusStrip.class);
            assertTrue(strip.render().contains("<dt>snapshot</dt><dd>public.big: 1000 rows read of about 20000</dd>"), strip.render());
            sql("SELECT eventflow.cancel_snapshot('public.big')");
        } finally {
            context().getRouteController().startRoute("snapshot-chunks");
        }
        List<Received> events = awaitEvents(1005);
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(10)).until(() -> consumer.count() == 1005);
        assertEquals(1000, events.stream().filter(r -> r.routingKey().equals("public.big.r")).count(), "one chunk, then cancelled");
        assertEquals(5, events.stream().filter(r -> r.routingKey().equals("public.small.r")).count());
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT table_name || ' ' || state || ' ' || rows_done FROM eventflow.snapshots WHERE table_name IN ('big', 'small') ORDER BY id")) {
            rs.next();
            assertEquals("big cancelled 1000", rs.getString(1));
            rs.next();
            assertEquals("small done 5", rs.getString(1));
        }
    }

    @Test
    void aSessionIdleInATransactionHoldsTheSnapshotBackNotTheWritersAndIsNamed() throws Exception {
        sql("CREATE TABLE public.shelves (id bigint PRIMARY KEY, label text)",
                "INSERT INTO public.shelves SELECT g, 'shelf ' || g FROM generate_series(1, 3) g",
                "SELECT eventflow.enable_capture('public.shelves')");
        try (Connection idle = db(); Statement st = idle.createStatement()) {
            idle.setAutoCommit(false);
            st.execute("UPDATE public.shelves SET label = 'top' WHERE id = 1");
            int pid;
            try (var rs = st.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                pid = rs.getInt(1);
            }
            sql("SELECT eventflow.snapshot('public.shelves')");
            // writers go on meanwhile
            sql("UPDATE public.shelves SET label = 'middle' WHERE id = 2");
            await().atMost(Duration.ofSeconds(20)).until(() -> snapshotError("shelves").contains("(pid " + pid + ", idle in transaction since"));
            idle.commit();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream().filter(r -> r.routingKey().equals("public.shelves.r")).count() == 3);
        assertEquals("", snapshotError("shelves"), "the error goes once the chunk went through");
    }

    private String snapshotError(String table) throws SQLException {
        try (Connection c = db(); PreparedStatement ps = c.prepareStatement("SELECT coalesce(error, '') FROM eventflow.snapshots WHERE table_name = ?")) {
            ps.setString(1, table);
            var rs = ps.executeQuery();
            return rs.next() ? rs.getString(1) : "";
        }
    }

    @Test
    void maskedColumnsNeverLeaveTheDatabase() throws Exception {
        sql("CREATE TABLE public.accounts (id bigint PRIMARY KEY, login text, password_hash text)",
                "SELECT eventflow.enable_capture('public.accounts', 'password_hash')",
                "INSERT INTO public.accounts VALUES (1, 'ada', 'secret-hash')",
                "UPDATE public.accounts SET password_hash = 'new-hash' WHERE id = 1");

        List<Received> events = awaitEvents(2);
        for (Received r : events) {
            assertTrue(!r.body().contains("hash"), "masked column absent: " + r.body());
        }
        assertEquals("ada", events.get(1).json().at("/after/login").asText());
        try (Connection c = db(); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT masked_columns::text FROM eventflow.captured_tables WHERE table_name = 'accounts'")) {
            assertTrue(rs.next());
            assertEquals("{password_hash}", rs.getString(1), "captured_tables names the masked columns");
        }

        // a misspelt column would have masked nothing: refused, and the masking in place stays
        SQLException refused = assertThrows(SQLException.class,
                () -> sql("SELECT eventflow.enable_capture('public.accounts', 'pasword_hash')"));
        assertTrue(refused.getMessage().contains("cannot mask pasword_hash on accounts: no such column"), refused.getMessage());
        sql("UPDATE public.accounts SET password_hash = 'third-hash', login = 'ada2' WHERE id = 1");
        Received third = awaitEvents(3).get(2);
        assertEquals("ada2", third.json().at("/after/login").asText());
        assertTrue(!third.body().contains("hash"), "still masked: " + third.body());
    }
}
