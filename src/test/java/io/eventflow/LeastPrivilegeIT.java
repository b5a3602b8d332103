package io.eventflow;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.TestServices;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * EventFlow runs as a database role that is not a superuser (the owner of its database, as the
 * README sets it up), and captures the tables of an application role that owns them; that owner's
 * code never runs with EventFlow's rights, and the writer's session settings do not change the
 * values published.
 */
class LeastPrivilegeIT extends EventFlowTestSupport {

    private final String service = TestServices.uniqueName("eventflow_it_service");
    private final String application = TestServices.uniqueName("eventflow_it_app");

    @Override
    protected void prepare() throws Exception {
        try (Connection c = TestServices.connect("postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + service + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE");
            st.execute("CREATE ROLE " + application + " LOGIN NOSUPERUSER");
            st.execute("ALTER DATABASE " + database + " OWNER TO " + service);
        }
        try (Connection c = db(); Statement st = c.createStatement()) {
            st.execute("CREATE SCHEMA shop AUTHORIZATION " + application);
        }
    }

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.postgres.url",
                "postgresql://" + service + "@" + TestServices.pgHost() + ":" + TestServices.pgPort() + "/" + database + "?sslmode=disable");
    }

    @AfterAll
    void dropRoles() throws Exception {
        stopApp();
        TestServices.dropDatabase(database);
        try (Connection c = TestServices.connect("postgres"); Statement st = c.createStatement()) {
            st.execute("DROP ROLE IF EXISTS " + application);
            st.execute("DROP ROLE IF EXISTS " + service);
        }
    }

    /** Runs statements as the application role, which owns the schema shop and nothing of EventFlow's. */
    private void asApplication(String... statements) throws Exception {
        try (Connection c = TestServices.connect(database, application); Statement st = c.createStatement()) {
            for (String statement : statements) {
                st.execute(statement);
            }
        }
    }

    private JsonNode afterOf(String table, long id) {
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream()
                .anyMatch(r -> r.routingKey().equals("shop." + table + ".c") && r.json().at("/after/id").asLong() == id));
        return consumer.received().stream().filter(r -> r.routingKey().equals("shop." + table + ".c") && r.json().at("/after/id").asLong() == id)
                .map(Received::json).findFirst().orElseThrow().get("after");
    }

    @Test
    void eventFlowIsNotASuperuserAndCapturesAnotherRolesTable() throws Exception {
        try (Connection c = TestServices.connect(database, service); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) {
            rs.next();
            assertFalse(rs.getBoolean(1), "EventFlow's role is no superuser");
        }
        asApplication("CREATE TABLE shop.orders (id bigint PRIMARY KEY, item text NOT NULL)",
                "SELECT eventflow.enable_capture('shop.orders')",
                "INSERT INTO shop.orders VALUES (1, 'tea')");
        assertEquals("tea", afterOf("orders", 1).get("item").asText());
    }

    @Test
    void aTableOwnersCastToJsonRunsWithTheWritersRightsNotEventFlows() throws Exception {
        // the attack: a type of the owner's with a cast to json that reads what EventFlow may read
        asApplication("CREATE TYPE shop.mood AS ENUM ('calm', 'curious')",
                "CREATE FUNCTION shop.leak(shop.mood) RETURNS json LANGUAGE plpgsql AS $$ BEGIN"
                        + " IF has_table_privilege('eventflow.change_log', 'SELECT') THEN"
                        + "   RETURN to_json('read ' || (SELECT string_agg(after::text, ' ') FROM eventflow.change_log));"
                        + " END IF;"
                        + " RETURN to_json('no access as ' || current_user); END $$",
                "CREATE CAST (shop.mood AS json) WITH FUNCTION shop.leak(shop.mood)",
                "CREATE TABLE shop.diary (id bigint PRIMARY KEY, mood shop.mood)",
                "SELECT eventflow.enable_capture('shop.diary')",
                "INSERT INTO shop.diary VALUES (1, 'curious')");
        assertEquals("no access as " + application, afterOf("diary", 1).get("mood").asText(),
                "the cast ran as the writer, who cannot read EventFlow's change log");
    }

    @Test
    void aSnapshotReadsOnlyWhatTheOwnerGrantedAndNeverRunsTheOwnersCode() throws Exception {
        asApplication("CREATE TABLE shop.stock (id bigint PRIMARY KEY, item text)",
                "INSERT INTO shop.stock VALUES (1, 'tea'), (2, 'milk')",
                "SELECT eventflow.enable_capture('shop.stock')",
                "GRANT USAGE ON SCHEMA shop TO " + service);
        SQLException refused = assertThrows(SQLException.class, () -> asService("SELECT eventflow.snapshot('shop.stock')"));
        assertTrue(refused.getMessage().contains("cannot snapshot shop.stock: EventFlow's database user " + service + " may not read it")
                && refused.getMessage().contains("GRANT SELECT ON shop.stock TO " + service), refused.getMessage());

        asApplication("GRANT SELECT ON shop.stock TO " + service);
        asService("SELECT eventflow.snapshot('shop.stock')");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream().filter(r -> r.routingKey().equals("shop.stock.r")).count() == 2);

        // a type of the owner's with a cast to json would run as EventFlow in a snapshot: refused
        asApplication("CREATE TYPE shop.grade AS ENUM ('a', 'b')",
                "CREATE FUNCTION shop.grade_json(shop.grade) RETURNS json LANGUAGE sql AS $$ SELECT to_json(current_user::text) $$",
                "CREATE CAST (shop.grade AS json) WITH FUNCTION shop.grade_json(shop.grade)",
                "CREATE TABLE shop.marks (id bigint PRIMARY KEY, grades shop.grade[])",
                "GRANT SELECT ON shop.marks TO " + service,
                "SELECT eventflow.enable_capture('shop.marks')");
        refused = assertThrows(SQLException.class, () -> asService("SELECT eventflow.snapshot('shop.marks')"));
        assertTrue(refused.getMessage().contains("its type shop.grade becomes JSON through a cast of its owner"), refused.getMessage());
        // and a table owner cannot ask for snapshots at all
        refused = assertThrows(SQLException.class, () -> asApplication("SELECT eventflow.snapshot('shop.stock')"));
        assertTrue(refused.getMessage().contains("only EventFlow's database user asks for snapshots"), refused.getMessage());
    }

    private void asService(String statement) throws SQLException {
        try (Connection c = TestServices.connect(database, service); Statement st = c.createStatement()) {
            st.execute(statement);
        }
    }

    @Test
    void aWritersSearchPathCannotPutItsOwnFunctionsOrOperatorsIntoTheLoggingTrigger() throws Exception {
        // the attack: objects named as the ones the logging trigger (EventFlow's rights) calls, in a
        // schema the writer puts before pg_catalog; each would record whose rights it ran with
        asApplication("CREATE TABLE shop.ran_as (who text)",
                // open to every role, EventFlow's included, or its lookups would skip the schema anyway
                "GRANT USAGE ON SCHEMA shop TO PUBLIC",
                "GRANT INSERT ON shop.ran_as TO PUBLIC",
                "CREATE FUNCTION shop.note(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN"
                        + " INSERT INTO shop.ran_as VALUES (current_user); RETURN a OPERATOR(pg_catalog.=) b; END $$",
                "CREATE OPERATOR shop.= (LEFTARG = text, RIGHTARG = text, FUNCTION = shop.note)",
                "CREATE FUNCTION shop.octet_length(text) RETURNS integer LANGUAGE plpgsql AS $$ BEGIN"
                        + " INSERT INTO shop.ran_as VALUES (current_user); RETURN 0; END $$",
                "CREATE FUNCTION shop.current_setting(text, boolean) RETURNS text LANGUAGE plpgsql AS $$ BEGIN"
                        + " INSERT INTO shop.ran_as VALUES (current_user); RETURN pg_catalog.current_setting($1, $2); END $$",
                "CREATE TABLE shop.notes (id bigint PRIMARY KEY, body text)",
                "SELECT eventflow.enable_capture('shop.notes')");
        asApplication("SET search_path = shop, pg_catalog", "INSERT INTO notes VALUES (1, 'hello')", "UPDATE notes SET body = 'hello again' WHERE id = 1");
        assertEquals("hello", afterOf("notes", 1).get("body").asText(), "the change is logged all the same");
        try (Connection c = TestServices.connect(database, application); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT count(*) FILTER (WHERE who <> '" + application + "'), count(*) FROM shop.ran_as")) {
            rs.next();
            assertEquals(0, rs.getLong(1), "none of the writer's objects ran with EventFlow's rights");
        }
    }

    @Test
    void theWritersSessionSettingsDoNotChangeThePublishedValues() throws Exception {
        asApplication("CREATE TABLE shop.readings (id bigint PRIMARY KEY, ratio float8, raw bytea, took interval,"
                        + " at timestamptz, day date, hour time, big numeric, cash money, local_hour timetz)",
                "SELECT eventflow.enable_capture('shop.readings')");
        String row = " (0.1::float8 + 0.2::float8, '\\x00ff10', interval '1 day 2 hours 3.5 seconds',"
                + " timestamptz '2024-02-29 13:14:15.123456+02', date '2024-02-29', time '13:14:15', 12345678901234567890.123,"
                + " 1234.56, timetz '13:14:15+02')";
        asApplication("INSERT INTO shop.readings VALUES (1," + row.substring(2));
        asApplication("SET extra_float_digits = -3", "SET bytea_output = escape", "SET IntervalStyle = sql_standard",
                "SET TimeZone = 'Asia/Kathmandu'", "SET DateStyle = 'ISO, DMY'",
                "INSERT INTO shop.readings VALUES (2," + row.substring(2));
        JsonNode plain = afterOf("readings", 1);
        JsonNode odd = afterOf("readings", 2);
        for (String column : List.of("ratio", "raw", "took", "at", "day", "hour", "big", "cash", "local_hour")) {
            assertEquals(plain.get(column), odd.get(column), column + " is the same whatever the writer's session says");
        }
        // the json values: ISO 8601, exact numbers, base64
        assertEquals(0.30000000000000004, plain.get("ratio").asDouble(), 0.0, "every digit of a float");
        assertEquals("2024-02-29T11:14:15.123456Z", plain.get("at").asText(), "times with zone in UTC, with Z");
        assertEquals("11:14:15Z", plain.get("local_hour").asText());
        assertEquals("P1DT2H3.5S", plain.get("took").asText(), "an interval as an ISO 8601 duration");
        assertEquals("AP8Q", plain.get("raw").asText(), "bytea in base64");
        String body = consumer.received().stream().filter(r -> r.routingKey().equals("shop.readings.c")).findFirst().orElseThrow().body();
        assertTrue(body.contains("\"cash\":1234.56,"), "money as a number: " + body);
        assertTrue(body.contains("\"big\":12345678901234567890.123,"), "numeric exact: " + body);
        assertEquals("2024-02-29", plain.get("day").asText());
        assertEquals("13:14:15", plain.get("hour").asText());
    }
}
