package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A semaphore limiter that logs, into a shared list, each grant ({@code "a+"}) and each end of
 * one of its permits with its outcome ({@code "a-SUCCESS"}), for tests of what a wrapper does
 * to the limiters it holds.
 */
final class RecordingLimiter implements AsyncLimiter {
    final String name;
    final AsyncSemaphore semaphore;
    private final AsyncLimiter delegate;
    private final List<String> log;

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
        return p == null ? null : logged(p);
    }

    @Override
    public LimiterStatistics statistics() {
        return delegate.statistics();
    }

    private Future<Permit> wrap(EventExecutor executor, Future<Permit> f) {
        // Test-only mapping: a cancel of the returned future cancels f; grants are logged.
        io.netty.util.concurrent.Promise<Permit> p = executor.newPromise();
        p.addListener(x -> {
            if (x.isCancelled()) {
                f.cancel(false);
            }
        });
        f.addListener(x -> {
            if (x.isSuccess()) {
                Permit permit = logged((Permit) x.getNow());
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

    private Permit logged(Permit inner) {
        synchronized (log) {
            log.add(name + "+");
        }
        return new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
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
