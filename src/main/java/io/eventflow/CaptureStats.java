package io.eventflow;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * EventFlow's own figures, refreshed by the capture-stats route from the database: how many
 * changes were published, how many wait (backlog) and for how long (lag), how many were set aside
 * unpublished; and, from the capture routes, how often a batch failed and why. Exposed as a JMX
 * MBean, as Prometheus metrics and to the health checks.
 */
public class CaptureStats implements CaptureStatsMBean {

    private final WakeupListener listener;
    private volatile long publishedTotal;
    private volatile long backlog;
    private volatile double lagSeconds;
    private volatile long lastPublishedChangeId;
    private volatile long failedTotal;
    private final AtomicLong captureFailures = new AtomicLong();
    private volatile String lastCaptureError = "";
    private volatile String lastCaptureReason = "";
    /** Failed attempts since the capture last got a batch through; the retry delay grows with them. */
    private final AtomicLong failingAttempts = new AtomicLong();
    private volatile String failingSince = "";
    private volatile long retryDelayMs = 500;
    private volatile long retryMaxDelayMs = 30_000;
    /** The cursor's claim: ACTIVE (this instance publishes), STANDBY (another one holds it) or STARTING. */
    private volatile String cursorState = "STARTING";
    private volatile String cursorHolder = "";
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
        lastCaptureReason = error == null ? "unknown error" : ChangePublisher.rootMessage(error);
        lastCaptureError = Instant.now() + " " + routeId + ": " + lastCaptureReason;
        if (!routeId.startsWith("capture-drain")) {
            return retryDelayMs;
        }
        long failures = failingAttempts.incrementAndGet();
        if (failures == 1) {
            failingSince = Instant.now().toString();
        }
        return Math.min(retryMaxDelayMs, retryDelayMs << Math.min(20, failures - 1));
    }

    /** Why the last capture step failed, in one line (the root cause's message). */
    public String lastCaptureReason() {
        return lastCaptureReason;
    }

    /** Records that a batch got through: the capture is not failing (any more). */
    public void batchFinished() {
        if (failingAttempts.get() != 0) {
            failingAttempts.set(0);
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
        cursorState = self.equals(holder) ? "ACTIVE" : "STANDBY";
        return !self.equals(holder);
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
     * eventflow_failed_total, eventflow_capture_failures_total and eventflow_listener_state, again after
     * Camel cleared the registry (it does when routes are reloaded).
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
