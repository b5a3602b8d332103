package io.eventflow;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Watches the pgevent LISTEN connection, which can die silently or double up after a reconnect:
 * the listener-check route sends a probe notification on the wake-up channel at a fixed interval,
 * and each probe must have come back exactly once by the time it is judged. A probe is an
 * unguessable token, and only a notification sent by the backend that sent the probe counts: any
 * role may NOTIFY on the channel, and a replayed or invented probe must not pass for an echo.
 */
public class WakeupListener {

    public static final String PROBE_PREFIX = "probe:";

    /**
     * What the last judged probe showed. STARTING: since process start, no probe judged yet.
     * RESTARTING: the route was restarted after DEAD or DOUBLED, and no probe sent since has been
     * judged yet: still broken as far as anyone knows, until one comes back exactly once.
     */
    public enum State { STARTING, UP, DEAD, DOUBLED, RESTARTING }

    /** A probe in flight: when it was sent, from which backend (0 until known), and the backends its echoes came from. */
    private record Probe(long sentAtNanos, AtomicInteger senderPid, List<Integer> echoPids) {

        int echoes() {
            int sender = senderPid.get();
            synchronized (echoPids) {
                return (int) echoPids.stream().filter(pid -> pid == sender).count();
            }
        }
    }

    private final long graceNanos;
    private final AtomicLong sequence = new AtomicLong();
    private final AtomicLong restarts = new AtomicLong();
    private final AtomicLong restartsWithoutRecovery = new AtomicLong();
    private volatile long lastRestartNanos;
    private final ConcurrentSkipListMap<Long, Probe> inFlight = new ConcurrentSkipListMap<>();
    private final Map<String, Long> tokens = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
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
        if (judged != null && judged.getValue().senderPid().get() != 0) {
            int echoes = judged.getValue().echoes();
            state = echoes == 1 ? State.UP : echoes == 0 ? State.DEAD : State.DOUBLED;
            if (state == State.UP) {
                restartsWithoutRecovery.set(0);
            }
        }
        if (judged != null) {
            // a probe whose sending failed (no sender known) is not judged
            var done = inFlight.headMap(judged.getKey(), true);
            tokens.values().removeAll(done.keySet());
            done.clear();
        }
        return state;
    }

    /**
     * Judges the newest probe due (see {@link #verdict()}): whether the wake-up route must be
     * restarted. A listener that stays broken across three restarts (the database is gone) is
     * restarted again after 2 s, then 4, 6 ... up to a minute, not at every check.
     */
    public boolean needsRestart() {
        State verdict = verdict();
        if (verdict != State.DEAD && verdict != State.DOUBLED) {
            return false;
        }
        long failedRestarts = restartsWithoutRecovery.get();
        long wait = failedRestarts < 3 ? 0 : Math.min(60_000_000_000L, 2_000_000_000L * (failedRestarts - 2));
        return System.nanoTime() - lastRestartNanos >= wait;
    }

    /** The payload of a new probe: an unguessable token. */
    public String nextProbe() {
        long id = sequence.incrementAndGet();
        byte[] token = new byte[16];
        random.nextBytes(token);
        String probe = PROBE_PREFIX + HexFormat.of().formatHex(token);
        inFlight.put(id, new Probe(System.nanoTime(), new AtomicInteger(), Collections.synchronizedList(new ArrayList<>())));
        tokens.put(probe, id);
        return probe;
    }

    /** Called by the listener-check route once the probe was sent: the backend pid it was sent from. */
    public void probeSent(String probe, int senderPid) {
        Long id = tokens.get(probe);
        Probe sent = id == null ? null : inFlight.get(id);
        if (sent != null) {
            sent.senderPid().set(senderPid);
        }
    }

    /** Called by the LISTEN connection for every probe notification it receives, with its sender's backend pid. */
    public void probeReceived(int senderPid, String payload) {
        Long id = tokens.get(payload);
        Probe probe = id == null ? null : inFlight.get(id);
        if (probe != null) {
            // a notification with no probe of ours behind it (another role's NOTIFY) is ignored
            probe.echoPids().add(senderPid);
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
        restartsWithoutRecovery.incrementAndGet();
        lastRestartNanos = System.nanoTime();
        connectionLost = false;
        inFlight.clear();
        tokens.clear();
        state = State.RESTARTING;
    }

    public State getState() {
        return state;
    }

    public long getRestarts() {
        return restarts.get();
    }
}
