package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A semaphore limiter for tests of what a wrapper or a handler does to the limiter it holds: it
 * records how each of its permits ended ({@link #outcomes}, so a test can tell release from
 * releaseDropped from releaseIgnored) and, for tests of several limiters at once, logs into a
 * list they share each grant ({@code "a+"}) and each end with its outcome ({@code "a-SUCCESS"}).
 * Waits and cancels are forwarded as {@link ForwardingLimiter} says.
 */
public final class RecordingLimiter extends ForwardingLimiter {
    public final AsyncSemaphore semaphore;
    /** How this limiter's permits ended, in that order (appended by whoever ends one). */
    public final List<Permit.Outcome> outcomes = new CopyOnWriteArrayList<>();
    final String name;
    private final List<String> log;   // possibly shared by several limiters: appended under its monitor

    /** Over a new semaphore of {@code permits} and at most {@code maxPending} waiters, with a log of its own. */
    public RecordingLimiter(int permits, int maxPending) {
        this("limiter", new AsyncSemaphore(permits, maxPending), new ArrayList<>());
    }

    /** Over {@code semaphore}, logging as {@code name} into {@code log}. */
    RecordingLimiter(String name, AsyncSemaphore semaphore, List<String> log) {
        super(AsyncLimiter.of(semaphore));
        this.name = name;
        this.semaphore = semaphore;
        this.log = log;
    }

    @Override
    protected Permit map(Permit inner) {
        synchronized (log) {
            log.add(name + "+");
        }
        return new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
                outcomes.add(outcome);
                synchronized (log) {
                    log.add(name + "-" + outcome);
                }
                Permits.end(inner, outcome);
            }
        };
    }

    @Override
    public String toString() {
        return name;
    }
}
