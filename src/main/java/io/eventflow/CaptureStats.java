package io.eventflow;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * EventFlow's own figures, refreshed by the capture-stats route from the database: how many
 * changes were published, how many wait (backlog) and for how long (lag), how many were set aside
 * unpublished; and, from the capture routes, how often a batch failed and why. Exposed as a JMX
 * MBean, as Prometheus metrics and to the health checks.
 */
public class CaptureStats implements CaptureStatsMBean {

    private static final Logger LOG = LoggerFactory.getLogger(CaptureStats.class);
    private static final long REPORT_INTERVAL_NANOS = 60_000_000_000L;

    /** The last failure logged of a route, and how often it repeated since without being logged. */
    private record Report(String reason, long loggedAtNanos, AtomicLong repeats) {
    }

    private final Map<String, Report> reports = new ConcurrentHashMap<>();
    private final WakeupListener listener;
    private volatile long publishedTotal;
    private volatile long backlog;
    private volatile double lagSeconds;
    private volatile long lastPublishedChangeId;
    private volatile long failedTotal;
    private volatile long snapshotsOpen;
    private volatile long snapshotRowsTotal;
    private volatile String snapshotProgress = "";
    private final AtomicLong captureFailures = new AtomicLong();
    private volatile String lastCaptureError = "";
    /** Failed attempts since the capture last got a batch through; the retry delay grows with them. */
    private final AtomicLong failingAttempts = new AtomicLong();
    private volatile String failingSince = "";
    private volatile long retryDelayMs = 500;
    private volatile long retryMaxDelayMs = 30_000;
    /** The cursor's claim: ACTIVE (this instance publishes), STANDBY (another one holds it) or STARTING. */
    private volatile String cursorState = "STARTING";
    private volatile String cursorHolder = "";
    private volatile long claimedAtNanos;
    private volatile long claimRenewNanos = 5_000_000_000L;
    private volatile long refreshedAtNanos;
    private volatile String lastError = "";
    private volatile MeterRegistry registry;

    public CaptureStats(WakeupListener listener) {
        this.listener = listener;
    }

    /** Takes the row of the capture-stats route's query. */
    public void update(Map<String, Object> row) {
        MeterRegistry registry = this.registry;
        if (registry != null) {
            bindTo(registry);
        }
        publishedTotal = number(row.get("published_total")).longValue();
        backlog = number(row.get("backlog")).longValue();
        lagSeconds = number(row.get("lag_seconds")).doubleValue();
        lastPublishedChangeId = number(row.get("last_published_id")).longValue();
        failedTotal = number(row.get("failed_total")).longValue();
        snapshotsOpen = number(row.get("snapshots_open")).longValue();
        snapshotRowsTotal = number(row.get("snapshot_rows_total")).longValue();
        snapshotProgress = row.get("snapshot_progress") instanceof String progress ? progress : "";
        refreshedAtNanos = System.nanoTime();
        lastError = "";
    }

    /** Records why the figures could not be refreshed (the database is unreachable, say). */
    public void failed(String error) {
        lastError = error == null ? "unknown error" : error;
    }

    /**
     * Records a failed capture step (the broker down, a batch refused, the database gone); it is retried.
     *
     * @return how long to wait before the retry: eventflow.capture.retry-delay-ms, doubled with each
     *         failure in a row of the capture, up to eventflow.capture.retry-max-delay-ms
     */
    public long captureFailed(String routeId, Throwable error) {
        captureFailures.incrementAndGet();
        String reason = error == null ? "unknown error" : ChangePublisher.rootMessage(error);
        lastCaptureError = Instant.now() + " " + routeId + ": " + reason;
        LOG.debug("{} failed", routeId, error);
        if (!routeId.startsWith("capture-drain")) {
            report(routeId, reason, "trying again at its next run");
            return retryDelayMs;
        }
        // the failure may be a lost claim (fencing): claim again before the next read
        claimedAtNanos = 0;
        long failures = failingAttempts.incrementAndGet();
        if (failures == 1) {
            failingSince = Instant.now().toString();
        }
        long delay = Math.min(retryMaxDelayMs, retryDelayMs << Math.min(20, failures - 1));
        report(routeId, reason, "nothing lost, retrying in " + delay + " ms");
        return delay;
    }

    /** Logs, as {@link #report}, that the wake-up listener is restarted after it was found dead or doubled. */
    public void listenerRestarting(String state) {
        report("capture-listener-check", "wake-up listener " + state, "restarting route capture-wakeup");
    }

    /**
     * Logs a failure in one line, and a failure that repeats, the same, at most once a minute with
     * how often it happened meanwhile: a database or broker that is gone for long fills no log.
     */
    private void report(String routeId, String reason, String outcome) {
        Report last = reports.get(routeId);
        long now = System.nanoTime();
        if (last != null && last.reason().equals(reason) && now - last.loggedAtNanos() < REPORT_INTERVAL_NANOS) {
            last.repeats().incrementAndGet();
            return;
        }
        long repeats = last == null ? 0 : last.repeats().get();
        reports.put(routeId, new Report(reason, now, new AtomicLong()));
        if (repeats > 0 && last.reason().equals(reason)) {
            LOG.warn("{} still failing ({} more times in the last minute), {}: {}", routeId, repeats, outcome, reason);
        } else {
            LOG.warn("{} failed, {}: {}", routeId, outcome, reason);
        }
    }

    private void recovered(String routeId) {
        Report last = reports.remove(routeId);
        if (last != null) {
            LOG.info("{} works again", routeId);
        }
    }

    /** Records that a drain went through without a failure: the capture is not failing (any more). */
    public void drained() {
        if (failingAttempts.get() != 0) {
            failingAttempts.set(0);
            recovered("capture-drain");
        }
    }

    /** Why the capture is failing, or null when its last attempt got through. */
    public String captureProblem() {
        long failures = failingAttempts.get();
        return failures == 0 ? null : "capture failing since " + failingSince + " (" + failures + " attempts): " + lastCaptureError;
    }

    public void setRetryDelays(long delayMs, long maxDelayMs) {
        this.retryDelayMs = Math.max(1, delayMs);
        this.retryMaxDelayMs = Math.max(this.retryDelayMs, maxDelayMs);
    }

    /**
     * Takes the outcome of claim_cursor: the instance that holds the cursor now.
     *
     * @return whether this instance is a standby (another one holds the cursor and publishes)
     */
    public boolean standby(String holder, String self) {
        cursorHolder = holder == null ? "" : holder;
        boolean active = self.equals(holder);
        cursorState = active ? "ACTIVE" : "STANDBY";
        claimedAtNanos = active ? System.nanoTime() : 0;
        if (!active) {
            // a standby publishes nothing: nothing of its capture is failing
            drained();
        }
        return !active;
    }

    /**
     * Whether the drain must claim the cursor before it reads: when this instance does not hold it,
     * after a failure, or when the claim is older than eventflow.capture.claim-renew-ms (the lease
     * outlasts it; a claim lost meanwhile shows at the next read or finish, which are fenced).
     */
    public boolean claimDue() {
        long claimed = claimedAtNanos;
        return claimed == 0 || System.nanoTime() - claimed >= claimRenewNanos;
    }

    public void setClaimRenewMs(long renewMs) {
        this.claimRenewNanos = Math.max(0, renewMs) * 1_000_000L;
    }

    private static Number number(Object value) {
        return value instanceof Number n ? n : 0;
    }

    /** Seconds since the figures were last read from the database; infinite before the first time. */
    public double secondsSinceRefresh() {
        return refreshedAtNanos == 0 ? Double.POSITIVE_INFINITY : (System.nanoTime() - refreshedAtNanos) / 1e9;
    }

    /**
     * Registers eventflow_published_total, eventflow_backlog, eventflow_lag_seconds,
     * eventflow_failed_total, eventflow_snapshots_open, eventflow_snapshot_rows_total,
     * eventflow_capture_failures_total and eventflow_listener_state, again after Camel cleared the
     * registry (it does when routes are reloaded).
     */
    public void bindTo(MeterRegistry registry) {
        this.registry = registry;
        if (registry.find("eventflow.published").functionCounter() != null) {
            return;
        }
        FunctionCounter.builder("eventflow.published", this, CaptureStats::getPublishedTotal)
                .description("Change events published and confirmed by RabbitMQ").register(registry);
        Gauge.builder("eventflow.backlog", this, CaptureStats::getBacklog)
                .description("Committed changes not yet published").register(registry);
        Gauge.builder("eventflow.lag", this, CaptureStats::getLagSeconds).baseUnit("seconds")
                .description("Age of the oldest committed change not yet published").register(registry);
        FunctionCounter.builder("eventflow.failed", this, CaptureStats::getFailedTotal)
                .description("Changes set aside unpublished in eventflow.failed_change").register(registry);
        Gauge.builder("eventflow.snapshots.open", this, CaptureStats::getSnapshotsOpen)
                .description("Incremental snapshots waiting or running (eventflow.snapshots)").register(registry);
        FunctionCounter.builder("eventflow.snapshot.rows", this, CaptureStats::getSnapshotRowsTotal)
                .description("Rows incremental snapshots have read, as 'r' changes").register(registry);
        FunctionCounter.builder("eventflow.capture.failures", this, CaptureStats::getCaptureFailures)
                .description("Capture steps that failed (a batch, the listener check, the clean-up) and were retried").register(registry);
        for (String state : new String[] {"STARTING", "ACTIVE", "STANDBY"}) {
            Gauge.builder("eventflow.cursor.state", this, stats -> state.equals(stats.getCursorState()) ? 1 : 0).tag("state", state)
                    .description("This instance and the cursor (1 for the current state): ACTIVE publishes, STANDBY waits for the holder to go")
                    .register(registry);
        }
        // one series per state, 1 for the current one: a listener stuck in DEAD/RESTARTING shows as a flat line
        for (WakeupListener.State state : WakeupListener.State.values()) {
            Gauge.builder("eventflow.listener.state", listener, l -> l.getState() == state ? 1 : 0).tag("state", state.name())
                    .description("Wake-up listener state (1 for the current one)").register(registry);
        }
    }

    @Override
    public long getSnapshotsOpen() {
        return snapshotsOpen;
    }

    @Override
    public long getSnapshotRowsTotal() {
        return snapshotRowsTotal;
    }

    @Override
    public String getSnapshotProgress() {
        return snapshotProgress;
    }

    @Override
    public long getPublishedTotal() {
        return publishedTotal;
    }

    @Override
    public long getBacklog() {
        return backlog;
    }

    @Override
    public double getLagSeconds() {
        return lagSeconds;
    }

    @Override
    public long getLastPublishedChangeId() {
        return lastPublishedChangeId;
    }

    @Override
    public long getFailedTotal() {
        return failedTotal;
    }

    @Override
    public long getCaptureFailures() {
        return captureFailures.get();
    }

    @Override
    public String getLastCaptureError() {
        return lastCaptureError;
    }

    @Override
    public String getListenerState() {
        return listener.getState().name();
    }

    @Override
    public long getListenerRestarts() {
        return listener.getRestarts();
    }

    @Override
    public String getCursorState() {
        return cursorState;
    }

    @Override
    public String getCursorHolder() {
        return cursorHolder;
    }

    @Override
    public String getLastError() {
        return lastError;
    }
}
