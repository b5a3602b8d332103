package io.eventflow.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;

/**
 * Records what Debezium Server 3.6.1 publishes for the conformance workload
 * (src/test/resources/conformance: schema.sql, then workload.sql) into
 * src/test/resources/conformance/debezium-3.6.1.jsonl, one event per line: routing key and body.
 * DebeziumConformanceIT compares EventFlow's events in the debezium value mode with them.
 *
 * <p>{@code ./mvnw -q -Pbench verify -Dbench.peer=debezium -Dbench.main=io.eventflow.bench.DebeziumFixtures}
 * (PostgreSQL with wal_level=logical, as for the benchmark's Debezium side). Leaves PostgreSQL and
 * RabbitMQ as they were: its database, replication slot, publication and exchange are removed.
 */
public final class DebeziumFixtures {

    static final Path DIRECTORY = Path.of("src/test/resources/conformance");
    static final Path FIXTURES = DIRECTORY.resolve("debezium-3.6.1.jsonl");

    private DebeziumFixtures() {
    }

    public static void main(String[] args) throws Exception {
        Benchmark.Settings s = Benchmark.Settings.load();
        try (Connection c = Benchmark.connect(s, "postgres")) {
            String missing = DebeziumServer.missingPrerequisite(c);
            if (missing != null) {
                System.err.println(missing);
                System.exit(2);
            }
        }
        String id = Long.toString(System.currentTimeMillis(), 36);
        String database = "eventflow_conformance_" + id;
        String exchange = "eventflow.conformance." + id;
        try (Connection c = Benchmark.connect(s, "postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + database);
        }
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(s.rabbitHost());
        factory.setPort(s.rabbitPort());
        factory.setUsername(s.rabbitUser());
        factory.setPassword(s.rabbitPassword());
        DebeziumServer debezium = null;
        try (com.rabbitmq.client.Connection rabbit = factory.newConnection(); Channel ch = rabbit.createChannel()) {
            ch.exchangeDeclare(exchange, "topic", false, true, null);
            String queue = ch.queueDeclare("", false, true, true, null).getQueue();
            ch.queueBind(queue, exchange, "#");
            try (Connection c = Benchmark.connect(s, database); Statement st = c.createStatement()) {
                st.execute(Files.readString(DIRECTORY.resolve("schema.sql")));
            }
            debezium = DebeziumServer.start(s, database, exchange, List.of("conformance"), id);
            List<String> statements = statements(Files.readString(DIRECTORY.resolve("workload.sql")));
            try (Connection c = Benchmark.connect(s, database); Statement st = c.createStatement()) {
                for (String statement : statements) {
                    st.execute(statement);
                }
            }
            ObjectMapper json = new ObjectMapper();
            List<String> lines = new ArrayList<>();
            long quietSince = System.nanoTime();
            while (System.nanoTime() - quietSince < TimeUnit.SECONDS.toNanos(10)) {
                GetResponse got = ch.basicGet(queue, true);
                if (got == null) {
                    Thread.sleep(100);
                    continue;
                }
                quietSince = System.nanoTime();
                ObjectNode line = json.createObjectNode();
                line.put("routingKey", got.getEnvelope().getRoutingKey());
                String body = new String(got.getBody(), StandardCharsets.UTF_8);
                try {
                    line.set("body", json.readTree(body));
                } catch (com.fasterxml.jackson.core.JsonProcessingException notJson) {
                    line.put("text", body);
                }
                lines.add(json.writeValueAsString(line));
            }
            Files.write(FIXTURES, lines);
            Benchmark.log("%d events of Debezium Server recorded in %s", lines.size(), FIXTURES);
        } finally {
            if (debezium != null) {
                debezium.stop(s);
            }
            try (Connection c = Benchmark.connect(s, "postgres"); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
            }
        }
    }

    /** The statements of a SQL file without its comment lines, one per semicolon at a line's end. */
    public static List<String> statements(String sql) {
        StringBuilder text = new StringBuilder();
        for (String line : sql.split("\n")) {
            if (!line.startsWith("--")) {
                text.append(line).append('\n');
            }
        }
        List<String> statements = new ArrayList<>();
        for (String statement : text.toString().split(";\n")) {
            if (!statement.isBlank()) {
                statements.add(statement.strip());
            }
        }
        return Collections.unmodifiableList(statements);
    }
}
