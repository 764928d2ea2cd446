package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.concurrent.TimeUnit;

/**
 * For tests: a limiter over another that hands out each of its permits through {@link #map}, so a
 * test can watch how permits end (which outcome, on which thread). A cancel of a returned wait
 * cancels the delegate's wait; a grant that arrives after the cancel is ended as ignored.
 * Statistics are the delegate's.
 */
public abstract class ForwardingLimiter implements AsyncLimiter {
    private final AsyncLimiter delegate;

    protected ForwardingLimiter(AsyncLimiter delegate) {
        this.delegate = delegate;
    }

    /**
     * A view of {@code semaphore} whose permits give their raw permit back and then throw an
     * {@link IllegalStateException} with {@code message}, as a user's limiter may, or a composite
     * permit one of whose parts threw (it ends the others first).
     */
    public static AsyncLimiter endingThenThrowing(AsyncSemaphore semaphore, String message) {
        return new ForwardingLimiter(AsyncLimiter.of(semaphore)) {
            @Override
            protected Permit map(Permit inner) {
                return new AbstractPermit() {
                    @Override
                    protected void onEnd(Outcome outcome) {
                        Permits.end(inner, outcome);
                        throw new IllegalStateException(message);
                    }
                };
            }
        };
    }

    /** The permit handed out for {@code inner}, one of the delegate's; called once per grant. */
    protected abstract Permit map(Permit inner);

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
        return p == null ? null : map(p);
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
                Permit permit = map((Permit) x.getNow());
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
}
