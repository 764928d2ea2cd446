package dev.nettysync.limit;

import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncReadWriteLock;
import dev.nettysync.AsyncSemaphore;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
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
 *   <li><b>An executor that shuts down while its wait is queued</b> runs no listener of it
 *       again: the limiters of this library that queue (the primitives', the rate limiter,
 *       and the views of the primitives) fail such a wait with a
 *       {@link java.util.concurrent.RejectedExecutionException} when it would be granted, and
 *       serve the next waiter instead, so the capacity is not lost with it (up to a residual
 *       race Netty gives no hook for: see {@link dev.nettysync.AsyncSemaphore}'s "Executors that
 *       shut down"); a timed wait fails so as soon as its executor shuts down, which cancels its
 *       timeout, instead of keeping its place until then. {@link #all} and {@link KeyedLimiter}, which wait on other limiters, end
 *       what such a wait holds (the parts already acquired, the key's reference) and fail it the
 *       same way. An implementation that cannot know should say so.</li>
 *   <li><b>Grants are final.</b> Once a wait is granted, {@code cancel()} returns
 *       {@code false} and the caller holds the permit: nothing is lost or given twice, whatever
 *       the interleaving of grant, cancel and timeout.</li>
 *   <li><b>No user code under internal locks.</b> Listeners and completions run with no
 *       internal state held, so they may call back into the limiter.</li>
 * </ul>
 * Each implementation's Javadoc adds what is its own: what a permit gives back on release, its
 * memory bound, and how it refuses.
 *
 * <h2>Getting one</h2>
 * <ul>
 *   <li>{@link #of(AsyncSemaphore)} (an {@link dev.nettysync.AsyncBoundedSemaphore} too),
 *       {@link #of(AsyncLock)}, and {@link #ofRead(AsyncReadWriteLock)} /
 *       {@link #ofWrite(AsyncReadWriteLock)} (a pair sharing one lock): the primitives as
 *       limiters, no adapter to write;</li>
 *   <li>{@link #all(AsyncLimiter...)}: several limiters acquired in order, as one;</li>
 *   <li>the policies of this package and of the {@code netty-sync-*} modules (per key, per
 *       second, adaptive, fleet-wide);</li>
 *   <li>{@code dev.nettysync.channel.ChannelLimits}: a wait and a permit bound to a channel's
 *       life, and {@code dev.nettysync.channel.LimitingHandler} for a whole pipeline.</li>
 * </ul>
 */
public interface AsyncLimiter {

    /**
     * A view of {@code semaphore} as a limiter: each permit is one of its permits, given back
     * ({@link AsyncSemaphore#release()}) exactly once, whichever of the release methods ends it;
     * the outcome is otherwise ignored. Waits, FIFO order, {@code maxPending}
     * ({@link dev.nettysync.QueueFullException}), timeouts and {@code close()}
     * ({@link dev.nettysync.ClosedException}) are the semaphore's; the raw API keeps working
     * beside the view (both draw on the same permits), unchanged and allocation-free.
     *
     * <p>Cancelling a pending {@code acquire} future cancels the semaphore's wait first: it
     * returns {@code true} only if the wait left the queue holding nothing, and {@code false}
     * once the semaphore has granted (the caller then gets the permit).
     *
     * <p>{@link #statistics()} is the semaphore's own {@link AsyncSemaphore#statistics()}, one
     * snapshot: {@code limit} is {@link AsyncSemaphore#totalPermits()}, {@code inUse} the
     * permits held by anyone, through this view, another view or the raw API ({@code total -
     * available}), {@code available} the available permits (0 while a
     * {@link AsyncSemaphore#reducePermits reduction} keeps them below zero), {@code queued} the
     * semaphore's queue. They are exact while every raw release gives back a permit that was
     * acquired (see the semaphore's "Monitoring"). A semaphore of {@code Integer.MAX_VALUE}
     * permits (its maximum) reports {@link LimiterStatistics#UNLIMITED} as its limit and
     * available.
     *
     * <p>Costs one object per acquire that does not wait: the permit, which is also the
     * returned (already succeeded) future, so {@code f.getNow()} is {@code f} itself; three when
     * it has to wait (the semaphore's waiter, the returned future and the permit). Permits are
     * sampled for leaks at Netty's level, as buffers are.
     */
    static AsyncLimiter of(AsyncSemaphore semaphore) {
        return PrimitiveLimiter.of(semaphore);
    }

    /**
     * A view of {@code lock} as a limiter of one: a permit is the lock, unlocked exactly once
     * when the permit ends. Everything else is as for {@link #of(AsyncSemaphore)}; statistics are
     * a limit of 1, in use 1 while locked (by anyone), and the lock's queue length.
     * <p>An {@link dev.nettysync.AsyncCondition} wait of the lock may run under this view's
     * {@code withPermit}, as under {@link AsyncLock#withLock}: if it gives the lock up
     * ({@link dev.nettysync.LockGivenUpException}, its executor refused to resume it), the
     * permit ends holding nothing, without unlocking the lock, which may be the next holder's
     * already. This holds when the permit is a part of {@link #all}, of a {@link KeyedLimiter}'s
     * key or of {@link #failOpen}. A permit ended by hand unlocks: check
     * {@link AsyncLock#isGivenUpBy(Throwable)} before.
     */
    static AsyncLimiter of(AsyncLock lock) {
        return PrimitiveLimiter.of(lock);
    }

    /**
     * A view of the read side of {@code lock} as a limiter: a permit is one read lock, unlocked
     * ({@link AsyncReadWriteLock#unlockRead()}) exactly once when the permit ends, whichever of
     * the release methods ends it. With {@link #ofWrite(AsyncReadWriteLock)} on the same lock it
     * makes a pair of limiters that share the lock's one queue:
     * <pre>{@code
     * AsyncReadWriteLock routes = new AsyncReadWriteLock();
     * AsyncLimiter lookups = AsyncLimiter.ofRead(routes);     // many at once
     * AsyncLimiter reloads = AsyncLimiter.ofWrite(routes);    // one, alone
     * lookups.withPermit(ctx.executor(), () -> lookup(path));
     * reloads.withPermit(refresher, () -> reload());
     * }</pre>
     * Fairness is the lock's (FIFO phases, write-preferring): a queued writer, whichever view it
     * came through, blocks the readers asked after it, and {@code tryAcquire} fails while anyone
     * is queued. Waits, {@code maxPending}, timeouts, cancellation and {@code close()} are the
     * lock's, as for {@link #of(AsyncSemaphore)}; the raw API keeps working beside the views.
     *
     * <p>{@link #statistics()}: {@code limit} is {@link AsyncReadWriteLock#maxReaders()},
     * {@code inUse} the read locks held now (by anyone), {@code available} the reads that could
     * be admitted now if nobody were queued (none while the write lock is held), {@code queued}
     * the lock's whole queue (readers and writers).
     */
    static AsyncLimiter ofRead(AsyncReadWriteLock lock) {
        return PrimitiveLimiter.ofRead(lock);
    }

    /**
     * A view of the write side of {@code lock} as a limiter of one: a permit is the write lock,
     * unlocked ({@link AsyncReadWriteLock#unlockWrite()}) exactly once when the permit ends.
     * Everything else is as for {@link #ofRead(AsyncReadWriteLock)}; statistics are a limit of 1,
     * in use 1 while write-locked (by anyone), available 1 only while nobody holds the lock, and
     * the lock's whole queue.
     */
    static AsyncLimiter ofWrite(AsyncReadWriteLock lock) {
        return PrimitiveLimiter.ofWrite(lock);
    }

    /**
     * One limiter that admits only through all of {@code limiters}, e.g.
     * {@code all(perClient, global, fleet)}.
     * <ul>
     *   <li><b>Order.</b> Acquires them one after another, in the order given, each with the
     *       composite's executor; waits in the first one's queue, then in the next one's, holding
     *       what it already has. Give every composite sharing limiters the same order, or two
     *       of them can hold what the other waits for.</li>
     *   <li><b>Giving back.</b> When a later limiter refuses (queue full, closed, a rate), times
     *       out or the composite wait is cancelled, the permits already held are ended with
     *       {@link Permit#releaseIgnored()}, in reverse order, before the composite future
     *       completes; the composite fails with that limiter's exception. A held permit whose
     *       end throws is logged and the others are still ended ({@code tryAcquire} still
     *       returns {@code null}).</li>
     *   <li><b>Timeout.</b> The timed {@code acquire} sets one deadline for the whole wait: each
     *       limiter gets the time left; once it is spent, later limiters must admit at once.
     *       Time is read from the executor's {@link EventExecutor#ticker() ticker}, the clock its
     *       timers, and so the limiters' timeouts, run on.</li>
     *   <li><b>Permit.</b> The composite permit holds one permit of each limiter; ending it ends
     *       them in reverse order with the same outcome ({@code release}, {@code releaseDropped}
     *       or {@code releaseIgnored}), so each learns how the work went. If a part's end throws,
     *       the others are still ended, then the first exception is thrown (the later ones
     *       suppressed in it).</li>
     *   <li><b>Cancellation.</b> {@code cancel()} on a pending composite future wins unless the
     *       composite has been granted; a part granted meanwhile is given back.
     *       {@code tryAcquire} takes each limiter's {@code tryAcquire} in order and gives back
     *       on the first refusal.</li>
     *   <li><b>Statistics.</b> {@code limit} and {@code available} are the tightest part's;
     *       {@code inUse} and {@code queued} count this composite's own permits and waits.</li>
     *   <li><b>Executors that shut down.</b> If the caller's executor shuts down while a part is
     *       waited for, the wait fails with a {@link java.util.concurrent.RejectedExecutionException}
     *       (its listeners never run there) and the permits of the parts already held are ended
     *       ({@code releaseIgnored}), at the latest when the part refuses its grant (a part of
     *       this library does so when it would grant it). A composite whose last part is granted
     *       after the shutdown is refused the same way, every part ended: the composite permit is
     *       handed over only on the caller's executor. The residual race of the parts themselves
     *       (see {@link dev.nettysync.AsyncSemaphore}, "Executors that shut down") remains.</li>
     * </ul>
     *
     * @throws IllegalArgumentException if no limiter is given, or one is given twice (the same
     *         instance, or two views of one primitive from {@link #of(AsyncSemaphore)} and its
     *         siblings: it would hold a permit while waiting for a second, for ever if it has
     *         one; two views of one lock, read and write, would wait for each other). Other
     *         wrappers of one limiter (two {@code KeyedLimiter.forKey} views of one key) are not
     *         recognised: give each limiter once.
     * @throws NullPointerException if a limiter is {@code null}
     */
    static AsyncLimiter all(AsyncLimiter... limiters) {
        return new CompositeLimiter(limiters);
    }

    /**
     * A view of {@code limiter} that <em>fails open</em>: when an acquire fails with a cause
     * that {@code admitWhen} accepts (typically: the limiter's shared state is unreachable, as
     * a {@code RedisUnavailableException} of {@code netty-sync-redis}), the caller is admitted
     * anyway, with a permit that holds nothing and whose release gives nothing back. Any other
     * failure (a full queue, a timeout, closed, a rate refusal) passes through unchanged, so
     * the predicate should accept only "could not decide", never "decided no".
     *
     * <pre>{@code
     * AsyncLimiter fleet = AsyncLimiter.failOpen(redisSemaphore,
     *         cause -> cause instanceof RedisUnavailableException);
     * }</pre>
     *
     * <ul>
     *   <li><b>Waiting, order, timeouts, statistics</b> are {@code limiter}'s; an admission
     *       without it is not counted there (count it in the predicate if you need to).</li>
     *   <li><b>Cancellation</b> goes to {@code limiter}'s wait first: {@code cancel()} returns
     *       {@code true} only if that wait ended holding nothing, and {@code false} once it has
     *       granted (the caller then gets the permit), as for {@code limiter} itself.</li>
     *   <li>{@code tryAcquire} is {@code limiter}'s; an exception it throws that
     *       {@code admitWhen} accepts admits with an unbacked permit too. An exception
     *       {@code limiter}'s {@code acquire} throws instead of returning a future (a misuse,
     *       such as a bad argument: an answer comes as a failed future) is not an answer and
     *       propagates unchanged, as does a {@code null} future (a
     *       {@link NullPointerException} naming {@code limiter}).</li>
     *   <li>If the predicate throws, the acquire (or {@code tryAcquire}) fails with that
     *       exception (the original cause suppressed in it).</li>
     *   <li>The permit admitted without {@code limiter} holds nothing but is tracked for leaks
     *       like {@code limiter}'s own: dropping it unreleased is the bug that leaks a real
     *       permit (a lease) once {@code limiter} decides again, so it is reported as one.</li>
     * </ul>
     *
     * @throws NullPointerException if an argument is {@code null}
     */
    static AsyncLimiter failOpen(AsyncLimiter limiter, Predicate<? super Throwable> admitWhen) {
        return new FailOpenLimiter(limiter, admitWhen);
    }

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
     * Admits at once or not at all, from local state, without queueing.
     *
     * <p>A limiter whose state lives elsewhere (a Redis semaphore) cannot answer without a round
     * trip and throws {@link UnsupportedOperationException}; {@code acquire(executor, 0, unit)}
     * is the "now or never" question every limiter answers, asynchronously.
     *
     * @return a permit the caller must end exactly once, or {@code null} if refused
     * @throws UnsupportedOperationException if the limiter cannot decide without I/O
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
     * future fails. A wait that fails, or that is cancelled by someone other than the caller (a
     * wait bound to a channel that closed), fails or cancels the returned future; the action
     * never runs. If {@code executor} has already shut down, which could never run the action nor
     * end the permit, the returned future fails with a
     * {@link java.util.concurrent.RejectedExecutionException} and nothing is acquired.
     *
     * <p>A permit whose end throws is reported as try-with-resources reports {@code close()}:
     * the returned future fails with that exception if the action succeeded, and with the
     * action's own failure, that exception suppressed in it, if the action failed or threw (a
     * cancelled action's future stays cancelled; the exception is logged).
     *
     * @throws NullPointerException if {@code executor} or {@code action} is {@code null}
     *                              (nothing is acquired then)
     */
    default <T> Future<T> withPermit(EventExecutor executor, Supplier<? extends Future<T>> action) {
        Future<T> refused = Permits.refuseBeforeAcquiring(executor, action);
        return refused != null ? refused : Permits.runHolding(acquire(executor), executor, action);
    }

    /**
     * As {@link #withPermit(EventExecutor, Supplier)}, with a timeout that bounds the wait for
     * the permit only, not the action.
     */
    default <T> Future<T> withPermit(EventExecutor executor, long timeout, TimeUnit unit,
                                     Supplier<? extends Future<T>> action) {
        Future<T> refused = Permits.refuseBeforeAcquiring(executor, action);
        return refused != null ? refused : Permits.runHolding(acquire(executor, timeout, unit), executor, action);
    }
}
