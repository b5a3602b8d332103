package io.eventflow.support;

import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import com.rabbitmq.client.ConnectionFactory;

/**
 * The PostgreSQL and RabbitMQ the tests run against: the real services, by default on 127.0.0.1,
 * elsewhere with -Deventflow.test.pg-host / -Deventflow.test.rabbit-host (or the same names in
 * upper case with underscores as environment variables).
 */
public final class TestServices {

    private TestServices() {
    }

    public static String setting(String key, String fallback) {
        String value = System.getProperty(key);
        if (value == null) {
            value = System.getenv(key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'));
        }
        return value == null ? fallback : value;
    }

    public static String pgHost() {
        return setting("eventflow.test.pg-host", "127.0.0.1");
    }

    public static int pgPort() {
        return Integer.parseInt(setting("eventflow.test.pg-port", "5432"));
    }

    public static String pgUser() {
        return setting("eventflow.test.pg-user", "postgres");
    }

    public static String rabbitHost() {
        return setting("eventflow.test.rabbit-host", "127.0.0.1");
    }

    public static int rabbitPort() {
        return Integer.parseInt(setting("eventflow.test.rabbit-port", "5672"));
    }

    /** A name no other test run uses, for databases, exchanges and queues. */
    public static String uniqueName(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    public static String jdbcUrl(String database) {
        return "jdbc:postgresql://" + pgHost() + ":" + pgPort() + "/" + database;
    }

    /** The libpq URI EventFlow is configured with, as PG_CONNECTION_STRING would give it. */
    public static String libpqUrl(String database) {
        return "postgresql://" + pgUser() + "@" + pgHost() + ":" + pgPort() + "/" + database + "?sslmode=disable";
    }

    public static Connection connect(String database) throws SQLException {
        return connect(database, pgUser());
    }

    /** A connection to a database as the given role (trust authentication). */
    public static Connection connect(String database, String user) throws SQLException {
        try {
            return DriverManager.getConnection(jdbcUrl(database) + "?ApplicationName=itest-client", user, null);
        } catch (SQLException e) {
            throw new SQLException("PostgreSQL is not reachable at " + pgHost() + ":" + pgPort()
                    + " (start it, see README: Tests): " + e.getMessage(), e);
        }
    }

    /**
     * Applies EventFlow's migrations (migrations/) to a database, and the web demo's (its table
     * eventflow_demo.users), as EventFlow does at start-up with the demo on.
     */
    public static void migrate(String database) {
        migrate(database, "filesystem:migrations", "eventflow");
        migrate(database, "filesystem:demo/migrations", "eventflow_demo");
    }

    private static void migrate(String database, String location, String schema) {
        org.flywaydb.core.Flyway.configure()
                .dataSource(jdbcUrl(database), pgUser(), null)
                .locations(location)
                .schemas(schema)
                .createSchemas(true)
                .table("flyway_schema_history")
                .load()
                .migrate();
    }

    public static void createDatabase(String name) throws SQLException {
        try (Connection c = connect("postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
    }

    public static void dropDatabase(String name) throws SQLException {
        try (Connection c = connect("postgres"); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        }
    }

    public static ConnectionFactory rabbitFactory() {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(rabbitHost());
        factory.setPort(rabbitPort());
        factory.setUsername(setting("eventflow.test.rabbit-user", "guest"));
        factory.setPassword(setting("eventflow.test.rabbit-password", "guest"));
        factory.setAutomaticRecoveryEnabled(true);
        factory.setTopologyRecoveryEnabled(true);
        factory.setNetworkRecoveryInterval(300);
        return factory;
    }

    public static String amqpUrl() {
        return "amqp://" + setting("eventflow.test.rabbit-user", "guest") + ":" + setting("eventflow.test.rabbit-password", "guest")
                + "@" + rabbitHost() + ":" + rabbitPort();
    }

    /**
     * The settings that put an EventFlow under test on a database and exchanges of its own and an
     * HTTP port, with remote JMX and live reload off.
     */
    public static Map<String, String> eventflowSettings(String database, String exchange, String unrouted, int httpPort) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("eventflow.postgres.url", libpqUrl(database));
        settings.put("eventflow.rabbitmq.url", amqpUrl());
        settings.put("eventflow.rabbitmq.exchange", exchange);
        settings.put("eventflow.rabbitmq.unrouted-exchange", unrouted);
        settings.put("eventflow.stream.exchange", exchange + ".stream");
        settings.put("eventflow.http.port", String.valueOf(httpPort));
        settings.put("eventflow.jmx.port", "0");
        settings.put("camel.main.routes-reload-enabled", "false");
        return settings;
    }

    public static int freePort() throws IOException {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** Runs a command (rabbitmqctl and the like) and fails the test when it fails. */
    public static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        }
    }
}
