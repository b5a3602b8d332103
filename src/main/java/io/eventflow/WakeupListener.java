package io.eventflow;

import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Watches the pgevent LISTEN connection, which can die silently or double up after a reconnect:
 * the listener-check route sends a probe notification on the wake-up channel at a fixed interval,
 * and each probe must have come back exactly once by the time it is judged.
 */
public class WakeupListener {

    public static final String PROBE_PREFIX = "probe:";

    /**
     * What the last judged probe showed. STARTING: since process start, no probe judged yet.
     * RESTARTING: the route was restarted after DEAD or DOUBLED, and no probe sent since has been
     * judged yet: still broken as far as anyone knows, until one comes back exactly once.
     */
    public enum State { STARTING, UP, DEAD, DOUBLED, RESTARTING }

    private record Probe(long sentAtNanos, AtomicInteger echoes) {
    }

    private final long graceNanos;
    private final AtomicLong sequence = new AtomicLong();
    private final AtomicLong restarts = new AtomicLong();
    private final ConcurrentSkipListMap<Long, Probe> inFlight = new ConcurrentSkipListMap<>();
    private volatile boolean connectionLost;
    private volatile State state = State.STARTING;

    /** @param graceMillis how long a probe has to come back before it is judged */
    public WakeupListener(long graceMillis) {
        this.graceNanos = graceMillis * 1_000_000L;
    }

    /** Judges the newest probe that has had its time to come back, and returns the verdict. */
    public synchronized State verdict() {
        if (connectionLost) {
            state = State.DEAD;
            return state;
        }
        long now = System.nanoTime();
        Map.Entry<Long, Probe> judged = null;
        for (Map.Entry<Long, Probe> e : inFlight.entrySet()) {
            if (now - e.getValue().sentAtNanos() >= graceNanos) {
                judged = e;
            }
        }
        if (judged != null) {
            int echoes = judged.getValue().echoes().get();
            state = echoes == 1 ? State.UP : echoes == 0 ? State.DEAD : State.DOUBLED;
            inFlight.headMap(judged.getKey(), true).clear();
        }
        return state;
    }

    /** The payload of a new probe. */
    public String nextProbe() {
        long id = sequence.incrementAndGet();
        inFlight.put(id, new Probe(System.nanoTime(), new AtomicInteger()));
        return PROBE_PREFIX + id;
    }

    /** Called by the wake-up route for every probe notification it receives. */
    public void probeReceived(String payload) {
        try {
            Probe probe = inFlight.get(Long.parseLong(payload.substring(PROBE_PREFIX.length())));
            if (probe != null) {
                probe.echoes().incrementAndGet();
            }
        } catch (RuntimeException e) {
            // not one of ours
        }
    }

    /** Called by the LISTEN connection when the database closed it. */
    public void connectionLost() {
        connectionLost = true;
    }

    /**
     * Called after the wake-up route was restarted: only probes sent from now on count, and the
     * listener is not taken for working again before one of them has come back.
     */
    public synchronized void restarted() {
        restarts.incrementAndGet();
        connectionLost = false;
        inFlight.clear();
        state = State.RESTARTING;
    }

    public State getState() {
        return state;
    }

    public long getRestarts() {
        return restarts.get();
    }
}
