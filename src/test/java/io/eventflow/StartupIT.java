package io.eventflow;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.eventflow.support.TestServices;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An operator starts the runnable jar with something wrong: EventFlow says what, in one line, and
 * exits with status 1, instead of a stack trace (or of running without its database).
 */
class StartupIT {

    private record Run(int exitCode, String output) {
    }

    private static Run startJar(Map<String, String> environment) throws IOException, InterruptedException {
        Path jar = Path.of("target", "eventflow.jar");
        assertTrue(Files.exists(jar), "the runnable jar is built before the integration tests (mvn verify)");
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder builder = new ProcessBuilder(List.of(java, "-jar", jar.toString())).redirectErrorStream(true);
        builder.environment().putAll(Map.of(
                "EVENTFLOW_HTTP_PORT", String.valueOf(TestServices.freePort()),
                "EVENTFLOW_JMX_PORT", "0",
                "CAMEL_MAIN_ROUTES_RELOAD_ENABLED", "false",
                // exchanges of the test's own, removed afterwards, and no demo (no stream queue)
                "EVENTFLOW_RABBITMQ_EXCHANGE", TestServices.uniqueName("eventflow.test.changes"),
                "EVENTFLOW_RABBITMQ_UNROUTED_EXCHANGE", TestServices.uniqueName("eventflow.test.unrouted"),
                "EVENTFLOW_DEMO_ENABLED", "false"));
        builder.environment().putAll(environment);
        Process process = builder.start();
        try {
            if (!process.waitFor(90, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("EventFlow neither started nor gave up within 90 s");
            }
            return new Run(process.exitValue(), new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } finally {
            removeExchanges(builder.environment().get("EVENTFLOW_RABBITMQ_EXCHANGE"), builder.environment().get("EVENTFLOW_RABBITMQ_UNROUTED_EXCHANGE"));
        }
    }

    /** Whatever a start declared on the broker before it gave up. */
    private static void removeExchanges(String exchange, String unrouted) {
        try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); var ch = c.createChannel()) {
            ch.exchangeDelete(exchange);
            ch.queueDelete(unrouted);
            ch.exchangeDelete(unrouted);
        } catch (Exception e) {
            // the broker is not reachable from this test, or nothing was declared
        }
    }

    private static void assertOneClearLine(Run run, String expected) {
        assertEquals(1, run.exitCode(), run.output());
        assertTrue(run.output().contains("EventFlow could not start: " + expected), run.output());
        assertFalse(run.output().lines().anyMatch(line -> line.startsWith("\tat ") || line.startsWith("Caused by:")),
                "no stack trace: " + run.output());
    }

    @Test
    void aDemoSwitchedOnWithoutItsFilesIsNamed() throws Exception {
        Run run = startJar(Map.of("EVENTFLOW_DEMO_ENABLED", "true", "EVENTFLOW_DEMO_DIRECTORY", "target/no-such-demo"));
        assertOneClearLine(run, "the web demo is on (eventflow.demo.enabled) but target/no-such-demo/demo.properties cannot be read");
    }

    @Test
    void unreachablePostgresIsWaitedForThenNamed() throws Exception {
        int closedPort = TestServices.freePort();
        Run run = startJar(Map.of(
                "PG_CONNECTION_STRING", "postgresql://postgres@127.0.0.1:" + closedPort + "/nowhere",
                "EVENTFLOW_POSTGRES_STARTUP_TIMEOUT_MS", "8000"));
        assertOneClearLine(run, "PostgreSQL is not reachable at postgresql://postgres@127.0.0.1:" + closedPort + "/nowhere");
        assertTrue(run.output().contains("Waiting for PostgreSQL at"), "it said it was waiting: " + run.output());
    }

    @Test
    void aConnectionStringThatIsNotOneIsNamed() throws Exception {
        assertOneClearLine(startJar(Map.of("PG_CONNECTION_STRING", "mysql://db.example.com/shop")),
                "PostgreSQL connection string must start with postgresql:// or postgres://");
        // checked before anything connects: the (unreachable) database is never waited for
        assertOneClearLine(startJar(Map.of(
                "RABBITMQ_URL", "amqp://guest@broker example:5672",
                "PG_CONNECTION_STRING", "postgresql://postgres@127.0.0.1:" + TestServices.freePort() + "/nowhere")),
                "RABBITMQ_URL / eventflow.rabbitmq.url is not a valid AMQP URI");
    }

    @Test
    void aCursorThatDoesNotExistIsNamed() throws Exception {
        // a misspelt cursor would otherwise read nothing, publish nothing and say nothing
        String database = TestServices.uniqueName("eventflow_it");
        TestServices.createDatabase(database);
        try {
            Run run = startJar(Map.of(
                    "PG_CONNECTION_STRING", TestServices.libpqUrl(database),
                    "RABBITMQ_URL", TestServices.amqpUrl(),
                    "EVENTFLOW_CAPTURE_CURSOR", "defualt"));
            assertOneClearLine(run, "eventflow.capture.cursor: no cursor named 'defualt' (there are: 'default');"
                    + " to start one from now: SELECT eventflow.create_cursor('defualt')");
        } finally {
            TestServices.dropDatabase(database);
        }
    }

    @Test
    void aCursorAheadOfTheDatabaseStopsTheStartAndNothingIsDeleted() throws Exception {
        // a dump restored into another cluster: the cursor's snapshot lies past this database's
        // transaction counter, and would take every change here for published
        String database = TestServices.uniqueName("eventflow_it");
        TestServices.createDatabase(database);
        try {
            Map<String, String> env = Map.of(
                    "PG_CONNECTION_STRING", TestServices.libpqUrl(database),
                    "RABBITMQ_URL", TestServices.amqpUrl(),
                    "EVENTFLOW_CAPTURE_RETENTION", "0 seconds");
            TestServices.migrate(database);
            try (var c = TestServices.connect(database); var st = c.createStatement()) {
                st.execute("INSERT INTO eventflow_demo.users (name, email) VALUES ('Ada', 'ada@example.com')");
                st.execute("UPDATE eventflow.change_log SET changed_at = now() - interval '1 day'");
                st.execute("UPDATE eventflow.capture_state SET lo_snapshot = '900000000:900000000:' WHERE name = 'default'");
            }
            Run run = startJar(env);
            assertOneClearLine(run, "eventflow.capture.cursor: cursor 'default' is ahead of this database (it has read up to transaction 900000000");
            assertTrue(run.output().contains("SELECT eventflow.drop_cursor('default'), eventflow.create_cursor('default')"), run.output());
            try (var c = TestServices.connect(database); var st = c.createStatement();
                    var rs = st.executeQuery("SELECT count(*), eventflow.cleanup('0 seconds') FROM eventflow.change_log")) {
                rs.next();
                assertEquals(1, rs.getLong(1), "the change is still in the change log");
                assertEquals(0, rs.getLong(2), "and the clean-up leaves it there while the cursor is ahead");
            }
        } finally {
            TestServices.dropDatabase(database);
        }
    }

    @Test
    void aStatementTimeoutAtStartIsNamedInOneLine() throws Exception {
        String database = TestServices.uniqueName("eventflow_it");
        TestServices.createDatabase(database);
        try {
            try (var c = TestServices.connect(database); var st = c.createStatement()) {
                st.execute("ALTER DATABASE " + database + " SET statement_timeout = '1ms'");
            }
            Run run = startJar(Map.of(
                    "PG_CONNECTION_STRING", TestServices.libpqUrl(database),
                    "RABBITMQ_URL", TestServices.amqpUrl()));
            assertOneClearLine(run, "");
            assertTrue(run.output().contains("statement timeout"), run.output());
        } finally {
            TestServices.dropDatabase(database);
        }
    }

    @Test
    void anHttpPortThatIsTakenStopsTheStart() throws Exception {
        String database = TestServices.uniqueName("eventflow_it");
        TestServices.createDatabase(database);
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Run run = startJar(Map.of(
                    "PG_CONNECTION_STRING", TestServices.libpqUrl(database),
                    "RABBITMQ_URL", TestServices.amqpUrl(),
                    "EVENTFLOW_HTTP_PORT", String.valueOf(taken.getLocalPort())));
            assertOneClearLine(run, "cannot listen on HTTP port " + taken.getLocalPort());
            try (var c = TestServices.connect(database); var st = c.createStatement();
                    var rs = st.executeQuery("SELECT count(*) FROM eventflow.cursors WHERE holder IS NOT NULL")) {
                rs.next();
                assertEquals(0, rs.getLong(1), "it never held the cursor");
            }
        } finally {
            TestServices.dropDatabase(database);
        }
    }
}
