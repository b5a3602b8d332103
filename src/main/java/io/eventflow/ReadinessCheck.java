package io.eventflow;

import java.util.Map;
import java.util.function.Supplier;

import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/**
 * A readiness check of EventFlow (group {@code eventflow}): DOWN with the reason its probe gives,
 * UP when the probe gives none. Liveness is left to Camel's own checks.
 */
public class ReadinessCheck extends AbstractHealthCheck {

    private final Supplier<String> problem;
    private final Supplier<Map<String, Object>> details;

    /** @param problem null when all is well, otherwise what is wrong */
    public ReadinessCheck(String id, Supplier<String> problem) {
        this(id, problem, Map::of);
    }

    /** @param details what the check shows besides its state */
    public ReadinessCheck(String id, Supplier<String> problem, Supplier<Map<String, Object>> details) {
        super("eventflow", id);
        this.problem = problem;
        this.details = details;
    }

    @Override
    public boolean isLiveness() {
        return false;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        String reason;
        try {
            reason = problem.get();
        } catch (RuntimeException e) {
            reason = ChangePublisher.rootMessage(e);
        }
        details.get().forEach(builder::detail);
        if (reason == null) {
            builder.up();
        } else {
            builder.message(reason).down();
        }
    }
}
