package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.concurrent.TimeUnit;

/**
 * A tiny {@link AsyncLimiter} over an {@link AsyncSemaphore}, for tests of limiters that take
 * any limiter (the library's own adapter lives elsewhere). A permit gives one semaphore permit
 * back; cancelling a wait cancels the semaphore's wait first, so a grant stays final.
 */
final class SemaphoreLimiter implements AsyncLimiter {
    final AsyncSemaphore semaphore;
    private final int permits;

    SemaphoreLimiter(int permits) {
        this.semaphore = new AsyncSemaphore(permits);
        this.permits = permits;
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        return wrap(executor, semaphore.acquire(executor));
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return wrap(executor, semaphore.acquire(executor, timeout, unit));
    }

    @Override
    public Permit tryAcquire() {
        return semaphore.tryAcquire() ? new SemaphorePermit() : null;
    }

    @Override
    public LimiterStatistics statistics() {
        int available = semaphore.availablePermits();
        return new LimiterStatistics(permits, permits - available, available, semaphore.queueLength());
    }

    private Future<Permit> wrap(EventExecutor executor, Future<Void> inner) {
        // isDone() first: once done the outcome is stable (checking isSuccess() first races a
        // completion on another thread, which then looks done, not successful, without a cause).
        if (inner.isDone()) {
            if (inner.isSuccess()) {
                return executor.newSucceededFuture(new SemaphorePermit());
            }
            return executor.newFailedFuture(inner.isCancelled()
                    ? new java.util.concurrent.CancellationException() : inner.cause());
        }
        return new Wait(executor, inner);
    }

    private final class SemaphorePermit extends AbstractPermit {
        @Override
        protected void onEnd(Outcome outcome) {
            semaphore.release();
        }
    }

    private final class Wait extends DefaultPromise<Permit> {
        private final Future<Void> inner;

        Wait(EventExecutor executor, Future<Void> inner) {
            super(executor);
            this.inner = inner;
            inner.addListener(f -> {
                if (f.isSuccess()) {
                    SemaphorePermit p = new SemaphorePermit();
                    if (!trySuccess(p)) {
                        p.release();
                    }
                } else if (f.isCancelled()) {
                    super.cancel(false);
                } else {
                    tryFailure(f.cause());
                }
            });
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (!inner.cancel(false)) {
                return false;
            }
            return super.cancel(mayInterruptIfRunning) || isCancelled();
        }
    }
}
