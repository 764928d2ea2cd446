package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A semaphore limiter for tests of what a wrapper or a handler does to the limiter it holds: it
 * records how each of its permits ended ({@link #outcomes}, so a test can tell release from
 * releaseDropped from releaseIgnored) and, for tests of several limiters at once, logs into a
 * list they share each grant ({@code "a+"}) and each end with its outcome ({@code "a-SUCCESS"}).
 * A cancel of a returned wait cancels the semaphore's wait; a grant that arrives after the cancel
 * is ended as ignored.
 */
public final class RecordingLimiter implements AsyncLimiter {
    public final AsyncSemaphore semaphore;
    /** How this limiter's permits ended, in that order (appended by whoever ends one). */
    public final List<Permit.Outcome> outcomes = new CopyOnWriteArrayList<>();
    final String name;
    private final AsyncLimiter delegate;
    private final List<String> log;   // possibly shared by several limiters: appended under its monitor

    /** Over a new semaphore of {@code permits} and at most {@code maxPending} waiters, with a log of its own. */
    public RecordingLimiter(int permits, int maxPending) {
        this("limiter", new AsyncSemaphore(permits, maxPending), new ArrayList<>());
    }

    /** Over {@code semaphore}, logging as {@code name} into {@code log}. */
    RecordingLimiter(String name, AsyncSemaphore semaphore, List<String> log) {
        this.name = name;
        this.semaphore = semaphore;
        this.delegate = AsyncLimiter.of(semaphore);
        this.log = log;
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        return wrap(executor, delegate.acquire(executor));
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return wrap(executor, delegate.acquire(executor, timeout, unit));
    }

    @Override
    public Permit tryAcquire() {
        Permit p = delegate.tryAcquire();
        return p == null ? null : recorded(p);
    }

    @Override
    public LimiterStatistics statistics() {
        return delegate.statistics();
    }

    private Future<Permit> wrap(EventExecutor executor, Future<Permit> f) {
        Promise<Permit> p = executor.newPromise();
        p.addListener(x -> {
            if (x.isCancelled()) {
                f.cancel(false);
            }
        });
        f.addListener(x -> {
            if (x.isSuccess()) {
                Permit permit = recorded((Permit) x.getNow());
                if (!p.trySuccess(permit)) {
                    permit.releaseIgnored();
                }
            } else if (x.isCancelled()) {
                p.cancel(false);
            } else {
                p.tryFailure(x.cause());
            }
        });
        return p;
    }

    private Permit recorded(Permit inner) {
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
