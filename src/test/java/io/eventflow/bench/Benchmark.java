package io.eventflow.bench;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;

/**
 * EventFlow's benchmark: the writer workloads alone (baseline), then the same workloads with EventFlow
 * capturing, run as a separate process ({@code bin/eventflow}, the documented JVM flags) so that its
 * CPU time and resident memory are its own. Every event is consumed from a queue bound to the
 * exchange and checked: count, loss, duplicates, per-row order. Prints one table and writes
 * {@code target/benchmark.json}.
 *
 * <p>Run it with {@code ./mvnw -q -Pbench verify}; sizes with {@code -Dbench.rows=...} and friends
 * (see {@link Settings}), a small run with {@code -Dbench.smoke=true}. It is not a test: it fails only
 * when events are lost or out of order, never on speed.
 */
public final class Benchmark {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final long CLK_TCK = 100;
    /** Wall clock minus System.nanoTime, in milliseconds: turns the event's ts_ms into this JVM's nanoTime. */
    private static final long CLOCK_OFFSET_MILLIS = System.currentTimeMillis() - System.nanoTime() / 1_000_000L;
    private static final List<String> TABLES = List.of("bench_warmup", "bench_single", "bench_batch", "bench_steady");
    /** The groups CPU time is told apart by (/proc), in the order the table shows them. */
    private static final List<String> CPU_GROUPS = List.of("postgres", "pipeline", "rabbitmq", "consumer", "writers", "rest");
    /** The whole machine's ticks by /proc/stat, beside the groups. */
    private static final List<String> MACHINE_TICKS = List.of("machine busy", "machine idle", "machine steal");

    /** What a run does; every value a system property (or the same name upper-cased as an environment variable). */
    record Settings(int warmupRows, int rows, int batchRows, int txRows, int writers, int steadyRate, int steadySeconds, int steadyWriters,
            int steadyRowsPerWriter, String pgHost, int pgPort, String pgUser, String rabbitHost, int rabbitPort,
            String rabbitUser, String rabbitPassword, String launcher, String jvmFlags, Path projectDir, Path output,
            int drainTimeoutSeconds, int idleSeconds, int ackEvery, boolean smoke, String peer, String debeziumHome,
            String debeziumJava, String debeziumJvmFlags, String peerSettings, String peerJvmFlags) {

        static Settings load() {
            boolean smoke = Boolean.parseBoolean(get("bench.smoke", "false"));
            return new Settings(
                    integer("bench.warmup-rows", smoke ? 500 : 30_000),
                    integer("bench.rows", smoke ? 3000 : 200_000),
                    integer("bench.batch-rows", smoke ? 3000 : 200_000),
                    integer("bench.tx-rows", 100),
                    integer("bench.writers", 8),
                    integer("bench.steady-rate", smoke ? 500 : 1000),
                    integer("bench.steady-seconds", smoke ? 4 : 60),
                    integer("bench.steady-writers", 4),
                    integer("bench.steady-rows-per-writer", 50),
                    get("bench.pg-host", "127.0.0.1"),
                    integer("bench.pg-port", 5432),
                    get("bench.pg-user", "postgres"),
                    get("bench.rabbit-host", "127.0.0.1"),
                    integer("bench.rabbit-port", 5672),
                    get("bench.rabbit-user", "guest"),
                    get("bench.rabbit-password", "guest"),
                    get("bench.launcher", "bin/eventflow"),
                    get("bench.jvm-flags", ""),
                    Path.of(get("bench.project-dir", System.getProperty("user.dir"))).toAbsolutePath(),
                    Path.of(get("bench.output", "target/benchmark.json")),
                    integer("bench.drain-timeout-seconds", 120),
                    integer("bench.idle-seconds", smoke ? 3 : 15),
                    Math.max(1, integer("bench.ack-every", 1)),
                    smoke,
                    get("bench.peer", "none"),
                    get("bench.debezium-home", "target/debezium-server"),
                    get("bench.debezium-java", "/usr/lib/jvm/temurin-25-jdk-amd64"),
                    get("bench.debezium-jvm-flags", "--add-opens java.base/java.lang=ALL-UNNAMED"),
                    get("bench.peer-settings", ""),
                    get("bench.peer-jvm-flags", ""));
        }

        static String get(String key, String fallback) {
            String value = System.getProperty(key);
            if (value == null || value.isBlank()) {
                value = System.getenv(key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'));
            }
            return value == null || value.isBlank() ? fallback : value.trim();
        }

        static int integer(String key, int fallback) {
            return Integer.parseInt(get(key, String.valueOf(fallback)).replace("_", ""));
        }

        boolean withDebezium() {
            return "debezium".equals(peer);
        }

        /**
         * The peer is EventFlow itself with other settings: bench.peer=values (eventflow.event.values=debezium: the cost of
         * Debezium's values), or bench.peer=eventflow with bench.peer-settings ("eventflow.capture.rearm-delay-ms=20 ...")
         * and/or bench.peer-jvm-flags (in place of the launcher's JVM flags).
         */
        boolean withEventFlowPeer() {
            return "values".equals(peer) || "eventflow".equals(peer);
        }

        /** The peer's settings as JVM flags, after EventFlow's own (so they win). */
        List<String> peerFlags() {
            if ("values".equals(peer)) {
                return List.of("-Deventflow.event.values=debezium");
            }
            List<String> flags = new ArrayList<>();
            if (peerSettings.isEmpty() && !peerJvmFlags.isEmpty()) {
                return flags;
            }
            for (String setting : peerSettings.split("\\s+")) {
                if (!setting.matches("[A-Za-z0-9_.-]+=\\S*")) {
                    throw new IllegalArgumentException("bench.peer-settings takes name=value pairs separated by spaces "
                            + "(eventflow.capture.rearm-delay-ms=20), not " + (setting.isEmpty() ? "an empty value" : setting));
                }
                flags.add("-D" + setting);
            }
            return flags;
        }

        /** How the table names the peer when it is EventFlow itself. */
        String peerDescription() {
            if ("values".equals(peer)) {
                return "debezium values";
            }
            List<String> parts = new ArrayList<>();
            if (!peerSettings.isEmpty()) {
                parts.add(peerSettings);
            }
            if (!peerJvmFlags.isEmpty()) {
                parts.add("JVM flags " + peerJvmFlags);
            }
            return String.join("; ", parts);
        }
    }

    /** What publishes the changes: EventFlow, or the peer it is measured against. */
    interface Pipeline {
        String name();

        /** The routing key of a table's events up to the operation. */
        String routingPrefix(String table);

        long pid();

        boolean alive();

        String describe();

        double startSeconds();

        RssSampler rss();

        /** How many reads of the change log it made so far (-1: not a figure it has). */
        long reads();

        void stop(Settings s) throws Exception;
    }

    private final Settings settings;
    private final String id = UUID.randomUUID().toString().substring(0, 8);
    private final String exchange = "eventflow.bench.changes." + id;
    private final String unrouted = "eventflow.bench.unrouted." + id;
    private final String queue = "eventflow.bench.consumer." + id;
    private final Map<String, Object> report = new LinkedHashMap<>();
    private final List<String> failures = new ArrayList<>();
    private final List<String> databases = new ArrayList<>();
    /** The database the current writers write to. */
    private String database;
    /** The writers' connections while a captured workload runs: opened before and closed after the CPU is read. */
    private List<Connection> openWriters;

    private Benchmark(Settings settings) {
        this.settings = settings;
    }

    public static void main(String[] args) throws Exception {
        Benchmark benchmark = new Benchmark(Settings.load());
        benchmark.run();
        if (!benchmark.failures.isEmpty()) {
            throw new IllegalStateException("Benchmark found broken guarantees: " + String.join("; ", benchmark.failures));
        }
    }

    // ---------------------------------------------------------------- the run

    private void run() throws Exception {
        Settings s = settings;
        if (s.withDebezium()) {
            try (Connection c = connect(s, "postgres")) {
                String missing = DebeziumServer.missingPrerequisite(c);
                if (missing != null) {
                    log("%s", missing);
                    throw new IllegalStateException(missing);
                }
            }
        } else if (s.withEventFlowPeer()) {
            s.peerFlags();
        } else if (!"none".equals(s.peer())) {
            throw new IllegalArgumentException("bench.peer is none, debezium, values or eventflow, not " + s.peer());
        }
        report.put("date", Instant.now().toString());
        report.put("machine", machine());
        report.put("settings", Map.of("warmupRows", s.warmupRows(), "rows", s.rows(), "batchRows", s.batchRows(), "txRows", s.txRows(), "writers", s.writers(),
                "steadyRate", s.steadyRate(), "steadySeconds", s.steadySeconds(), "smoke", s.smoke(), "peer", s.peer(),
                "peerSettings", s.withEventFlowPeer() ? s.peerDescription() : ""));
        log("EventFlow benchmark %s: exchange %s, peer %s (load average %s)", id, exchange, s.peer(), loadAverage());
        Consumer consumer = null;
        try {
            // 1. the writers alone
            newDatabase("base");
            WriterResult baseSingle = writeSingleRows("bench_single", s.rows(), null);
            log("baseline single-row: %,.0f TPS", baseSingle.tps());
            WriterResult baseBatch = writeBatches("bench_batch", s.batchRows(), null);
            log("baseline %d-row transactions: %,.0f rows/s", s.txRows(), baseBatch.rowsPerSecond());
            report.put("baseline", Map.of("singleTps", baseSingle.tps(), "batchRowsPerSecond", baseBatch.rowsPerSecond()));
            // the steady writers' code compiled before the first pipeline's turn, so that it costs neither more CPU
            writeSteady("bench_steady", new CommitTimes(), Math.min(5, s.steadySeconds()));
            dropDatabase(database);

            // 2. the same with each pipeline capturing, one after the other, each on a database of its own
            consumer = new Consumer();
            Map<String, Object> eventflow = measure("eventflow", consumer, baseSingle, baseBatch);
            report.put("eventflow", eventflow);
            if (s.withDebezium()) {
                report.put("debezium", measure("debezium", consumer, baseSingle, baseBatch));
            }
            if (s.withEventFlowPeer()) {
                report.put("peer", measure("peer", consumer, baseSingle, baseBatch));
            }
            report.put("loadAverageAtEnd", loadAverage());
            report.put("failures", failures);
        } finally {
            if (consumer != null) {
                consumer.close();
            }
            cleanUp();
        }
        Path output = s.output().isAbsolute() ? s.output() : s.projectDir().resolve(s.output());
        Files.createDirectories(output.getParent());
        JSON.writeValue(output.toFile(), report);
        System.out.println(table());
        log("figures written to %s", s.projectDir().relativize(output));
    }

    /** The four workloads with one pipeline capturing: warm-up, single-row, multi-row transactions, steady rate. */
    private Map<String, Object> measure(String peer, Consumer consumer, WriterResult baseSingle, WriterResult baseBatch) throws Exception {
        Settings s = settings;
        newDatabase(peer);
        Pipeline pipeline = null;
        try {
            if (peer.equals("eventflow") || peer.equals("peer")) {
                boolean other = peer.equals("peer");
                EventFlowProcess ef = EventFlowProcess.start(s, database, exchange, unrouted, other ? s.peerFlags() : List.of(),
                        other ? "EventFlow, " + s.peerDescription() : "EventFlow",
                        other && !s.peerJvmFlags().isEmpty() ? s.peerJvmFlags() : s.jvmFlags());
                pipeline = ef;
                for (String table : TABLES) {
                    sql("SELECT eventflow.enable_capture('public." + table + "')");
                }
            } else {
                pipeline = DebeziumServer.start(s, database, exchange, TABLES, id);
            }
            log("%s up (pid %d) in %.1f s: %s", pipeline.name(), pipeline.pid(), pipeline.startSeconds(), pipeline.describe());
            Thread.sleep(Math.min(5000, s.idleSeconds() * 1000L));
            long idleAfterStart = pipeline.rss().rssKb();
            pipeline.rss().resetPeak();
            Map<String, Object> result = new LinkedHashMap<>();
            // warm-up (JIT compilation, pools, caches): checked like the others, reported apart
            result.put("warmup", captured("warm-up", "bench_warmup", consumer, pipeline, events -> writeSingleRows("bench_warmup", s.warmupRows(), events), null));
            result.put("single", captured("single", "bench_single", consumer, pipeline, events -> writeSingleRows("bench_single", s.rows(), events), baseSingle));
            result.put("batch", captured("batch", "bench_batch", consumer, pipeline, events -> writeBatches("bench_batch", s.batchRows(), events), baseBatch));
            result.put("steady", captured("steady", "bench_steady", consumer, pipeline, events -> writeSteady("bench_steady", events), null));
            long peakUnderLoad = pipeline.rss().peakRssKb();
            Thread.sleep(s.idleSeconds() * 1000L);
            Map<String, Object> memory = new LinkedHashMap<>();
            memory.put("peakRssMb", peakUnderLoad / 1024.0);
            memory.put("idleRssAfterStartMb", idleAfterStart / 1024.0);
            memory.put("idleRssAfterLoadMb", pipeline.rss().rssKb() / 1024.0);
            memory.put("startSeconds", pipeline.startSeconds());
            memory.put("command", pipeline.describe());
            result.put("process", memory);
            return result;
        } finally {
            if (pipeline != null) {
                pipeline.stop(s);
            }
            dropDatabase(database);
        }
    }

    interface Workload {
        WriterResult write(CommitTimes commits) throws Exception;
    }

    /** Runs one workload with a pipeline capturing, consumes every event and checks them. */
    private Map<String, Object> captured(String name, String table, Consumer consumer, Pipeline pipeline,
            Workload workload, WriterResult baseline) throws Exception {
        String label = pipeline.name() + " " + name;
        String routingPrefix = pipeline.routingPrefix(table);
        consumer.clear();
        openWriters = new ArrayList<>();
        for (int w = 0; w < Math.max(settings.writers(), settings.steadyWriters()); w++) {
            openWriters.add(connect());
        }
        Map<String, Long> cpuBefore = cpuByGroup(pipeline.pid(), consumer);
        long readsBefore = pipeline.reads();
        CommitTimes commits = new CommitTimes();
        WriterResult writer = workload.write(commits);
        int expected = writer.changes();
        long lastProgress = System.nanoTime();
        int seen = 0;
        List<Delivery> deliveries;
        while (true) {
            int count = consumer.count();
            if (count != seen) {
                seen = count;
                lastProgress = System.nanoTime();
            }
            if (count >= expected) {
                deliveries = consumer.snapshot();
                if (distinctChanges(deliveries) >= expected) {
                    break;
                }
            }
            if (!pipeline.alive()) {
                throw new IllegalStateException(pipeline.name() + " (pid " + pipeline.pid() + ") exited during the " + name
                        + " workload; see its log under target/");
            }
            if (System.nanoTime() - lastProgress > TimeUnit.SECONDS.toNanos(settings.drainTimeoutSeconds())) {
                deliveries = consumer.snapshot();
                break;
            }
            Thread.sleep(2);
        }
        Map<String, Long> cpuAfter = cpuByGroup(pipeline.pid(), consumer);
        long reads = pipeline.reads() - readsBefore;
        for (Connection c : openWriters) {
            c.close();
        }
        openWriters = null;
        Thread.sleep(200); // stragglers: duplicates would show up now
        deliveries = consumer.snapshot();
        Check check = check(deliveries, routingPrefix, commits, expected);

        double e2eSeconds = (check.lastReceived() - commits.first()) / 1e9;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("changes", expected);
        r.put("received", deliveries.size());
        r.put("distinct", check.distinct());
        r.put("lost", check.lost());
        r.put("duplicates", check.duplicates());
        r.put("orderViolations", check.orderViolations());
        r.put("strays", check.strays());
        r.put("writerSeconds", writer.seconds());
        r.put("writerTps", writer.tps());
        r.put("writerRowsPerSecond", writer.rowsPerSecond());
        if (baseline != null) {
            r.put("baselineTps", baseline.tps());
            r.put("baselineRowsPerSecond", baseline.rowsPerSecond());
            r.put("writerRatio", writer.rowsPerSecond() / baseline.rowsPerSecond());
        }
        r.put("endToEndSeconds", e2eSeconds);
        r.put("endToEndEventsPerSecond", check.distinct() / e2eSeconds);
        r.put("latencyMs", check.latency());
        // where the machine's CPU went meanwhile, in seconds per group of processes (the consumer and the
        // writers are threads of this JVM, told apart by thread CPU time)
        Map<String, Double> cpu = new LinkedHashMap<>();
        for (List<String> keys : List.of(CPU_GROUPS, MACHINE_TICKS)) {
            for (String key : keys) {
                cpu.put(key, Math.round(Math.max(0, cpuAfter.getOrDefault(key, 0L) - cpuBefore.getOrDefault(key, 0L)) / (double) CLK_TCK * 100) / 100.0);
            }
        }
        // the whole machine's CPU: every process's, each measured exactly by the scheduler (/proc/stat's busy time is
        // sampled at the timer tick, and misses work done in bursts shorter than a tick between idle spells)
        cpu.put("all processes", Math.round(CPU_GROUPS.stream().mapToDouble(cpu::get).sum() * 100) / 100.0);
        r.put("cpuSeconds", cpu);
        long events = Math.max(1, check.distinct());
        r.put("pipelineCpuMicrosPerEvent", cpu.get("pipeline") * 1e6 / events);
        r.put("postgresCpuMicrosPerEvent", cpu.get("postgres") * 1e6 / events);
        r.put("peakRssMb", pipeline.rss().peakRssKb() / 1024.0);
        if (reads >= 0) {
            r.put("reads", reads);
            r.put("eventsPerRead", reads == 0 ? 0 : check.distinct() / (double) reads);
        }
        log("%s: %,d changes, %,d received, %d lost, %d duplicates, %d out of order; %,.0f events/s end to end, writer %,.0f rows/s%s;"
                + " latency p50 %.1f p99 %.1f max %.1f ms (to read p50 %.1f p99 %.1f, read to receipt p50 %.1f p99 %.1f)",
                label, expected, deliveries.size(), check.lost(), check.duplicates(), check.orderViolations(),
                check.distinct() / e2eSeconds, writer.rowsPerSecond(),
                baseline == null ? "" : String.format(" (%.2fx)", writer.rowsPerSecond() / baseline.rowsPerSecond()),
                check.latency().get("p50"), check.latency().get("p99"), check.latency().get("max"), check.latency().get("commitToReadP50"),
                check.latency().get("commitToReadP99"), check.latency().get("readToReceiptP50"), check.latency().get("readToReceiptP99"));
        log("%s: CPU seconds meanwhile: %s", label, cpu);
        if (check.lost() > 0) {
            failures.add(label + ": " + check.lost() + " of " + expected + " changes lost");
        }
        if (check.orderViolations() > 0) {
            failures.add(label + ": " + check.orderViolations() + " changes arrived out of row order");
        }
        if (check.strays() > 0) {
            failures.add(label + ": " + check.strays() + " events that no writer committed");
        }
        return r;
    }

    // ---------------------------------------------------------------- checks

    record Check(long distinct, long lost, long duplicates, long orderViolations, long strays, long lastReceived,
            Map<String, Double> latency) {
    }

    /** How many different changes arrived: by message_id where the pipeline sets one, else by the body. */
    private static long distinctChanges(List<Delivery> deliveries) {
        Set<Object> ids = new HashSet<>();
        for (Delivery d : deliveries) {
            ids.add(d.messageId() != null ? d.messageId() : java.nio.ByteBuffer.wrap(d.body()));
        }
        return ids.size();
    }

    /**
     * Every change has a unique seq (the writer's counter, written into the row); an event's after.seq
     * says which change it is. Per-row order: a row's v only grows from event to event, and so does
     * the change's position (EventFlow's change id, the message_id; Debezium's source.lsn).
     */
    private Check check(List<Delivery> deliveries, String routingPrefix, CommitTimes commits, int expected) throws IOException {
        Set<Long> seqs = new HashSet<>();
        Map<Long, long[]> lastByRow = new HashMap<>();
        long duplicates = 0;
        long violations = 0;
        long strays = 0;
        long lastReceived = 0;
        long[] latencies = new long[deliveries.size()];
        long[] toRead = new long[deliveries.size()];
        long[] fromRead = new long[deliveries.size()];
        int n = 0;
        for (Delivery d : deliveries) {
            if (!d.routingKey().startsWith(routingPrefix)) {
                strays++;
                continue;
            }
            JsonNode event = JSON.readTree(d.body());
            JsonNode after = event.get("after");
            long row = after.get("id").asLong();
            long v = after.get("v").asLong();
            long seq = after.get("seq").asLong();
            long position = d.messageId() != null ? Long.parseLong(d.messageId()) : event.at("/source/lsn").asLong();
            if (!seqs.add(seq)) {
                // the same change again (a redelivery after a failure): recognisable, not a loss
                duplicates++;
                continue;
            }
            long[] last = lastByRow.get(row);
            if (last != null && (v <= last[0] || position < last[1])) {
                violations++;
            }
            lastByRow.put(row, new long[] {v, position});
            long committed = commits.at(seq);
            if (committed == 0) {
                strays++;
                continue;
            }
            // where the time goes: commit -> read by the pipeline (the event's ts_ms) -> received
            long readNanos = (event.get("ts_ms").asLong() - CLOCK_OFFSET_MILLIS) * 1_000_000L;
            toRead[n] = readNanos - committed;
            fromRead[n] = d.receivedNanos() - readNanos;
            latencies[n++] = d.receivedNanos() - committed;
            lastReceived = Math.max(lastReceived, d.receivedNanos());
        }
        long[] sorted = Arrays.copyOf(latencies, n);
        Arrays.sort(sorted);
        Map<String, Double> latency = new LinkedHashMap<>();
        latency.put("p50", percentile(sorted, 50));
        latency.put("p95", percentile(sorted, 95));
        latency.put("p99", percentile(sorted, 99));
        latency.put("max", n == 0 ? 0 : sorted[n - 1] / 1e6);
        long[] a = Arrays.copyOf(toRead, n);
        long[] b = Arrays.copyOf(fromRead, n);
        Arrays.sort(a);
        Arrays.sort(b);
        latency.put("commitToReadP50", percentile(a, 50));
        latency.put("commitToReadP99", percentile(a, 99));
        latency.put("readToReceiptP50", percentile(b, 50));
        latency.put("readToReceiptP99", percentile(b, 99));
        long distinct = seqs.size();
        return new Check(distinct, Math.max(0, expected - distinct), duplicates, violations, strays, lastReceived, latency);
    }

    /**
     * CPU ticks used so far, by group: postgres (every server process, and those that ended: the
     * postmaster's children's ticks), pipeline (the process under test), rabbitmq (beam.smp), consumer
     * and writers (this JVM's threads: the consumer's by thread CPU time, the rest of this JVM counts as
     * the writers'), rest (every other process), and the machine's busy, idle and stolen ticks. The
     * writers' connections stay open until the second reading, so no server process the workload used
     * ends in between.
     */
    private static Map<String, Long> cpuByGroup(long pipelinePid, Consumer consumer) {
        Map<String, Long> ticks = new HashMap<>();
        long self = ProcessHandle.current().pid();
        try {
            // the whole machine: busy ticks of all cores (user, nice, system, irq, softirq), idle ones, and
            // stolen ones (a virtual machine's cores running another guest: time the processes here waited, not used)
            String[] cpu = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long busy = 0;
            for (int i : new int[] {1, 2, 3, 6, 7}) {
                busy += Long.parseLong(cpu[i]);
            }
            ticks.put("machine busy", busy);
            ticks.put("machine idle", Long.parseLong(cpu[4]) + Long.parseLong(cpu[5]));
            ticks.put("machine steal", Long.parseLong(cpu[8]));
        } catch (IOException | RuntimeException e) {
            ticks.put("machine busy", 0L);
            ticks.put("machine idle", 0L);
            ticks.put("machine steal", 0L);
        }
        File[] procs = new File("/proc").listFiles((dir, name) -> name.chars().allMatch(Character::isDigit));
        for (File proc : procs == null ? new File[0] : procs) {
            try {
                String stat = Files.readString(proc.toPath().resolve("stat"));
                long pid = Long.parseLong(proc.getName());
                String comm = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long used = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
                if (comm.startsWith("postgres")) {
                    // and its children's that ended (the postmaster's: autovacuum workers, closed connections)
                    used += Long.parseLong(fields[13]) + Long.parseLong(fields[14]);
                }
                String key = pid == pipelinePid ? "pipeline" : pid == self ? "benchmark" : comm.startsWith("postgres") ? "postgres"
                        : comm.startsWith("beam") || comm.startsWith("erl_child") || comm.equals("epmd") ? "rabbitmq" : "rest";
                ticks.merge(key, used, Long::sum);
            } catch (IOException | RuntimeException e) {
                // gone meanwhile
            }
        }
        long consumerTicks = consumer.cpuNanos() * CLK_TCK / 1_000_000_000L;
        ticks.put("consumer", consumerTicks);
        ticks.put("writers", Math.max(0, ticks.getOrDefault("benchmark", 0L) - consumerTicks));
        return ticks;
    }

    private static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1e6;
    }

    // ---------------------------------------------------------------- writers

    record WriterResult(int transactions, int changes, double seconds) {
        double tps() {
            return transactions / seconds;
        }

        double rowsPerSecond() {
            return changes / seconds;
        }
    }

    /** Commit time (System.nanoTime) of every change, by its seq. */
    static final class CommitTimes {
        private final Map<Long, Long> extra = new java.util.concurrent.ConcurrentHashMap<>();
        private long[] times = new long[0];
        private final AtomicLong first = new AtomicLong(Long.MAX_VALUE);

        void size(int n) {
            times = new long[n];
        }

        void committed(long seq, long nanos) {
            times[(int) seq] = nanos;
            first.accumulateAndGet(nanos, Math::min);
        }

        long at(long seq) {
            return seq >= 0 && seq < times.length ? times[(int) seq] : extra.getOrDefault(seq, 0L);
        }

        long first() {
            return first.get();
        }
    }

    /** Single-row INSERT transactions (autocommit, prepared) from the writer connections. */
    private WriterResult writeSingleRows(String table, int rows, CommitTimes commits) throws Exception {
        if (commits != null) {
            commits.size(rows);
        }
        AtomicLong next = new AtomicLong();
        double seconds = parallel(settings.writers(), w -> {
            try (WriterConnection wc = writer(w); PreparedStatement ps = wc.c().prepareStatement(
                    insertRowSql(table))) {
                for (long i = next.getAndIncrement(); i < rows; i = next.getAndIncrement()) {
                    bindRow(ps, i, w, i);
                    ps.executeUpdate();
                    if (commits != null) {
                        commits.committed(i, System.nanoTime());
                    }
                }
            }
        });
        return new WriterResult(rows, rows, seconds);
    }

    /** Transactions of bench.tx-rows INSERTs each (prepared, sent as one JDBC batch). */
    private WriterResult writeBatches(String table, int rows, CommitTimes commits) throws Exception {
        int txRows = settings.txRows();
        int transactions = (rows + txRows - 1) / txRows;
        if (commits != null) {
            commits.size(rows);
        }
        AtomicLong next = new AtomicLong();
        double seconds = parallel(settings.writers(), w -> {
            try (WriterConnection wc = writer(w); PreparedStatement ps = wc.c().prepareStatement(
                    insertRowSql(table))) {
                Connection c = wc.c();
                c.setAutoCommit(false);
                for (long t = next.getAndIncrement(); t < transactions; t = next.getAndIncrement()) {
                    long from = t * txRows;
                    long to = Math.min(rows, from + txRows);
                    for (long i = from; i < to; i++) {
                        bindRow(ps, i, w, i);
                        ps.addBatch();
                    }
                    ps.executeBatch();
                    c.commit();
                    if (commits != null) {
                        long now = System.nanoTime();
                        for (long i = from; i < to; i++) {
                            commits.committed(i, now);
                        }
                    }
                }
            }
        });
        return new WriterResult(transactions, rows, seconds);
    }

    /**
     * A steady rate of single-row transactions: each writer first inserts its rows, then updates them
     * round robin (v = v + 1), so per-row order is checked on many versions of each row.
     */
    private WriterResult writeSteady(String table, CommitTimes commits) throws Exception {
        return writeSteady(table, commits, settings.steadySeconds());
    }

    private WriterResult writeSteady(String table, CommitTimes commits, int steadySeconds) throws Exception {
        int total = settings.steadyRate() * steadySeconds;
        int writers = settings.steadyWriters();
        int rowsPerWriter = settings.steadyRowsPerWriter();
        commits.size(total);
        long intervalNanos = 1_000_000_000L / settings.steadyRate();
        long start = System.nanoTime() + 50_000_000L;
        double seconds = parallel(writers, w -> {
            try (WriterConnection wc = writer(w);
                    PreparedStatement insert = wc.c().prepareStatement(
                            insertRowSql(table));
                    PreparedStatement update = wc.c().prepareStatement(
                            "UPDATE public." + table + " SET v = v + 1, seq = ? WHERE id = ?")) {
                int k = 0;
                for (long seq = w; seq < total; seq += writers, k++) {
                    long due = start + seq * intervalNanos;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                    long row = (long) w * rowsPerWriter + (k % rowsPerWriter);
                    if (k < rowsPerWriter) {
                        bindRow(insert, row, w, seq);
                        insert.executeUpdate();
                    } else {
                        update.setLong(1, seq);
                        update.setLong(2, row);
                        update.executeUpdate();
                    }
                    commits.committed(seq, System.nanoTime());
                }
            }
        });
        return new WriterResult(total, total, seconds);
    }

    /** The INSERT every workload writes its rows with: id, writer, v = 0, seq, name. */
    private static String insertRowSql(String table) {
        return "INSERT INTO public." + table + " (id, writer, v, seq, name) VALUES (?, ?, 0, ?, ?)";
    }

    private static void bindRow(PreparedStatement insert, long row, int writer, long seq) throws SQLException {
        insert.setLong(1, row);
        insert.setInt(2, writer);
        insert.setLong(3, seq);
        insert.setString(4, "writer " + writer + " row " + row);
    }

    interface Writer {
        void write(int writer) throws Exception;
    }

    /** Runs the writers together; the seconds from the start of the first to the end of the last. */
    private static double parallel(int writers, Writer writer) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            long start = System.nanoTime();
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int id = w;
                futures.add(pool.submit(() -> {
                    writer.write(id);
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
            return (System.nanoTime() - start) / 1e9;
        } finally {
            pool.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- services

    /** A writer's connection: one of the open ones while a captured workload runs, else a new one. */
    record WriterConnection(Connection c, boolean own) implements AutoCloseable {
        @Override
        public void close() throws SQLException {
            if (own) {
                c.close();
            } else {
                c.setAutoCommit(true);
            }
        }
    }

    private WriterConnection writer(int w) throws SQLException {
        List<Connection> open = openWriters;
        return open != null && w < open.size() ? new WriterConnection(open.get(w), false) : new WriterConnection(connect(), true);
    }

    private Connection connect() throws SQLException {
        return connect(settings, database);
    }

    static Connection connect(Settings settings, String db) throws SQLException {
        String url = "jdbc:postgresql://" + settings.pgHost() + ":" + settings.pgPort() + "/" + db + "?ApplicationName=eventflow-bench";
        try {
            return DriverManager.getConnection(url, settings.pgUser(), null);
        } catch (SQLException e) {
            throw new SQLException("PostgreSQL is not reachable at " + settings.pgHost() + ":" + settings.pgPort() + ": " + e.getMessage(), e);
        }
    }

    private void sql(String... statements) throws SQLException {
        try (Connection c = connect(); Statement st = c.createStatement()) {
            for (String statement : statements) {
                st.execute(statement);
            }
        }
    }

    /** A database of the run's own with the benchmark's tables, on which the writers write from now on. */
    private void newDatabase(String purpose) throws SQLException {
        database = "eventflow_bench_" + id + "_" + purpose;
        try (Connection c = connect(settings, "postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + database);
        }
        databases.add(database);
        for (String table : TABLES) {
            sql("CREATE TABLE public." + table + " (id bigint PRIMARY KEY, writer int NOT NULL, v int NOT NULL, seq bigint NOT NULL,"
                    + " name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
        }
    }

    private void dropDatabase(String db) {
        try (Connection c = connect(settings, "postgres"); Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            databases.remove(db);
        } catch (SQLException e) {
            log("could not drop database %s: %s", db, e.getMessage());
        }
    }

    private void cleanUp() {
        for (String db : List.copyOf(databases)) {
            dropDatabase(db);
        }
        try (com.rabbitmq.client.Connection c = rabbitFactory().newConnection("eventflow-bench-cleanup"); Channel ch = c.createChannel()) {
            ch.queueDelete(queue);
            ch.exchangeDelete(exchange);
            ch.queueDelete(unrouted);
            ch.exchangeDelete(unrouted);
        } catch (Exception e) {
            log("could not delete the benchmark's exchanges and queues: %s", e.getMessage());
        }
    }

    private ConnectionFactory rabbitFactory() {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(settings.rabbitHost());
        factory.setPort(settings.rabbitPort());
        factory.setUsername(settings.rabbitUser());
        factory.setPassword(settings.rabbitPassword());
        return factory;
    }

    record Delivery(String routingKey, String messageId, byte[] body, long receivedNanos) {
    }

    /** A service team's consumer: a durable queue bound to everything on the exchange; records every delivery. */
    private final class Consumer implements AutoCloseable {
        private final com.rabbitmq.client.Connection connection;
        private final Channel channel;
        private final List<Delivery> deliveries = new ArrayList<>();

        Consumer() throws Exception {
            // its threads (the connection's reader and the deliveries' pool) are named, so their CPU is told apart from the writers'
            ConnectionFactory factory = rabbitFactory();
            AtomicLong threads = new AtomicLong();
            java.util.concurrent.ThreadFactory named = r -> {
                Thread t = new Thread(r, "bench-consumer-" + threads.incrementAndGet());
                t.setDaemon(true);
                return t;
            };
            factory.setThreadFactory(named);
            connection = factory.newConnection(Executors.newSingleThreadExecutor(named), "eventflow-bench-consumer");
            channel = connection.createChannel();
            // declared exactly as EventFlow declares them, so it does not matter who comes first
            channel.exchangeDeclare(unrouted, "fanout", true);
            channel.queueDeclare(unrouted, true, false, false, null);
            channel.queueBind(unrouted, unrouted, "");
            channel.exchangeDeclare(exchange, "topic", true, false, Map.of("alternate-exchange", unrouted));
            channel.queueDeclare(queue, true, false, false, null);
            channel.queueBind(queue, exchange, "#");
            channel.basicQos(5000);
            channel.basicConsume(queue, false, new DefaultConsumer(channel) {
                @Override
                public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) throws IOException {
                    long now = System.nanoTime();
                    synchronized (deliveries) {
                        deliveries.add(new Delivery(envelope.getRoutingKey(), props.getMessageId(), body, now));
                    }
                    // one ack per event by default, as a plain consumer does; bench.ack-every=N acks N at a time
                    if (envelope.getDeliveryTag() % settings.ackEvery() == 0) {
                        getChannel().basicAck(envelope.getDeliveryTag(), settings.ackEvery() > 1);
                    }
                }
            });
        }

        /** CPU time of the consumer's threads so far. */
        long cpuNanos() {
            java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
            long nanos = 0;
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().startsWith("bench-consumer-")) {
                    nanos += Math.max(0, mx.getThreadCpuTime(t.getId()));
                }
            }
            return nanos;
        }

        int count() {
            synchronized (deliveries) {
                return deliveries.size();
            }
        }

        List<Delivery> snapshot() {
            synchronized (deliveries) {
                return new ArrayList<>(deliveries);
            }
        }

        void clear() {
            synchronized (deliveries) {
                deliveries.clear();
            }
        }

        @Override
        public void close() {
            try {
                connection.close();
            } catch (Exception e) {
                // going away anyway
            }
        }
    }

    // ---------------------------------------------------------------- EventFlow, the process

    /** EventFlow started the way users start it (the launcher with its JVM flags), as a process of its own. */
    /** The resident memory of a process: now, and its peak, sampled every 50 ms and from the kernel's high-water mark. */
    static final class RssSampler {
        private final Process process;
        private volatile long peakKb;

        RssSampler(Process process) {
            this.process = process;
            Thread sampler = new Thread(() -> {
                while (process.isAlive()) {
                    peakKb = Math.max(peakKb, rssKb());
                    LockSupport.parkNanos(50_000_000L);
                }
            }, "bench-rss-sampler");
            sampler.setDaemon(true);
            sampler.start();
        }

        long rssKb() {
            return status("VmRSS:");
        }

        long peakRssKb() {
            return Math.max(peakKb, status("VmHWM:"));
        }

        /** Forgets the start-up peak (class loading, migrations): what counts is the peak under load. */
        void resetPeak() {
            try {
                Files.writeString(Path.of("/proc/" + process.pid() + "/clear_refs"), "5");
            } catch (IOException e) {
                // not allowed here: the peak then includes start-up
            }
            peakKb = rssKb();
        }

        private long status(String field) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
                    if (line.startsWith(field)) {
                        return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // gone
            }
            return 0;
        }
    }

    /** EventFlow started the way users start it (the launcher with its JVM flags), as a process of its own. */
    static final class EventFlowProcess implements Pipeline {
        private final Process process;
        private final List<String> command;
        private final String jvmFlags;
        private final double startSeconds;
        private final RssSampler rss;
        private final int port;
        private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

        private final String name;

        private EventFlowProcess(Process process, List<String> command, String jvmFlags, double startSeconds, int port, String name) {
            this.name = name;
            this.port = port;
            this.process = process;
            this.command = command;
            this.jvmFlags = jvmFlags;
            this.startSeconds = startSeconds;
            this.rss = new RssSampler(process);
        }

        /**
         * @param peerFlags settings of the peer run (-Dname=value), after the benchmark's own
         * @param jvmFlags in place of the launcher's JVM flags (none: the launcher's)
         */
        static EventFlowProcess start(Settings s, String database, String exchange, String unrouted, List<String> peerFlags, String name,
                String jvmFlags) throws Exception {
            int port;
            try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
                port = socket.getLocalPort();
            }
            List<String> overrides = new ArrayList<>(List.of(
                    "-Deventflow.postgres.url=postgresql://" + s.pgUser() + "@" + s.pgHost() + ":" + s.pgPort() + "/" + database
                            + "?sslmode=disable",
                    "-Deventflow.rabbitmq.url=amqp://" + s.rabbitUser() + ":" + s.rabbitPassword() + "@" + s.rabbitHost() + ":" + s.rabbitPort(),
                    "-Deventflow.rabbitmq.exchange=" + exchange,
                    "-Deventflow.rabbitmq.unrouted-exchange=" + unrouted,
                    "-Deventflow.http.port=" + port,
                    "-Deventflow.jmx.port=0",
                    "-Dcamel.main.routes-reload-enabled=false",
                    // the product alone; -Dbench.stream=true adds the web demo, whose change stream is a second consumer of every event
                    "-Deventflow.demo.enabled=" + Settings.get("bench.stream", "false"),
                    "-Deventflow.event.values=json"));
            overrides.addAll(peerFlags);
            List<String> command = new ArrayList<>();
            command.add(s.projectDir().resolve(s.launcher()).toString());
            ProcessBuilder builder = new ProcessBuilder(command).directory(s.projectDir().toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(s.projectDir().resolve("target/benchmark-eventflow.log").toFile());
            // the launcher's JVM flags unless the run names others; the overrides go in JAVA_OPTS
            if (!jvmFlags.isEmpty()) {
                builder.environment().put("EVENTFLOW_JVM_FLAGS", jvmFlags);
            }
            builder.environment().put("JAVA_OPTS", String.join(" ", overrides));
            long t0 = System.nanoTime();
            Process process = builder.start();
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
            HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/health/ready"))
                    .timeout(Duration.ofSeconds(2)).build();
            while (true) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("EventFlow exited with " + process.exitValue() + ", see target/benchmark-eventflow.log");
                }
                try {
                    if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                        break;
                    }
                } catch (IOException e) {
                    // not listening yet
                }
                Path log = s.projectDir().resolve("target/benchmark-eventflow.log");
                if (Files.exists(log) && Files.readString(log).contains("Exception in thread \"main\"")) {
                    process.destroyForcibly();
                    throw new IllegalStateException("EventFlow failed to start, see target/benchmark-eventflow.log");
                }
                if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(90)) {
                    process.destroyForcibly();
                    throw new IllegalStateException("EventFlow not ready after 90 s, see target/benchmark-eventflow.log");
                }
                Thread.sleep(100);
            }
            double startSeconds = (System.nanoTime() - t0) / 1e9;
            String flags = jvmFlags.isEmpty() ? launcherFlags(s.projectDir().resolve(s.launcher())) : jvmFlags;
            return new EventFlowProcess(process, command, flags, startSeconds, port, name);
        }

        /** The JVM flags the launcher uses by default (its EVENTFLOW_JVM_FLAGS line). */
        private static String launcherFlags(Path launcher) throws IOException {
            for (String line : Files.readAllLines(launcher)) {
                int at = line.indexOf("EVENTFLOW_JVM_FLAGS:-");
                if (at >= 0) {
                    String rest = line.substring(at + "EVENTFLOW_JVM_FLAGS:-".length());
                    return rest.substring(0, rest.indexOf('}'));
                }
            }
            return "";
        }

        /** How many exchanges a route has completed (Camel's route metrics on /observe/metrics); -1 if unknown. */
        long routeExchanges(String routeId) {
            try {
                HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/metrics"))
                        .timeout(Duration.ofSeconds(5)).build();
                for (String line : http.send(request, HttpResponse.BodyHandlers.ofString()).body().split("\n")) {
                    if (line.startsWith("camel_exchanges_total{") && line.contains("routeId=\"" + routeId + "\"")) {
                        return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                    }
                }
            } catch (IOException | RuntimeException e) {
                // no figure
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return -1;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public String routingPrefix(String table) {
            return "public." + table + ".";
        }

        @Override
        public boolean alive() {
            return process.isAlive();
        }

        /** The java process itself (the launcher execs it). */
        @Override
        public long pid() {
            return process.pid();
        }

        @Override
        public String describe() {
            return String.join(" ", command) + " [" + jvmFlags + "]";
        }

        @Override
        public double startSeconds() {
            return startSeconds;
        }

        @Override
        public RssSampler rss() {
            return rss;
        }

        @Override
        public long reads() {
            return routeExchanges("capture-batch");
        }

        @Override
        public void stop(Settings s) throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    // ---------------------------------------------------------------- the table

    /** One figure of a workload's result: a number, or a number inside a map ("latencyMs.p99", "cpuSeconds.postgres"). */
    @SuppressWarnings("unchecked")
    private static double figure(Map<String, Object> peer, String workload, String path) {
        Object value = peer == null ? null : peer.get(workload);
        for (String part : path.split("\\.")) {
            value = value instanceof Map<?, ?> m ? ((Map<String, Object>) m).get(part) : null;
        }
        return value instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    @SuppressWarnings("unchecked")
    private String table() {
        Map<String, Object> ef = (Map<String, Object>) report.get("eventflow");
        // the peer: Debezium Server, or EventFlow with other settings (Debezium's values, say)
        boolean values = report.get("peer") != null;
        Map<String, Object> dbz = (Map<String, Object>) report.get(values ? "peer" : "debezium");
        String peerName = values ? "EF, peer settings" : "Debezium";
        String ratioName = values ? "EF ÷ EF peer" : "EF ÷ Dbz";
        Map<String, Object> base = (Map<String, Object>) report.get("baseline");
        boolean peer = dbz != null;
        StringBuilder t = new StringBuilder();
        t.append(String.format("%nEventFlow benchmark, %s, %s%n", report.get("date"), report.get("machine")));
        t.append(String.format("load average at start %s, at end %s; writers alone: %s single-row TPS, %s rows/s in %d-row transactions%n%n",
                ((Map<String, Object>) report.get("machine")).get("loadAverage"), report.get("loadAverageAtEnd"),
                f0(base.get("singleTps")), f0(base.get("batchRowsPerSecond")), settings.txRows()));
        if (values) {
            t.append(String.format("peer: EventFlow with %s%n%n", settings.peerDescription()));
        }
        String row = peer ? "| %-50s | %-22s | %-22s | %-17s | %-22s |%n" : "| %-50s | %-22s | %-22s |%n";
        t.append(peer ? String.format(row, "measure", "EventFlow", peerName, ratioName, values ? "" : "target (EF ÷ Dbz)")
                : String.format(row, "measure", "EventFlow", "target"));
        t.append(peer ? String.format(row, "-".repeat(50), "-".repeat(22), "-".repeat(22), "-".repeat(17), "-".repeat(22))
                : String.format(row, "-".repeat(50), "-".repeat(22), "-".repeat(22)));
        java.util.function.BiConsumer<String, Object[]> line = (measure, cells) -> {
            // cells: EventFlow's text, Debezium's text, the ratio (a number or NaN), the target
            if (peer) {
                double r = (double) cells[2];
                t.append(String.format(row, measure, cells[0], cells[1], Double.isNaN(r) ? "" : String.format(Locale.ROOT, "%.2fx", r), values ? "" : cells[3]));
            } else {
                t.append(String.format(row, measure, cells[0], cells[3]));
            }
        };
        for (String w : List.of("single", "batch", "steady")) {
            String title = switch (w) {
                case "single" -> f0(figure(ef, w, "changes")) + " single-row INSERTs, " + settings.writers() + " writers";
                case "batch" -> f0(figure(ef, w, "changes")) + " rows in " + settings.txRows() + "-row transactions";
                default -> "steady " + settings.steadyRate() + " changes/s for " + settings.steadySeconds() + " s";
            };
            t.append(String.format(peer ? "| %-50s | %-22s | %-22s | %-17s | %-22s |%n" : "| %-50s | %-22s | %-22s |%n",
                    peer ? new Object[] {"**" + title + "**", "", "", "", ""} : new Object[] {"**" + title + "**", "", ""}));
            String eventsTarget = w.equals("single") ? ">= 1.2x" : w.equals("batch") ? ">= 1.5x" : "";
            if (!w.equals("steady")) {
                line.accept("  events/s, commit of the first to receipt of the last", cells(ef, dbz, w, "endToEndEventsPerSecond", 0, eventsTarget));
                line.accept("  writer rows/s with capture ÷ writers alone", new Object[] {f2(figure(ef, w, "writerRatio")) + "x",
                        peer ? f2(figure(dbz, w, "writerRatio")) + "x" : "", Double.NaN, ""});
            } else {
                line.accept("  events at the rate", cells(ef, dbz, w, "writerRowsPerSecond", 0, ""));
            }
            line.accept("  lost / duplicates / out of row order", new Object[] {guarantees(ef, w), peer ? guarantees(dbz, w) : "", Double.NaN, "0 / - / 0"});
            line.accept("  commit → consumer p50 (ms)", cells(ef, dbz, w, "latencyMs.p50", 1, ""));
            line.accept("  commit → consumer p99 (ms)", cells(ef, dbz, w, "latencyMs.p99", 1,
                    w.equals("single") ? "<= 0.1x" : w.equals("steady") ? "<= 20 ms" : ""));
            line.accept("  CPU s: PostgreSQL (every server process)", cells(ef, dbz, w, "cpuSeconds.postgres", 1, ""));
            line.accept("  PostgreSQL CPU per event (µs)", cells(ef, dbz, w, "postgresCpuMicrosPerEvent", 1, w.equals("single") ? "<= 1.1x" : ""));
            line.accept("  CPU s: the pipeline's process", cells(ef, dbz, w, "cpuSeconds.pipeline", 1, ""));
            line.accept("  pipeline CPU per event (µs)", cells(ef, dbz, w, "pipelineCpuMicrosPerEvent", 1, ""));
            line.accept("  CPU s: RabbitMQ / consumer / writers / rest", new Object[] {otherCpu(ef, w), peer ? otherCpu(dbz, w) : "", Double.NaN, ""});
            line.accept("  CPU s: whole machine (every process)", cells(ef, dbz, w, "cpuSeconds.all processes", 1, w.equals("steady") ? "<= 1x" : ""));
            line.accept("  CPU s: busy by /proc/stat's ticks / stolen by the host", new Object[] {tickCpu(ef, w), peer ? tickCpu(dbz, w) : "", Double.NaN, ""});
            line.accept("  peak resident memory of the pipeline (MB)", cells(ef, dbz, w, "peakRssMb", 0, w.equals("single") ? "<= 0.25x" : ""));
        }
        for (Map.Entry<String, Map<String, Object>> p : peer ? List.of(Map.entry("EventFlow", ef), Map.entry(peerName, dbz)) : List.of(Map.entry("EventFlow", ef))) {
            Map<String, Object> process = (Map<String, Object>) p.getValue().get("process");
            t.append(String.format("%s: %s; up in %.1f s; idle resident memory %s MB after start, %s MB after the load%n", p.getKey(),
                    process.get("command"), ((Number) process.get("startSeconds")).doubleValue(), f0(process.get("idleRssAfterStartMb")),
                    f0(process.get("idleRssAfterLoadMb"))));
        }
        if (!failures.isEmpty()) {
            t.append("BROKEN GUARANTEES: ").append(String.join("; ", failures)).append('\n');
        }
        return t.toString();
    }

    private static Object[] cells(Map<String, Object> ef, Map<String, Object> dbz, String workload, String path, int decimals, String target) {
        double a = figure(ef, workload, path);
        double b = figure(dbz, workload, path);
        String fa = decimals == 0 ? f0(a) : f1(a);
        String fb = dbz == null ? "" : decimals == 0 ? f0(b) : f1(b);
        return new Object[] {fa, fb, dbz == null || b == 0 ? Double.NaN : a / b, target};
    }

    private static String guarantees(Map<String, Object> peer, String workload) {
        return f0(figure(peer, workload, "lost")) + " / " + f0(figure(peer, workload, "duplicates")) + " / " + f0(figure(peer, workload, "orderViolations"));
    }

    private static String tickCpu(Map<String, Object> peer, String workload) {
        return f1(figure(peer, workload, "cpuSeconds.machine busy")) + " / " + f1(figure(peer, workload, "cpuSeconds.machine steal"));
    }

    private static String otherCpu(Map<String, Object> peer, String workload) {
        return f1(figure(peer, workload, "cpuSeconds.rabbitmq")) + " / " + f1(figure(peer, workload, "cpuSeconds.consumer")) + " / "
                + f1(figure(peer, workload, "cpuSeconds.writers")) + " / " + f1(figure(peer, workload, "cpuSeconds.rest"));
    }

    private static String f0(Object n) {
        return String.format(Locale.ROOT, "%,.0f", ((Number) n).doubleValue());
    }

    private static String f1(Object n) {
        return String.format(Locale.ROOT, "%.1f", ((Number) n).doubleValue());
    }

    private static String f2(Object n) {
        return String.format(Locale.ROOT, "%.2f", ((Number) n).doubleValue());
    }

    private static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("java", System.getProperty("java.version"));
        m.put("loadAverage", loadAverage());
        return m;
    }

    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (IOException e) {
            return "?";
        }
    }

    static void log(String format, Object... args) {
        System.out.printf("[bench %tT] %s%n", System.currentTimeMillis(), String.format(Locale.ROOT, format, args));
    }
}
