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

    /** @param problem null when all is well, otherwise what is wrong */
    public ReadinessCheck(String id, Supplier<String> problem) {
        super("eventflow", id);
        this.problem = problem;
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
        if (reason == null) {
            builder.up();
        } else {
            builder.message(reason).down();
        }
    }
}
