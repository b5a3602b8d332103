package io.eventflow.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Debezium Server, the peer the benchmark runs side by side with EventFlow: the PostgreSQL connector
 * (pgoutput, a publication of the benchmark's tables) and the RabbitMQ sink (persistent delivery,
 * JSON without schemas), as a process of its own on the Java 21+ JDK it needs. The pom's
 * bench-debezium profile unpacks io.debezium:debezium-server-dist into target/debezium-server.
 */
final class DebeziumServer implements Benchmark.Pipeline {

    /** The topic prefix: Debezium's routing key for a table is {@code bench.<schema>.<table>}. */
    static final String TOPIC_PREFIX = "bench";

    private final Process process;
    private final String command;
    private final double startSeconds;
    private final String slot;
    private final Benchmark.RssSampler rss;

    private DebeziumServer(Process process, String command, double startSeconds, String slot) {
        this.process = process;
        this.command = command;
        this.startSeconds = startSeconds;
        this.slot = slot;
        this.rss = new Benchmark.RssSampler(process);
    }

    /**
     * What Debezium needs of PostgreSQL, checked before anything starts: logical decoding. The
     * benchmark never changes server settings or restarts PostgreSQL itself.
     */
    static String missingPrerequisite(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, current_setting('max_wal_senders')::int")) {
            rs.next();
            if (!"logical".equals(rs.getString(1))) {
                return "Debezium needs wal_level=logical (it is " + rs.getString(1) + "): as a superuser run"
                        + " ALTER SYSTEM SET wal_level = logical, restart PostgreSQL, then run the benchmark again";
            }
            if (rs.getInt(2) < 1 || rs.getInt(3) < 1) {
                return "Debezium needs a replication slot and a WAL sender: max_replication_slots and max_wal_senders must be at least 1";
            }
            return null;
        }
    }

    static DebeziumServer start(Benchmark.Settings s, String database, String exchange, List<String> tables, String id) throws Exception {
        Path home = s.projectDir().resolve(s.debeziumHome());
        if (!Files.isDirectory(home.resolve("lib"))) {
            throw new IllegalStateException("Debezium Server is not unpacked at " + s.projectDir().relativize(home)
                    + ": run the benchmark with -Dbench.peer=debezium (the pom's bench-debezium profile unpacks it)");
        }
        int port;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        String slot = "eventflow_bench_" + id;
        String include = tables.stream().map(t -> "public." + t).collect(Collectors.joining(","));
        List<String> config = List.of(
                "debezium.sink.type=rabbitmq",
                "debezium.sink.rabbitmq.connection.host=" + s.rabbitHost(),
                "debezium.sink.rabbitmq.connection.port=" + s.rabbitPort(),
                "debezium.sink.rabbitmq.connection.username=" + s.rabbitUser(),
                "debezium.sink.rabbitmq.connection.password=" + s.rabbitPassword(),
                "debezium.sink.rabbitmq.exchange=" + exchange,
                // the routing key is the table's topic, bench.public.<table>
                "debezium.sink.rabbitmq.routingKey.source=topic",
                "debezium.sink.rabbitmq.autoCreateRoutingKey=false",
                "debezium.sink.rabbitmq.deliveryMode=2",
                "debezium.sink.rabbitmq.ackTimeout=30000",
                "debezium.source.connector.class=io.debezium.connector.postgresql.PostgresConnector",
                "debezium.source.offset.storage.file.filename=" + home.resolve("data/offsets-" + id + ".dat"),
                "debezium.source.offset.flush.interval.ms=1000",
                "debezium.source.database.hostname=" + s.pgHost(),
                "debezium.source.database.port=" + s.pgPort(),
                "debezium.source.database.user=" + s.pgUser(),
                "debezium.source.database.password=unused",
                "debezium.source.database.dbname=" + database,
                "debezium.source.topic.prefix=" + TOPIC_PREFIX,
                "debezium.source.table.include.list=" + include,
                "debezium.source.plugin.name=pgoutput",
                "debezium.source.slot.name=" + slot,
                "debezium.source.publication.name=" + slot,
                "debezium.source.publication.autocreate.mode=filtered",
                "debezium.source.snapshot.mode=no_data",
                "debezium.format.value=json",
                "debezium.format.value.schemas.enable=false",
                "debezium.format.key=json",
                "debezium.format.key.schemas.enable=false",
                "quarkus.http.host=127.0.0.1",
                "quarkus.http.port=" + port,
                "quarkus.log.level=INFO",
                "quarkus.log.console.json=false");
        Files.createDirectories(home.resolve("config"));
        Files.createDirectories(home.resolve("data"));
        Files.write(home.resolve("config/application.properties"), config);
        Path log = s.projectDir().resolve("target/benchmark-debezium.log");
        List<String> cmd = new ArrayList<>();
        cmd.add(s.debeziumJava() + "/bin/java");
        cmd.addAll(List.of(s.debeziumJvmFlags().split("\\s+")));
        cmd.addAll(List.of("-cp", classpath(home), "io.debezium.server.Main"));
        ProcessBuilder builder = new ProcessBuilder(cmd).directory(home.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        long t0 = System.nanoTime();
        Process process = builder.start();
        // ready: its health endpoint says UP and the connector streams (the slot is active)
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready")).timeout(Duration.ofSeconds(2)).build();
        while (true) {
            if (!process.isAlive()) {
                throw new IllegalStateException("Debezium Server exited with " + process.exitValue() + ", see target/benchmark-debezium.log");
            }
            boolean up;
            try {
                up = http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200 && slotActive(s, slot);
            } catch (IOException e) {
                up = false;
            }
            if (up) {
                break;
            }
            if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(120)) {
                process.destroyForcibly();
                throw new IllegalStateException("Debezium Server not streaming after 120 s, see target/benchmark-debezium.log");
            }
            Thread.sleep(200);
        }
        return new DebeziumServer(process, String.join(" ", cmd.subList(0, cmd.size() - 3)) + " io.debezium.server.Main",
                (System.nanoTime() - t0) / 1e9, slot);
    }

    /** The runner jar, config/lib and lib/*, as its run.sh puts them together. */
    private static String classpath(Path home) throws IOException {
        List<String> parts = new ArrayList<>();
        try (Stream<Path> files = Files.list(home)) {
            files.filter(p -> p.getFileName().toString().endsWith("-runner.jar")).forEach(p -> parts.add(p.toString()));
        }
        parts.add(home.resolve("config/lib").toString());
        parts.add(home.resolve("lib") + "/*");
        return String.join(":", parts);
    }

    private static boolean slotActive(Benchmark.Settings s, String slot) throws SQLException {
        try (Connection c = Benchmark.connect(s, "postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT active FROM pg_replication_slots WHERE slot_name = '" + slot + "'")) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    @Override
    public String name() {
        return "Debezium";
    }

    @Override
    public String routingPrefix(String table) {
        return TOPIC_PREFIX + ".public." + table;
    }

    @Override
    public long pid() {
        return process.pid();
    }

    @Override
    public boolean alive() {
        return process.isAlive();
    }

    @Override
    public String describe() {
        return "Debezium Server 3.6.1 (" + command + ")";
    }

    @Override
    public double startSeconds() {
        return startSeconds;
    }

    @Override
    public Benchmark.RssSampler rss() {
        return rss;
    }

    @Override
    public long reads() {
        return -1;
    }

    /** Stops it, then drops its replication slot (an idle slot would keep WAL forever). */
    @Override
    public void stop(Benchmark.Settings s) throws Exception {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        for (int i = 0; i < 50; i++) {
            try (Connection c = Benchmark.connect(s, "postgres"); Statement st = c.createStatement()) {
                st.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
                return;
            } catch (SQLException e) {
                // still active for a moment after the process ended
                Thread.sleep(200);
            }
        }
        Benchmark.log("could not drop replication slot %s: drop it with SELECT pg_drop_replication_slot('%s')", slot, slot);
    }
}
