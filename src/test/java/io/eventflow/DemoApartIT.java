package io.eventflow;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import io.eventflow.support.EventFlowProcess;
import io.eventflow.support.EventFlowTestSupport;
import io.eventflow.support.TestServices;
import org.apache.camel.main.Main;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web demo is apart from the product: its table is eventflow_demo.users, and a database that
 * already holds an application's public.users (with a password_hash) is left exactly as it was,
 * with the demo on and off; with the demo off, the product runs without a page or a stream.
 */
class DemoApartIT extends EventFlowTestSupport {

    private String before;

    @Override
    protected void prepare() throws Exception {
        sql("CREATE TABLE public.users (id serial PRIMARY KEY, email text NOT NULL, password_hash text NOT NULL, updated_at timestamptz)",
                "INSERT INTO public.users (email, password_hash, updated_at) VALUES ('owner@app.example', 'bcrypt$secret', '2020-01-01')");
        before = applicationTable();
    }

    /** Everything about the application's public.users: rows, triggers, indexes, columns. */
    private String applicationTable() throws Exception {
        try (Connection c = db(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT (SELECT string_agg(u::text, ';' ORDER BY u.id) FROM public.users u)"
                        + " || ' | ' || coalesce((SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'public.users'::regclass), '')"
                        + " || ' | ' || (SELECT string_agg(indexdef, ',' ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'users')"
                        + " || ' | ' || (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attnum > 0)")) {
            rs.next();
            return rs.getString(1);
        }
    }

    private int status(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    @Test
    void withTheDemoOnTheApplicationsUsersTableIsLeftAsItWas() throws Exception {
        assertEquals(before, applicationTable());
        assertFalse(before.contains("eventflow"), before);
        // the demo has its own table, captured, and the page lists that one
        insertUser("Demo", "demo@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream().anyMatch(r -> r.routingKey().equals("eventflow_demo.users.c")));
        String page = get("/users").body();
        assertTrue(page.contains("demo@example.com"), page);
        assertFalse(page.contains("owner@app.example"), "the application's users are not shown: " + page);
        try (Connection c = db(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT string_agg(schema_name || '.' || table_name, ',') FROM eventflow.captured_tables")) {
            rs.next();
            assertEquals("eventflow_demo.users", rs.getString(1), "the only table captured");
        }
        // an application change to its own table publishes nothing and changes nothing of it
        sql("UPDATE public.users SET password_hash = 'bcrypt$other' WHERE id = 1");
        sql("UPDATE public.users SET password_hash = 'bcrypt$secret' WHERE id = 1");
        assertEquals(before, applicationTable());
    }

    @Test
    void withTheDemoOffTheProductRunsWithoutPageStreamOrTable() throws Exception {
        String off = TestServices.uniqueName("eventflow_it");
        TestServices.createDatabase(off);
        int port = TestServices.freePort();
        try {
            try (Connection c = TestServices.connect(off); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE public.users (id serial PRIMARY KEY, email text NOT NULL, password_hash text NOT NULL)");
                st.execute("INSERT INTO public.users (email, password_hash) VALUES ('owner@app.example', 'bcrypt$secret')");
            }
            Map<String, String> props = new HashMap<>(Map.of("eventflow.demo.enabled", "false"));
            Main product = startApp(off, port, props);
            try {
                await().atMost(Duration.ofSeconds(20)).until(() -> status(port, "/observe/health/ready") == 200);
                assertEquals(404, status(port, "/"), "no page");
                assertEquals(404, status(port, "/users"), "no user endpoints");
                assertEquals(404, status(port, "/events"), "no stream");
                try (Connection c = TestServices.connect(off); Statement st = c.createStatement()) {
                    ResultSet rs = st.executeQuery("SELECT to_regnamespace('eventflow_demo') IS NULL,"
                            + " (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.users'::regclass),"
                            + " (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'users')");
                    rs.next();
                    assertTrue(rs.getBoolean(1), "no demo schema");
                    assertEquals(0, rs.getLong(2), "no trigger on the application's table");
                    assertEquals(1, rs.getLong(3), "its own primary key only");
                    // the product captures what it is given
                    st.execute("CREATE TABLE public.orders (id bigint PRIMARY KEY, item text)");
                    st.execute("SELECT eventflow.enable_capture('public.orders')");
                    st.execute("INSERT INTO public.orders VALUES (1, 'tea')");
                }
                await().atMost(Duration.ofSeconds(20)).until(() -> consumer.received().stream()
                        .anyMatch(r -> r.routingKey().equals("public.orders.c") && r.body().contains("tea")));
                // none of the demo's routes or beans is there
                assertTrue(product.getCamelContext().getRoutes().stream().noneMatch(r -> r.getId().startsWith("web-") || r.getId().startsWith("stream-")),
                        product.getCamelContext().getRoutes().toString());
                assertNull(product.getCamelContext().getRegistry().lookupByName("sseHub"));
                assertNull(product.getCamelContext().getRegistry().lookupByName("streamConnectionFactory"));
            } finally {
                product.stop();
            }
        } finally {
            TestServices.dropDatabase(off);
        }
    }

    @Test
    void withTheDemoOffTheProductRunsWithoutAnyDemoFileOrClass() throws Exception {
        EventFlowProcess.Scratch scratch = EventFlowProcess.Scratch.create("demo-apart-off.log");
        try {
            // no demo directory at all, and the JVM lists every class it loads
            try (EventFlowProcess product = scratch.start("-Deventflow.demo.enabled=false", "-Deventflow.demo.directory=target/no-such-demo",
                    "-Xlog:class+load=info")) {
                try (Connection c = TestServices.connect(scratch.database()); Statement st = c.createStatement()) {
                    st.execute("CREATE TABLE public.orders (id bigint PRIMARY KEY, item text)");
                    st.execute("SELECT eventflow.enable_capture('public.orders')");
                    st.execute("INSERT INTO public.orders VALUES (1, 'tea')");
                    await().atMost(Duration.ofSeconds(20)).until(() -> {
                        ResultSet rs = st.executeQuery("SELECT published_total FROM eventflow.cursors WHERE name = 'default'");
                        return rs.next() && rs.getLong(1) == 1;
                    });
                }
                String log = product.log();
                assertTrue(log.contains("io.eventflow.EventFlowConfiguration"), "the class-load log is there");
                assertFalse(log.contains("io.eventflow.web."), "no class of the demo was loaded");
            }
        } finally {
            scratch.remove();
        }
    }
}
