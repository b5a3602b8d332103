package io.eventflow;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Watches the pgevent LISTEN connection, which can die silently or double up after a reconnect:
 * the listener-check route sends a probe notification on the wake-up channel at a fixed interval,
 * and by the next check exactly one copy of it must have come back.
 */
public class WakeupListener {

    public static final String PROBE_PREFIX = "probe:";

    /** What the last probe showed. */
    public enum State { STARTING, UP, DEAD, DOUBLED }

    private final AtomicLong sequence = new AtomicLong();
    private final AtomicInteger receivedForPending = new AtomicInteger();
    private final AtomicLong restarts = new AtomicLong();
    private volatile long pending = -1;
    private volatile State state = State.STARTING;

    /** Judges the probe sent at the previous check and returns the verdict. */
    public synchronized State verdict() {
        if (pending >= 0) {
            int received = receivedForPending.get();
            state = received == 1 ? State.UP : received == 0 ? State.DEAD : State.DOUBLED;
        }
        return state;
    }

    /** The payload of the next probe; from now on only this probe's echoes count. */
    public synchronized String nextProbe() {
        pending = sequence.incrementAndGet();
        receivedForPending.set(0);
        return PROBE_PREFIX + pending;
    }

    /** Called by the wake-up route for every probe notification it receives. */
    public void probeReceived(String payload) {
        try {
            long n = Long.parseLong(payload.substring(PROBE_PREFIX.length()));
            if (n == pending) {
                receivedForPending.incrementAndGet();
            }
        } catch (RuntimeException e) {
            // not one of ours
        }
    }

    /** Called after the wake-up route was restarted: wait for a fresh probe before judging again. */
    public synchronized void restarted() {
        restarts.incrementAndGet();
        pending = -1;
        state = State.STARTING;
    }

    public State getState() {
        return state;
    }

    public long getRestarts() {
        return restarts.get();
    }
}
