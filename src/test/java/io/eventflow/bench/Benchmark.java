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

    /** What a run does; every value a system property (or the same name upper-cased as an environment variable). */
    record Settings(int warmupRows, int rows, int batchRows, int txRows, int writers, int steadyRate, int steadySeconds, int steadyWriters,
            int steadyRowsPerWriter, String pgHost, int pgPort, String pgUser, String rabbitHost, int rabbitPort,
            String rabbitUser, String rabbitPassword, String launcher, String jvmFlags, Path projectDir, Path output,
            int drainTimeoutSeconds, int idleSeconds, int ackEvery, boolean smoke) {

        static Settings load() {
            boolean smoke = Boolean.parseBoolean(get("bench.smoke", "false"));
            return new Settings(
                    integer("bench.warmup-rows", smoke ? 500 : 30_000),
                    integer("bench.rows", smoke ? 3000 : 200_000),
                    integer("bench.batch-rows", smoke ? 3000 : 200_000),
                    integer("bench.tx-rows", 100),
                    integer("bench.writers", 8),
                    integer("bench.steady-rate", smoke ? 500 : 1000),
                    integer("bench.steady-seconds", smoke ? 4 : 30),
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
                    smoke);
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
    }

    private final Settings settings;
    private final String id = UUID.randomUUID().toString().substring(0, 8);
    private final String database = "eventflow_bench_" + id;
    private final String exchange = "eventflow.bench.changes." + id;
    private final String unrouted = "eventflow.bench.unrouted." + id;
    private final String queue = "eventflow.bench.consumer." + id;
    private final Map<String, Object> report = new LinkedHashMap<>();
    private final List<String> failures = new ArrayList<>();

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
        report.put("date", Instant.now().toString());
        report.put("machine", machine());
        report.put("settings", Map.of("warmupRows", s.warmupRows(), "rows", s.rows(), "batchRows", s.batchRows(), "txRows", s.txRows(), "writers", s.writers(),
                "steadyRate", s.steadyRate(), "steadySeconds", s.steadySeconds(), "smoke", s.smoke()));
        log("EventFlow benchmark %s: database %s, exchange %s (load average %s)", id, database, exchange, loadAverage());
        createDatabase();
        EventFlowProcess eventflow = null;
        Consumer consumer = null;
        try {
            createTables();
            // 1. the writers alone
            WriterResult baseSingle = writeSingleRows("bench_single", s.rows(), null);
            log("baseline single-row: %,.0f TPS", baseSingle.tps());
            WriterResult baseBatch = writeBatches("bench_batch", s.batchRows(), null);
            log("baseline %d-row transactions: %,.0f rows/s", s.txRows(), baseBatch.rowsPerSecond());
            sql("TRUNCATE public.bench_single, public.bench_batch", "VACUUM ANALYZE public.bench_single, public.bench_batch");

            // 2. the same with EventFlow capturing
            consumer = new Consumer();
            eventflow = EventFlowProcess.start(s, database, exchange, unrouted);
            log("EventFlow up (pid %d) in %.1f s with %s", eventflow.pid(), eventflow.startSeconds(), eventflow.command());
            sql("SELECT eventflow.enable_capture('public.bench_single')", "SELECT eventflow.enable_capture('public.bench_batch')",
                    "SELECT eventflow.enable_capture('public.bench_steady')", "SELECT eventflow.enable_capture('public.bench_warmup')");
            Thread.sleep(Math.min(5000, s.idleSeconds() * 1000L));
            long idleAfterStart = eventflow.rssKb();
            eventflow.resetPeak();

            // warm-up (JIT compilation, pools, caches): checked like the others, reported apart
            Map<String, Object> warmup = captured("warm-up", "bench_warmup", consumer, eventflow,
                    events -> writeSingleRows("bench_warmup", s.warmupRows(), events), null);
            report.put("warmup", warmup);

            Map<String, Object> single = captured("single", "bench_single", consumer, eventflow,
                    events -> writeSingleRows("bench_single", s.rows(), events), baseSingle);
            Map<String, Object> batch = captured("batch", "bench_batch", consumer, eventflow,
                    events -> writeBatches("bench_batch", s.batchRows(), events), baseBatch);
            Map<String, Object> steady = captured("steady", "bench_steady", consumer, eventflow,
                    events -> writeSteady("bench_steady", events), null);
            long peakUnderLoad = eventflow.peakRssKb();

            Thread.sleep(s.idleSeconds() * 1000L);
            long idleAfterLoad = eventflow.rssKb();
            Map<String, Object> memory = new LinkedHashMap<>();
            memory.put("peakRssMb", peakUnderLoad / 1024.0);
            memory.put("idleRssAfterStartMb", idleAfterStart / 1024.0);
            memory.put("idleRssAfterLoadMb", idleAfterLoad / 1024.0);
            memory.put("startSeconds", eventflow.startSeconds());
            memory.put("jvmFlags", eventflow.jvmFlags());
            report.put("single", single);
            report.put("batch", batch);
            report.put("steady", steady);
            report.put("eventflow", memory);
            report.put("loadAverageAtEnd", loadAverage());
            report.put("failures", failures);
        } finally {
            if (eventflow != null) {
                eventflow.stop();
            }
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

    interface Workload {
        WriterResult write(CommitTimes commits) throws Exception;
    }

    /** Runs one workload with EventFlow capturing, consumes every event and checks them. */
    private Map<String, Object> captured(String name, String table, Consumer consumer, EventFlowProcess eventflow,
            Workload workload, WriterResult baseline) throws Exception {
        String routingPrefix = "public." + table + ".";
        consumer.clear();
        Map<String, Long> machineBefore = cpuByProcess(eventflow.pid());
        long cpuBefore = eventflow.cpuTicks();
        long batchesBefore = eventflow.routeExchanges("capture-batch");
        CommitTimes commits = new CommitTimes();
        WriterResult writer = workload.write(commits);
        int expected = writer.changes();
        long lastProgress = System.nanoTime();
        int seen = 0;
        List<Delivery> deliveries;
        Map<String, Long> distinct;
        while (true) {
            int count = consumer.count();
            if (count != seen) {
                seen = count;
                lastProgress = System.nanoTime();
            }
            if (count >= expected) {
                deliveries = consumer.snapshot();
                distinct = new HashMap<>();
                for (Delivery d : deliveries) {
                    distinct.merge(d.messageId(), 1L, Long::sum);
                }
                if (distinct.size() >= expected) {
                    break;
                }
            }
            if (!eventflow.alive()) {
                throw new IllegalStateException("EventFlow (pid " + eventflow.pid() + ") exited with " + eventflow.exitValue()
                        + " during the " + name + " workload; see target/benchmark-eventflow.log");
            }
            if (System.nanoTime() - lastProgress > TimeUnit.SECONDS.toNanos(s().drainTimeoutSeconds())) {
                deliveries = consumer.snapshot();
                break;
            }
            Thread.sleep(2);
        }
        long cpuAfter = eventflow.cpuTicks();
        Map<String, Long> machineAfter = cpuByProcess(eventflow.pid());
        long batches = eventflow.routeExchanges("capture-batch") - batchesBefore;
        Thread.sleep(200); // stragglers: duplicates would show up now
        deliveries = consumer.snapshot();
        Check check = check(deliveries, routingPrefix, commits, expected);

        double cpuSeconds = (cpuAfter - cpuBefore) / (double) CLK_TCK;
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
        r.put("cpuSeconds", cpuSeconds);
        r.put("cpuMicrosPerEvent", check.distinct() == 0 ? 0 : cpuSeconds * 1e6 / check.distinct());
        r.put("peakRssMb", eventflow.peakRssKb() / 1024.0);
        // where the machine's CPU went meanwhile, in seconds per process name (others: everyone else's)
        // (processes that ended meanwhile, like the writers' PostgreSQL sessions, are in "postgres and the rest")
        Map<String, Double> where = new LinkedHashMap<>();
        double named = 0;
        for (String k : List.of("eventflow", "rabbitmq", "benchmark", "other java")) {
            double sec = Math.max(0, machineAfter.getOrDefault(k, 0L) - machineBefore.getOrDefault(k, 0L)) / (double) CLK_TCK;
            where.put(k, Math.round(sec * 100) / 100.0);
            named += sec;
        }
        double busy = (machineAfter.getOrDefault("machine busy", 0L) - machineBefore.getOrDefault("machine busy", 0L)) / (double) CLK_TCK;
        double idle = (machineAfter.getOrDefault("machine idle", 0L) - machineBefore.getOrDefault("machine idle", 0L)) / (double) CLK_TCK;
        where.put("postgres and the rest", Math.round(Math.max(0, busy - named) * 100) / 100.0);
        where.put("machine busy", Math.round(busy * 100) / 100.0);
        where.put("machine idle", Math.round(idle * 100) / 100.0);
        r.put("cpuSecondsByProcess", where);
        r.put("reads", batches);
        r.put("eventsPerRead", batches <= 0 ? 0 : check.distinct() / (double) batches);
        log("%s: %,d changes, %,d received, %d lost, %d duplicates, %d out of order; %,.0f events/s end to end, writer %,.0f rows/s%s;"
                + " latency p50 %.1f p99 %.1f max %.1f ms (to read p50 %.1f p99 %.1f, read to receipt p50 %.1f p99 %.1f);"
                + " CPU %.1f µs/event; %d reads",
                name, expected, deliveries.size(), check.lost(), check.duplicates(), check.orderViolations(),
                check.distinct() / e2eSeconds, writer.rowsPerSecond(),
                baseline == null ? "" : String.format(" (%.2fx)", writer.rowsPerSecond() / baseline.rowsPerSecond()),
                check.latency().get("p50"), check.latency().get("p99"), check.latency().get("max"), check.latency().get("commitToReadP50"), check.latency().get("commitToReadP99"),
                check.latency().get("readToReceiptP50"), check.latency().get("readToReceiptP99"), cpuSeconds * 1e6 / Math.max(1, check.distinct()),
                batches);
        log("%s: CPU seconds meanwhile by process: %s", name, where);
        if (check.lost() > 0) {
            failures.add(name + ": " + check.lost() + " of " + expected + " changes lost");
        }
        if (check.orderViolations() > 0) {
            failures.add(name + ": " + check.orderViolations() + " changes arrived out of row order");
        }
        if (check.strays() > 0) {
            failures.add(name + ": " + check.strays() + " events that no writer committed");
        }
        return r;
    }

    private Settings s() {
        return settings;
    }

    // ---------------------------------------------------------------- checks

    record Check(long distinct, long lost, long duplicates, long orderViolations, long strays, long lastReceived,
            Map<String, Double> latency) {
    }

    /**
     * Every change has a unique seq (the writer's counter, written into the row); an event's after.seq
     * says which change it is. Per-row order: a row's v only grows from event to event, and so does
     * the change id (message_id).
     */
    private Check check(List<Delivery> deliveries, String routingPrefix, CommitTimes commits, int expected) throws IOException {
        Set<String> ids = new HashSet<>();
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
            if (!ids.add(d.messageId())) {
                duplicates++;
                continue;
            }
            JsonNode event = JSON.readTree(d.body());
            JsonNode after = event.get("after");
            long row = after.get("id").asLong();
            long v = after.get("v").asLong();
            long seq = after.get("seq").asLong();
            long changeId = Long.parseLong(d.messageId());
            if (!seqs.add(seq)) {
                strays++;
                continue;
            }
            long[] last = lastByRow.get(row);
            if (last != null && (v <= last[0] || changeId <= last[1])) {
                violations++;
            }
            lastByRow.put(row, new long[] {v, changeId});
            long committed = commits.at(seq);
            if (committed == 0) {
                strays++;
                continue;
            }
            // where the time goes: commit -> read by EventFlow (the event's ts_ms, PostgreSQL's clock) -> received
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
     * CPU ticks used so far by every process on the machine, summed by what it is: eventflow (the
     * process under test), benchmark (this JVM), postgres, rabbitmq (beam.smp), and the rest by name.
     */
    private static Map<String, Long> cpuByProcess(long eventflowPid) {
        Map<String, Long> ticks = new HashMap<>();
        long self = ProcessHandle.current().pid();
        File[] procs = new File("/proc").listFiles((dir, name) -> name.chars().allMatch(Character::isDigit));
        if (procs == null) {
            return ticks;
        }
        try {
            // the whole machine: busy ticks of all cores (user, nice, system, irq, softirq, steal) and idle ones
            String[] cpu = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long busy = 0;
            for (int i : new int[] {1, 2, 3, 6, 7, 8}) {
                busy += Long.parseLong(cpu[i]);
            }
            ticks.put("machine busy", busy);
            ticks.put("machine idle", Long.parseLong(cpu[4]) + Long.parseLong(cpu[5]));
        } catch (IOException | RuntimeException e) {
            // no figure
        }
        for (File proc : procs) {
            try {
                String stat = Files.readString(proc.toPath().resolve("stat"));
                long pid = Long.parseLong(proc.getName());
                String comm = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long used = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
                String key = pid == eventflowPid ? "eventflow" : pid == self ? "benchmark" : comm.startsWith("postgres") ? "postgres"
                        : comm.startsWith("beam") ? "rabbitmq" : comm.equals("java") ? "other java" : "other";
                ticks.merge(key, used, Long::sum);
            } catch (IOException | RuntimeException e) {
                // gone meanwhile
            }
        }
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
            try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(
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
            try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(
                    insertRowSql(table))) {
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
        int total = settings.steadyRate() * settings.steadySeconds();
        int writers = settings.steadyWriters();
        int rowsPerWriter = settings.steadyRowsPerWriter();
        commits.size(total);
        long intervalNanos = 1_000_000_000L / settings.steadyRate();
        long start = System.nanoTime() + 50_000_000L;
        double seconds = parallel(writers, w -> {
            try (Connection c = connect();
                    PreparedStatement insert = c.prepareStatement(
                            insertRowSql(table));
                    PreparedStatement update = c.prepareStatement(
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

    private Connection connect() throws SQLException {
        return connect(database);
    }

    private Connection connect(String db) throws SQLException {
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

    private void createDatabase() throws SQLException {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + database);
        }
    }

    private void createTables() throws SQLException {
        for (String table : List.of("bench_warmup", "bench_single", "bench_batch", "bench_steady")) {
            sql("CREATE TABLE public." + table + " (id bigint PRIMARY KEY, writer int NOT NULL, v int NOT NULL, seq bigint NOT NULL,"
                    + " name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
        }
    }

    private void cleanUp() {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
        } catch (SQLException e) {
            log("could not drop database %s: %s", database, e.getMessage());
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
            connection = rabbitFactory().newConnection("eventflow-bench-consumer");
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
    static final class EventFlowProcess {
        private final Process process;
        private final List<String> command;
        private final String jvmFlags;
        private final double startSeconds;
        private volatile long peakKb;
        private final Thread sampler;

        private final int port;
        private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

        private EventFlowProcess(Process process, List<String> command, String jvmFlags, double startSeconds, int port) {
            this.port = port;
            this.process = process;
            this.command = command;
            this.jvmFlags = jvmFlags;
            this.startSeconds = startSeconds;
            this.sampler = new Thread(() -> {
                while (process.isAlive()) {
                    peakKb = Math.max(peakKb, rssKb());
                    LockSupport.parkNanos(50_000_000L);
                }
            }, "eventflow-rss-sampler");
            sampler.setDaemon(true);
            sampler.start();
        }

        static EventFlowProcess start(Settings s, String database, String exchange, String unrouted) throws Exception {
            int port;
            try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
                port = socket.getLocalPort();
            }
            List<String> overrides = List.of(
                    "-Deventflow.postgres.url=postgresql://" + s.pgUser() + "@" + s.pgHost() + ":" + s.pgPort() + "/" + database
                            + "?sslmode=disable",
                    "-Deventflow.rabbitmq.url=amqp://" + s.rabbitUser() + ":" + s.rabbitPassword() + "@" + s.rabbitHost() + ":" + s.rabbitPort(),
                    "-Deventflow.rabbitmq.exchange=" + exchange,
                    "-Deventflow.rabbitmq.unrouted-exchange=" + unrouted,
                    "-Deventflow.http.port=" + port,
                    "-Deventflow.jmx.port=0",
                    "-Dcamel.main.routes-reload-enabled=false",
                    // the web demo's change stream would be a second consumer of every event (-Dbench.stream=true: on)
                    "-Deventflow.stream.enabled=" + Settings.get("bench.stream", "false"));
            List<String> command = new ArrayList<>();
            command.add(s.projectDir().resolve(s.launcher()).toString());
            ProcessBuilder builder = new ProcessBuilder(command).directory(s.projectDir().toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(s.projectDir().resolve("target/benchmark-eventflow.log").toFile());
            // the launcher's JVM flags unless the run names others; the overrides go in JAVA_OPTS
            if (!s.jvmFlags().isEmpty()) {
                builder.environment().put("EVENTFLOW_JVM_FLAGS", s.jvmFlags());
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
            String flags = s.jvmFlags().isEmpty() ? launcherFlags(s.projectDir().resolve(s.launcher())) : s.jvmFlags();
            return new EventFlowProcess(process, command, flags, startSeconds, port);
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

        boolean alive() {
            return process.isAlive();
        }

        int exitValue() {
            return process.exitValue();
        }

        /** The java process itself (the launcher execs it). */
        long pid() {
            return process.pid();
        }

        String command() {
            return String.join(" ", command) + " [" + jvmFlags + "]";
        }

        String jvmFlags() {
            return jvmFlags;
        }

        double startSeconds() {
            return startSeconds;
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
                Files.writeString(Path.of("/proc/" + pid() + "/clear_refs"), "5");
            } catch (IOException e) {
                // not allowed here: the peak then includes start-up
            }
            peakKb = rssKb();
        }

        private long status(String field) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/" + pid() + "/status"))) {
                    if (line.startsWith(field)) {
                        return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // gone
            }
            return 0;
        }

        /** utime + stime of the process, in clock ticks. */
        long cpuTicks() {
            try {
                String stat = Files.readString(Path.of("/proc/" + pid() + "/stat"));
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
            } catch (IOException e) {
                return 0;
            }
        }

        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    // ---------------------------------------------------------------- the table

    @SuppressWarnings("unchecked")
    private String table() {
        Map<String, Object> single = (Map<String, Object>) report.get("single");
        Map<String, Object> batch = (Map<String, Object>) report.get("batch");
        Map<String, Object> steady = (Map<String, Object>) report.get("steady");
        Map<String, Object> ef = (Map<String, Object>) report.get("eventflow");
        StringBuilder t = new StringBuilder();
        t.append(String.format("%nEventFlow benchmark, %s, %s%n", report.get("date"), report.get("machine")));
        t.append(String.format("load average at start %s, at end %s%n%n", ((Map<String, Object>) report.get("machine")).get("loadAverage"),
                report.get("loadAverageAtEnd")));
        String row = "| %-52s | %-24s | %-22s |%n";
        t.append(String.format(row, "measure", "EventFlow", "target / peer"));
        t.append(String.format(row, "-".repeat(52), "-".repeat(24), "-".repeat(22)));
        t.append(String.format(row, "end to end, " + f0(single.get("changes")) + " single-row INSERTs (events/s)",
                f0(single.get("endToEndEventsPerSecond")) + " (" + ratio(single.get("endToEndEventsPerSecond"), 8238) + " Debezium)",
                ">= 10,000; Debezium 8,238"));
        t.append(String.format(row, "  loss / duplicates / order violations", single.get("lost") + " / " + single.get("duplicates") + " / "
                + single.get("orderViolations"), "0 / - / 0"));
        t.append(String.format(row, "  latency p50 / p95 / p99 / max (ms)", latency(single), ""));
        t.append(String.format(row, "  writer TPS with capture / without", f0(single.get("writerTps")) + " / " + f0(single.get("baselineTps"))
                + " (" + f2(single.get("writerRatio")) + "x)", ">= 0.5x; Debezium 0.38x"));
        t.append(String.format(row, "  EventFlow CPU per event (µs)", f1(single.get("cpuMicrosPerEvent")), "< 64 (Debezium)"));
        t.append(String.format(row, "end to end, " + f0(batch.get("changes")) + " rows in " + settings.txRows() + "-row tx (events/s)",
                f0(batch.get("endToEndEventsPerSecond")), ""));
        t.append(String.format(row, "  loss / duplicates / order violations", batch.get("lost") + " / " + batch.get("duplicates") + " / "
                + batch.get("orderViolations"), "0 / - / 0"));
        t.append(String.format(row, "  latency p50 / p95 / p99 / max (ms)", latency(batch), ""));
        t.append(String.format(row, "  writer rows/s with capture / without", f0(batch.get("writerRowsPerSecond")) + " / "
                + f0(batch.get("baselineRowsPerSecond")) + " (" + f2(batch.get("writerRatio")) + "x)", ""));
        t.append(String.format(row, "  EventFlow CPU per event (µs)", f1(batch.get("cpuMicrosPerEvent")), "< 64 (Debezium)"));
        t.append(String.format(row, "steady " + settings.steadyRate() + " changes/s for " + settings.steadySeconds() + " s (events)",
                f0(steady.get("distinct")) + " at " + f0(steady.get("writerRowsPerSecond")) + "/s", ""));
        t.append(String.format(row, "  loss / duplicates / order violations", steady.get("lost") + " / " + steady.get("duplicates") + " / "
                + steady.get("orderViolations"), "0 / - / 0"));
        t.append(String.format(row, "  latency p50 / p95 / p99 / max (ms)", latency(steady), "p99 <= 20; Debezium 920"));
        t.append(String.format(row, "  EventFlow CPU per event (µs)", f1(steady.get("cpuMicrosPerEvent")), ""));
        t.append(String.format(row, "EventFlow resident memory, peak under load (MB)", f0(ef.get("peakRssMb"))
                + " (" + ratio(ef.get("peakRssMb"), 1130) + " Debezium)", "<= 300; Debezium 1,130"));
        t.append(String.format(row, "EventFlow resident memory, idle (MB)", f0(ef.get("idleRssAfterLoadMb")) + " after load, "
                + f0(ef.get("idleRssAfterStartMb")) + " after start", "<= 200"));
        t.append(String.format("EventFlow JVM flags: %s%n", ef.get("jvmFlags")));
        for (String w : List.of("single", "batch", "steady")) {
            Map<String, Object> r = (Map<String, Object>) report.get(w);
            t.append(String.format("CPU seconds during %-6s (%.1f s): %s%n", w, ((Number) r.get("endToEndSeconds")).doubleValue(),
                    r.get("cpuSecondsByProcess")));
        }
        if (!failures.isEmpty()) {
            t.append("BROKEN GUARANTEES: ").append(String.join("; ", failures)).append('\n');
        }
        return t.toString();
    }

    @SuppressWarnings("unchecked")
    private static String latency(Map<String, Object> r) {
        Map<String, Double> l = (Map<String, Double>) r.get("latencyMs");
        return f1(l.get("p50")) + " / " + f1(l.get("p95")) + " / " + f1(l.get("p99")) + " / " + f0(l.get("max"));
    }

    private static String ratio(Object value, double peer) {
        return String.format(Locale.ROOT, "%.2fx", ((Number) value).doubleValue() / peer);
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

    private static void log(String format, Object... args) {
        System.out.printf("[bench %tT] %s%n", System.currentTimeMillis(), String.format(Locale.ROOT, format, args));
    }
}
