package dev.nettysync.limit;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Something that admits work: a concurrency limit, a rate, a per-key limit, an adaptive or a
 * fleet-wide limit, or several of them composed. Every policy has the same wait: FIFO,
 * cancellable, timed, and never blocking a thread.
 *
 * <pre>{@code
 * AsyncLimiter backend = ...;                       // shared by all event loops
 *
 * backend.acquire(ctx.executor(), 2, TimeUnit.SECONDS).addListener(f -> {
 *     if (!f.isSuccess()) { ctx.writeAndFlush(refusal(f.cause())); return; }   // 503 / 429
 *     Permit permit = (Permit) f.getNow();
 *     callBackend(msg).addListener(r -> {
 *         if (r.isSuccess()) permit.release(); else permit.releaseDropped();
 *         ctx.writeAndFlush(render(r));
 *     });
 * });
 * }</pre>
 *
 * <h2>Contract shared by every implementation</h2>
 * <ul>
 *   <li><b>Thread-safe, never blocking.</b> One limiter may be shared by all event loops and
 *       plain threads. The future returned by {@code acquire} belongs to the named executor:
 *       its listeners run there, and a timeout is timed by that executor's scheduler.</li>
 *   <li><b>FIFO within a limiter.</b> Waiters of one limiter are admitted in the order they
 *       asked; a later waiter never overtakes an earlier one that is still waiting.</li>
 *   <li><b>A wait ends in one of these ways:</b> successfully, with a {@link Permit} the caller
 *       must end exactly once; cancelled by the caller ({@code future.cancel(false)}), having
 *       left the queue and holding nothing; with a {@link dev.nettysync.WaitTimeoutException}
 *       (timed variant), holding nothing; or refused at once with
 *       {@link dev.nettysync.QueueFullException}, {@link dev.nettysync.ClosedException}, or a
 *       policy's own refusal (a rate limiter says when it could admit).</li>
 *   <li><b>Grants are final.</b> Once a wait is granted, {@code cancel()} returns
 *       {@code false} and the caller holds the permit: nothing is lost or given twice, whatever
 *       the interleaving of grant, cancel and timeout.</li>
 *   <li><b>No user code under internal locks.</b> Listeners and completions run with no
 *       internal state held, so they may call back into the limiter.</li>
 * </ul>
 * Each implementation's Javadoc adds what is its own: what a permit gives back on release, its
 * memory bound, and how it refuses.
 */
public interface AsyncLimiter {

    /**
     * Waits, in FIFO order, for one admission.
     *
     * @param executor the caller's executor (normally {@code ctx.executor()}): the returned
     *                 future belongs to it and its listeners run on it
     * @return a future that succeeds with a permit the caller must end exactly once
     */
    Future<Permit> acquire(EventExecutor executor);

    /**
     * As {@link #acquire(EventExecutor)}, but gives up after {@code timeout}: the future then
     * fails with a {@link dev.nettysync.WaitTimeoutException} and holds nothing. A timeout of
     * zero or less admits only if admission is possible at once.
     */
    Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit);

    /**
     * Admits at once or not at all.
     *
     * @return a permit the caller must end exactly once, or {@code null} if refused
     */
    Permit tryAcquire();

    /** A snapshot of the limiter's state, for monitoring. */
    LimiterStatistics statistics();

    /**
     * Acquires a permit, runs {@code action} on {@code executor} holding it, and ends the permit
     * exactly once when the action's own future completes: {@link Permit#release()} on success or
     * on a failure that says nothing about overload, {@link Permit#releaseDropped()} when it
     * failed with a {@link java.util.concurrent.TimeoutException} or a
     * {@link java.util.concurrent.RejectedExecutionException} (overload), and
     * {@link Permit#releaseIgnored()} when the action's future was cancelled or the action never
     * ran.
     *
     * <p>Cancelling the returned future while waiting leaves the queue. Cancelling it while the
     * action runs completes it (cancelled) for the caller at once, but the action's own future
     * is left alone and the permit is held until that future completes by itself: Java cannot
     * stop the action's code, so releasing earlier would let the next holder overlap with it.
     * If {@code action} throws or returns {@code null}, the permit is ended and the returned
     * future fails.
     */
    default <T> Future<T> withPermit(EventExecutor executor, Supplier<? extends Future<T>> action) {
        return Permits.runHolding(acquire(executor), executor, action);
    }

    /**
     * As {@link #withPermit(EventExecutor, Supplier)}, with a timeout that bounds the wait for
     * the permit only, not the action.
     */
    default <T> Future<T> withPermit(EventExecutor executor, long timeout, TimeUnit unit,
                                     Supplier<? extends Future<T>> action) {
        return Permits.runHolding(acquire(executor, timeout, unit), executor, action);
    }
}
