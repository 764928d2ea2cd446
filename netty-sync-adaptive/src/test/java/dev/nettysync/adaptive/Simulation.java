package dev.nettysync.adaptive;

import dev.nettysync.limit.Permit;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;

import java.util.PriorityQueue;
import java.util.function.IntSupplier;

/**
 * A deterministic discrete-event simulation of clients, an {@link AdaptiveLimiter} and a backend
 * with a capacity, on a virtual clock (so it runs in milliseconds and its samples are exact).
 *
 * <p>The backend is a queue in front of {@code capacity} servers, as the demo's simulated
 * backend: a call that starts while {@code k} calls are in progress (itself included) takes
 * {@code L0 · max(1, k / capacity)}. Closed-loop clients: each sends its next request as soon
 * as the previous one ends, so {@code clients} is the offered concurrency; with more clients
 * than the limit the limiter's queue is never empty (sustained overload).
 */
final class Simulation {

    static final long L0 = 10_000_000;    // 10 ms no-load latency, in ns

    private final PriorityQueue<Event> events = new PriorityQueue<>();
    private long now;                     // virtual ns
    private long seq;                     // ties broken by scheduling order
    private int backendInFlight;
    private long completed;
    private long latencySumNs;
    private AdaptiveLimiter limiter;
    private IntSupplier capacity = () -> 1;
    private long timeoutNs = Long.MAX_VALUE; // calls slower than this end as drops, at the timeout
    private long drops;

    /** The limiter, built with this simulation's clock. */
    AdaptiveLimiter limiter(AdaptiveLimiter.Builder builder) {
        limiter = builder.nanoClock(() -> now).build();
        return limiter;
    }

    void capacity(IntSupplier capacity) {
        this.capacity = capacity;
    }

    /** Calls that would take longer than {@code timeoutNs} fail at the timeout and are ended as drops. */
    void timeout(long timeoutNs) {
        this.timeoutNs = timeoutNs;
    }

    long now() {
        return now;
    }

    /** Starts {@code clients} closed-loop clients. */
    void start(int clients) {
        for (int i = 0; i < clients; i++) {
            request();
        }
    }

    /** Runs events until {@code untilNs} of virtual time. */
    void runUntil(long untilNs) {
        Event e;
        while ((e = events.peek()) != null && e.at <= untilNs) {
            events.poll();
            now = e.at;
            e.action.run();
        }
        now = untilNs;
    }

    /**
     * Ends the run cleanly: closes the limiter (queued clients fail and stop), then lets the
     * calls in progress finish and release their permits.
     */
    void finish() {
        limiter.close();
        runUntil(Long.MAX_VALUE);
        if (limiter.statistics().inUse() != 0) {
            throw new AssertionError("permits still held after the simulation finished: " + limiter);
        }
    }

    /** Completed calls and the mean latency of calls since the last call of this method. */
    Window takeWindow() {
        Window w = new Window(completed, completed == 0 ? 0 : latencySumNs / completed, drops, limiter.currentLimit());
        completed = 0;
        latencySumNs = 0;
        drops = 0;
        return w;
    }

    /** Calls that succeeded, their mean latency, calls dropped, and the limit at the end. */
    record Window(long completed, long meanLatencyNs, long drops, int limit) {
    }

    private void request() {
        Future<Permit> f = limiter.acquire(ImmediateEventExecutor.INSTANCE);
        f.addListener(x -> {
            if (f.isSuccess()) {
                call(f.getNow());
            }
        });
    }

    private void call(Permit permit) {
        int k = ++backendInFlight;
        int c = capacity.getAsInt();
        long latency = k <= c ? L0 : L0 * k / c;
        if (latency > timeoutNs) {
            schedule(now + timeoutNs, () -> {
                backendInFlight--;
                drops++;
                permit.releaseDropped();
                request();
            });
            return;
        }
        schedule(now + latency, () -> {
            backendInFlight--;
            completed++;
            latencySumNs += latency;
            permit.release();
            request();
        });
    }

    private void schedule(long at, Runnable action) {
        events.add(new Event(at, seq++, action));
    }

    private record Event(long at, long seq, Runnable action) implements Comparable<Event> {
        @Override
        public int compareTo(Event o) {
            int c = Long.compare(at, o.at);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }
}
