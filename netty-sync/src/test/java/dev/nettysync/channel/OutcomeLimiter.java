package dev.nettysync.channel;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AbstractPermit;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A semaphore limiter for channel tests that records how each of its permits ended
 * ({@link #outcomes}), so a test can tell release from releaseDropped from releaseIgnored.
 */
final class OutcomeLimiter implements AsyncLimiter {
    final AsyncSemaphore semaphore;
    final List<Permit.Outcome> outcomes = new CopyOnWriteArrayList<>();
    private final AsyncLimiter delegate;

    OutcomeLimiter(int permits, int maxPending) {
        semaphore = new AsyncSemaphore(permits, maxPending);
        delegate = AsyncLimiter.of(semaphore);
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        return map(executor, delegate.acquire(executor));
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return map(executor, delegate.acquire(executor, timeout, unit));
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

    private Future<Permit> map(EventExecutor executor, Future<Permit> f) {
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
        return new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
                outcomes.add(outcome);
                switch (outcome) {
                    case SUCCESS -> inner.release();
                    case DROPPED -> inner.releaseDropped();
                    default -> inner.releaseIgnored();
                }
            }
        };
    }
}
