package io.eventflow.support;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;

import com.rabbitmq.client.Channel;
import io.eventflow.EventFlow;
import org.apache.camel.CamelContext;
import org.apache.camel.ServiceStatus;
import org.apache.camel.main.Main;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

import static org.awaitility.Awaitility.await;

/**
 * Runs the real EventFlow (camel-main with the top-level application.properties and routes/)
 * against the real PostgreSQL and RabbitMQ, with a database, exchanges and queues of its own that
 * are removed afterwards.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class EventFlowTestSupport {

    protected String database;
    protected String exchange;
    protected String unroutedExchange;
    protected Main app;
    protected EventConsumer consumer;
    protected int httpPort;
    protected final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** Properties this test class sets on top of application.properties. */
    protected Map<String, String> properties() {
        return Map.of();
    }

    @BeforeAll
    void createServices() throws Exception {
        database = TestServices.uniqueName("eventflow_it");
        exchange = TestServices.uniqueName("eventflow.test.changes");
        unroutedExchange = TestServices.uniqueName("eventflow.test.unrouted");
        httpPort = TestServices.freePort();
        TestServices.createDatabase(database);
        prepare();
        app = startApp();
        consumer = new EventConsumer(exchange, unroutedExchange, TestServices.uniqueName("eventflow.test.consumer"), bindingKeys());
    }

    /** Runs once the test's database exists, before EventFlow starts (roles, ownership). */
    protected void prepare() throws Exception {
    }

    /** What the test's consumer queue is bound to. */
    protected String[] bindingKeys() {
        return new String[] {"#"};
    }

    @AfterAll
    void removeServices() throws Exception {
        stopApp();
        if (consumer != null) {
            consumer.close();
        }
        try (com.rabbitmq.client.Connection c = TestServices.rabbitFactory().newConnection(); Channel ch = c.createChannel()) {
            ch.exchangeDelete(exchange);
            ch.exchangeDelete(exchange + ".stream");
            ch.queueDelete(unroutedExchange);
            ch.exchangeDelete(unroutedExchange);
        }
        TestServices.dropDatabase(database);
    }

    protected Main startApp() {
        return startApp(database, httpPort, properties());
    }

    /** An EventFlow on the test's exchanges, with a database and an HTTP port of its own, started. */
    protected Main startApp(String database, int httpPort, Map<String, String> properties) {
        Map<String, String> props = TestServices.eventflowSettings(database, exchange, unroutedExchange, httpPort);
        props.putAll(properties);
        Main main = EventFlow.create();
        props.forEach(main::addOverrideProperty);
        main.start();
        CamelContext context = main.getCamelContext();
        await().atMost(Duration.ofSeconds(30)).until(() -> context.getStatus() == ServiceStatus.Started);
        return main;
    }

    protected void stopApp() {
        if (app != null) {
            app.stop();
            app = null;
        }
    }

    /** The address of a path on EventFlow's HTTP port. */
    protected String url(String path) {
        return "http://127.0.0.1:" + httpPort + path;
    }

    /** GET on EventFlow's HTTP port (web demo, health, metrics). */
    protected HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url(path))).timeout(Duration.ofSeconds(15)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    protected CamelContext context() {
        return app.getCamelContext();
    }

    protected Connection db() throws SQLException {
        return TestServices.connect(database);
    }

    protected void sql(String... statements) throws SQLException {
        try (Connection c = db(); Statement s = c.createStatement()) {
            for (String statement : statements) {
                s.execute(statement);
            }
        }
    }

    protected long insertUser(String name, String email) throws SQLException {
        try (Connection c = db();
                PreparedStatement ps = c.prepareStatement("INSERT INTO eventflow_demo.users (name, email) VALUES (?, ?) RETURNING id")) {
            ps.setString(1, name);
            ps.setString(2, email);
            var rs = ps.executeQuery();
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Ends the PostgreSQL sessions EventFlow holds (the pool and the LISTEN connection). */
    protected int terminateEventFlowConnections(String applicationNamePattern) throws SQLException {
        try (Connection c = TestServices.connect("postgres");
                PreparedStatement ps = c.prepareStatement(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ? AND application_name LIKE ?")) {
            ps.setString(1, database);
            ps.setString(2, applicationNamePattern);
            var rs = ps.executeQuery();
            rs.next();
            return rs.getInt(1);
        }
    }
}
