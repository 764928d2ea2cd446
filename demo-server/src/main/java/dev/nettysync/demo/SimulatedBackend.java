package dev.nettysync.demo;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * A backend that answers every item after a fixed latency, timed on the caller's event loop (a
 * scheduled task, never a sleeping thread); latency 0 answers at once.
 *
 * <p>With a capacity C* > 0 it is a FIFO queue in front of C* servers, each taking the latency
 * L0 per call: up to C* calls at once each takes L0, beyond that calls wait for a free server,
 * so latency grows in proportion to the calls in progress (about L0 · k / C* for k of them) and
 * throughput stays at C* / L0. The capacity can change at run time along a schedule
 * ({@code --backend-capacity-schedule}: offsets from the first call), to model a backend that
 * degrades and recovers; a change takes effect at the next call or completion. With capacity 0
 * (the default) there is no queue: every call takes L0.
 *
 * <p>Cancelling a call: with no capacity, cancels its timer; queued, takes it out of the queue
 * (it never occupies a server); in service, abandons the answer but the server stays busy until
 * its L0 has passed (a real backend does not know that the caller gave up).
 *
 * <p>Thread-safe: one backend serves every loop. The queue state is guarded by this object's
 * monitor, held for O(1) work per call or completion; no promise is completed under it.
 */
public final class SimulatedBackend implements Backend {

    /** The backend's capacity from {@code after} (since the first call) on. */
    public record CapacityStep(Duration after, int capacity) {
    }

    private final long latencyNanos;
    private final List<CapacityStep> schedule;
    private final boolean queued;         // a capacity or a schedule: the queue model; else a plain timer per call
    private final ArrayDeque<Call> queue = new ArrayDeque<>();   // guarded by this
    private int capacity;                 // servers now; 0 = unlimited; guarded by this
    private int busy;                     // servers serving a call; guarded by this
    private int nextStep;                 // index in schedule of the next change; guarded by this
    private long firstCallNanos = -1;     // System.nanoTime() of the first call; guarded by this

    public SimulatedBackend(Duration latency) {
        this(latency, 0, List.of());
    }

    /**
     * @param capacity servers in front of which calls queue; 0 for no limit
     * @param schedule later capacities, in increasing {@code after} order
     * @throws IllegalArgumentException for a negative capacity or a schedule out of order
     */
    public SimulatedBackend(Duration latency, int capacity, List<CapacityStep> schedule) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must be >= 0, was " + capacity);
        }
        for (int i = 0; i < schedule.size(); i++) {
            CapacityStep s = schedule.get(i);
            if (s.capacity() < 0 || (i > 0 && s.after().compareTo(schedule.get(i - 1).after()) <= 0)) {
                throw new IllegalArgumentException("capacity schedule must have capacities >= 0 at increasing times, was "
                        + schedule);
            }
        }
        this.latencyNanos = latency.toNanos();
        this.capacity = capacity;
        this.schedule = List.copyOf(schedule);
        this.queued = capacity > 0 || !schedule.isEmpty();
    }

    /**
     * Parses a schedule such as {@code 20s:16,40s:32} (at 20 s after the first call the capacity
     * becomes 16, at 40 s 32); durations as {@link DurationConverter} reads a duration flag (not
     * negative, at most 24 h).
     *
     * @throws IllegalArgumentException naming the bad part
     */
    public static List<CapacityStep> parseSchedule(String spec) {
        List<CapacityStep> steps = new ArrayList<>();
        if (spec == null || spec.isBlank()) {
            return steps;
        }
        for (String part : spec.split(",")) {
            String p = part.trim();
            int colon = p.lastIndexOf(':');
            if (colon <= 0 || colon == p.length() - 1) {
                throw new IllegalArgumentException("capacity step must be TIME:CAPACITY (e.g. 20s:16), was '" + p + "'");
            }
            Duration at;
            int c;
            try {
                // As a duration flag: null (unparsable), negative and over 24 h are refused here,
                // not found at the first call (a null step, or toNanos overflowing).
                at = new DurationConverter().convert(p.substring(0, colon));
                c = Integer.parseInt(p.substring(colon + 1).trim());
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("capacity step must be TIME:CAPACITY (e.g. 20s:16), was '" + p
                        + "': " + e.getMessage(), e);
            }
            steps.add(new CapacityStep(at, c));
        }
        return steps;
    }

    @Override
    public Future<BackendResponse> fetch(String id, EventLoop loop) {
        BackendResponse answer = new BackendResponse(200, body(id), "application/json");
        if (latencyNanos <= 0) {
            return loop.newSucceededFuture(answer);
        }
        Promise<BackendResponse> promise = loop.newPromise();
        if (!queued) {
            ScheduledFuture<?> timer = loop.schedule(() -> {
                promise.trySuccess(answer);
            }, latencyNanos, TimeUnit.NANOSECONDS);
            promise.addListener(f -> {
                if (f.isCancelled()) {
                    timer.cancel(false);
                }
            });
            return promise;
        }
        Call call = new Call(loop, promise, answer);
        boolean start;
        synchronized (this) {
            long now = System.nanoTime();
            if (firstCallNanos < 0) {
                firstCallNanos = now;
            }
            applySchedule(now);
            start = capacity == 0 || busy < capacity;
            if (start) {
                busy++;
            } else {
                queue.addLast(call);
            }
        }
        if (start) {
            serve(call);
        }
        return promise;
    }

    /** Starts the call's service time on its loop; the server stays busy for all of it. */
    private void serve(Call call) {
        call.loop.schedule(() -> done(call), latencyNanos, TimeUnit.NANOSECONDS);
    }

    /** The call's service time is over: answer it, free its server, start queued calls. */
    private void done(Call call) {
        List<Call> toServe = null;
        synchronized (this) {
            busy--;
            applySchedule(System.nanoTime());
            Call next;
            while ((capacity == 0 || busy < capacity) && (next = queue.pollFirst()) != null) {
                if (next.promise.isCancelled()) {
                    continue;                  // gave up while queued: never occupies a server
                }
                busy++;
                if (toServe == null) {
                    toServe = new ArrayList<>();
                }
                toServe.add(next);
            }
        }
        call.promise.trySuccess(call.answer);  // no-op if the caller cancelled
        if (toServe != null) {
            toServe.forEach(this::serve);
        }
    }

    /** Moves to every capacity step whose time has come. Caller holds the monitor. */
    private void applySchedule(long now) {
        if (firstCallNanos < 0) {
            return;                            // the schedule's clock starts at the first call
        }
        while (nextStep < schedule.size() && now - firstCallNanos >= schedule.get(nextStep).after().toNanos()) {
            capacity = schedule.get(nextStep++).capacity();
        }
    }

    /** The capacity now (0: unlimited), for tests and logs. */
    public synchronized int capacity() {
        applySchedule(System.nanoTime());
        return capacity;
    }

    /** A short description for the startup log. */
    public String describe() {
        return String.format(Locale.ROOT, "simulated backend, latency %d ms, capacity %s%s", latencyNanos / 1_000_000,
                capacity == 0 ? "unlimited" : Integer.toString(capacity),
                schedule.isEmpty() ? "" : ", then " + schedule);
    }

    static byte[] body(String id) {
        // id is validated by the router: [A-Za-z0-9_-]+, nothing to escape
        return ("{\"id\":\"" + id + "\",\"name\":\"item " + id + "\",\"source\":\"simulated\"}")
                .getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        // nothing held
    }

    /** One call: its loop, its promise, and the answer it gets. */
    private record Call(EventLoop loop, Promise<BackendResponse> promise, BackendResponse answer) {
    }
}
