package dev.nettysync.testing;

import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A limiter a test scripts, standing for a user's limiter: it admits nothing at once
 * ({@link #tryAcquire()} returns {@code null}) and answers every acquire, timed or not (the
 * timeout is ignored), with what {@code waits} returns for the caller's executor: a promise the
 * test completes, a failed future, or a buggy answer such as {@code null}. Its statistics are
 * what {@code statistics} returns, by default one free permit and nothing queued.
 */
public final class AnsweringLimiter implements AsyncLimiter {
    private final Function<EventExecutor, Future<Permit>> waits;
    private final Supplier<LimiterStatistics> statistics;

    /** Answers with {@code waits}; statistics: one permit, free, nothing queued. */
    public AnsweringLimiter(Function<EventExecutor, Future<Permit>> waits) {
        this(waits, () -> new LimiterStatistics(1, 0, 1, 0));
    }

    public AnsweringLimiter(Function<EventExecutor, Future<Permit>> waits, Supplier<LimiterStatistics> statistics) {
        this.waits = waits;
        this.statistics = statistics;
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        return waits.apply(executor);
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return waits.apply(executor);
    }

    @Override
    public Permit tryAcquire() {
        return null;
    }

    @Override
    public LimiterStatistics statistics() {
        return statistics.get();
    }
}
