package dev.nettysync.limit;

import dev.nettysync.internal.MappedWait;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * {@link AsyncLimiter#failOpen(AsyncLimiter, Predicate)}: see there for the contract.
 */
final class FailOpenLimiter implements AsyncLimiter {

    /*
     * Implementation notes
     *
     * A pending acquire is a MappedWait over the inner limiter's future: the identity on
     * success, recover() on failure (an unbacked permit when the predicate admits, else the
     * failure), and cancel() goes to the inner wait first, so "cancel returned true" still means
     * "nothing was held" and a grant that wins the race stands. An inner future already
     * granted is returned as it is.
     */

    private final AsyncLimiter limiter;
    private final Predicate<? super Throwable> admitWhen;

    FailOpenLimiter(AsyncLimiter limiter, Predicate<? super Throwable> admitWhen) {
        this.limiter = Objects.requireNonNull(limiter, "limiter");
        this.admitWhen = Objects.requireNonNull(admitWhen, "admitWhen");
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        Objects.requireNonNull(executor, "executor");
        return open(executor, limiter.acquire(executor));
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(unit, "unit");
        return open(executor, limiter.acquire(executor, timeout, unit));
    }

    @Override
    public Permit tryAcquire() {
        try {
            return limiter.tryAcquire();
        } catch (RuntimeException e) {
            boolean admit;
            try {
                admit = admitWhen.test(e);
            } catch (RuntimeException | Error broken) {   // as for acquire: the cause suppressed in it
                broken.addSuppressed(e);
                throw broken;
            }
            if (admit) {
                return new UnbackedPermit();
            }
            throw e;
        }
    }

    @Override
    public LimiterStatistics statistics() {
        return limiter.statistics();
    }

    @Override
    public String toString() {
        return "AsyncLimiter.failOpen(" + limiter + ')';
    }

    private Future<Permit> open(EventExecutor executor, Future<Permit> inner) {
        if (inner == null) {                    // the limiter's bug: named, as AsyncLimiter.all names it
            throw new NullPointerException(limiter + ".acquire returned a null future");
        }
        if (inner.isSuccess()) {
            return inner;                       // granted at once: the limiter's own permit
        }
        OpenWait wait = new OpenWait(executor, inner, admitWhen);
        inner.addListener(wait);                // runs at once if inner already failed
        return wait;
    }

    /** A pending acquire: the inner permit, or an unbacked one when the failure is admitted. */
    private static final class OpenWait extends MappedWait<Permit, Permit> {
        private final Predicate<? super Throwable> admitWhen;

        OpenWait(EventExecutor executor, Future<Permit> inner, Predicate<? super Throwable> admitWhen) {
            super(executor, inner);
            this.admitWhen = admitWhen;
        }

        @Override
        protected Permit map(Permit granted) {
            return granted;
        }

        @Override
        protected Permit recover(Throwable cause) {
            return admitWhen.test(cause) ? new UnbackedPermit() : null;
        }

        @Override
        protected void discard(Permit permit) {
            permit.releaseIgnored();
        }
    }

    /** Admitted while the inner limiter could not decide: holds nothing, gives nothing back. */
    static final class UnbackedPermit extends AbstractPermit {
        @Override
        protected void onEnd(Outcome outcome) {
        }

        @Override
        public String toString() {
            return "Permit(fail-open, holds nothing" + (isReleased() ? ", released)" : ")");
        }
    }
}
