package dev.nettysync;

import dev.nettysync.internal.WaitQueue;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A non-reentrant, strictly FIFO mutual-exclusion lock for Netty event loops, in the shape of
 * Python's {@code asyncio.Lock}: {@link #lock(EventExecutor)} returns a {@link Future} instead
 * of blocking.
 * <pre>{@code
 * AsyncLock lock = new AsyncLock();      // guards `cache`, shared by all event loops
 *
 * lock.withLock(ctx.executor(), () -> refreshCache(cache))   // returns Future<T>
 *     .addListener(f -> ctx.writeAndFlush(render(cache)));
 * }</pre>
 *
 * <h2>Semantics</h2>
 * <ul>
 *   <li><b>Thread-safe, never blocking.</b> One lock may be shared by all event loops of a group
 *       and by plain threads. The future returned by {@code lock} is created on the named
 *       executor and its listeners run there; a timeout is timed on that executor.</li>
 *   <li><b>Fair.</b> Waiters get the lock in the order they asked; {@link #tryLock()} fails
 *       while anyone is queued, and {@link #unlock()} hands the lock directly to the head
 *       waiter.</li>
 *   <li><b>Non-reentrant and ownerless.</b> Like asyncio's lock (and unlike
 *       {@code ReentrantLock}), there is no owner thread: code on an event loop hops between
 *       tasks, so "the holder" is a logical task, not a thread. Locking again while holding it
 *       waits forever (or until a timeout); {@code unlock()} may be called from any thread, and
 *       nothing stops it from unlocking a hold that is another task's: unlock only after your
 *       own {@code lock} future succeeded (a wait can fail: closed, queue full, timeout), or let
 *       {@code withLock} do it.</li>
 *   <li><b>Cancellation and timeouts</b> behave as on {@link AsyncSemaphore}: a cancelled or
 *       timed-out waiter leaves the queue at once and holds nothing. A handoff is final: once
 *       {@code unlock()} has handed the lock to a waiter, a {@code cancel} of its future returns
 *       {@code false} (even before the future's completion ran) and the waiter holds the lock
 *       and must unlock it.</li>
 *   <li><b>Executors that shut down</b> as on {@link AsyncSemaphore}: a wait that would queue on
 *       one already shut down fails at once with a
 *       {@link java.util.concurrent.RejectedExecutionException}; a waiter whose executor shuts
 *       down while it is queued fails with it when the lock is handed to it, and the lock goes
 *       on to the next waiter (up to the residual race described there); a timed one fails
 *       as soon as its executor shuts down (which cancels its timeout), leaving the queue. A {@code lock} that
 *       finds the lock free on a shut-down executor takes it and returns a succeeded future
 *       whose listeners never run: check {@code isSuccess()}, or use {@code withLock}, which
 *       refuses that executor first.</li>
 *   <li><b>{@code withLock} never lets two holders overlap</b>, whatever is cancelled: the lock
 *       is released only when the action's own future completes by itself; cancelling the
 *       returned future gives up for the caller at once but leaves the action alone (see
 *       {@link AsyncSemaphore#withPermit(EventExecutor, Supplier)}).</li>
 *   <li><b>Handoff runs inline.</b> {@code unlock()} may run the next holder's listeners on the
 *       calling thread, inside the call, when they share its executor (Netty's promise
 *       semantics; asyncio always defers); see "Where the next holder's listeners run" on
 *       {@link AsyncSemaphore}.</li>
 *   <li><b>Misuse fails loudly.</b> {@code unlock()} when not locked throws
 *       {@link IllegalStateException} and changes nothing.</li>
 * </ul>
 *
 * <h2>Memory consistency effects</h2>
 * Actions before an {@code unlock()} happen-before the successful completion of the {@code lock}
 * future it hands the lock to (and so before that future's listeners run).
 */
public final class AsyncLock {

    // A one-permit bounded semaphore is exactly a lock without owner: the bound turns a second
    // unlock into an error, and the semaphore's FIFO handoff gives the fairness. LockSemaphore
    // names this lock in its messages (an extra unlock reads "unlock() of AsyncLock@..., which
    // is not locked") and is shared with AsyncReadWriteLock.
    private final LockSemaphore permit;

    /** Creates an unlocked lock with no bound on waiters. */
    public AsyncLock() {
        this(Integer.MAX_VALUE);
    }

    /**
     * Creates an unlocked lock that queues at most {@code maxPending} waiters; a {@code lock}
     * that would queue more fails at once with a {@link QueueFullException}.
     */
    public AsyncLock(int maxPending) {
        permit = new LockSemaphore(this, 1, maxPending);
    }

    /** Takes the lock if it is free and nobody is queued; {@code false} otherwise, and once the lock is closed. */
    public boolean tryLock() {
        return permit.tryAcquire();
    }

    /**
     * Takes the lock, waiting in FIFO order if it is held.
     *
     * @param executor the caller's executor: the future belongs to it, its listeners run there
     * @return a future that succeeds once the lock is held
     */
    public Future<Void> lock(EventExecutor executor) {
        return permit.acquire(executor);
    }

    /**
     * As {@link #lock(EventExecutor)}, giving up after {@code timeout} with a
     * {@link WaitTimeoutException}.
     */
    public Future<Void> lock(EventExecutor executor, long timeout, TimeUnit unit) {
        return permit.acquire(executor, timeout, unit);
    }

    /**
     * Releases the lock, handing it to the head waiter if any.
     *
     * @throws IllegalStateException if the lock is not locked
     */
    public void unlock() {
        permit.release();
    }

    /**
     * Whether a wait that failed with {@code cause} was a condition wait of this lock that gave
     * the lock up (a {@link LockGivenUpException} naming this lock): its caller does not hold the
     * lock, which may be the next holder's already, and must not unlock it. {@code withLock} and
     * the {@code withPermit} of this lock's limiter view ({@code AsyncLimiter.of(lock)}) ask it
     * before they unlock; so can a listener that unlocks by hand after waits on several locks.
     */
    public boolean isGivenUpBy(Throwable cause) {
        return permit.gaveUpHold(cause);
    }

    /**
     * Takes the lock, runs {@code action} on {@code executor}, and unlocks exactly once when the
     * action's own future completes in any way (or the action throws). Cancelling the returned
     * future while the action runs does not unlock early. The action must not unlock the lock
     * itself; if it does, the returned future fails with the {@link IllegalStateException} of the
     * second unlock. See
     * {@link AsyncSemaphore#withPermit(EventExecutor, Supplier)} for the whole contract.
     */
    public <T> Future<T> withLock(EventExecutor executor, Supplier<? extends Future<T>> action) {
        return withLock(executor, AsyncSemaphore.asFunction(action));
    }

    /**
     * As {@link #withLock(EventExecutor, Supplier)}, the action receiving the future returned to
     * the caller so that it can observe a cancellation; see
     * {@link AsyncSemaphore#withPermit(EventExecutor, Function)}.
     */
    public <T> Future<T> withLock(EventExecutor executor, Function<? super Future<T>, ? extends Future<T>> action) {
        return permit.holding(executor, 1, action, this::unlock);
    }

    /**
     * As {@link #withLock(EventExecutor, Supplier)}, but gives up waiting for the lock after
     * {@code timeout}: the returned future then fails with a {@link WaitTimeoutException} and the
     * action never runs. The timeout bounds the wait in the queue only, not the action (see
     * {@link AsyncSemaphore#withPermit(EventExecutor, long, TimeUnit, Supplier)}).
     */
    public <T> Future<T> withLock(EventExecutor executor, long timeout, TimeUnit unit,
                                  Supplier<? extends Future<T>> action) {
        return withLock(executor, timeout, unit, AsyncSemaphore.asFunction(action));
    }

    /**
     * As {@link #withLock(EventExecutor, long, TimeUnit, Supplier)}, the action receiving the
     * caller's future as in {@link #withLock(EventExecutor, Function)}.
     */
    public <T> Future<T> withLock(EventExecutor executor, long timeout, TimeUnit unit,
                                  Function<? super Future<T>, ? extends Future<T>> action) {
        return permit.holding(executor, 1, WaitQueue.toNanos(timeout, unit), action, this::unlock);
    }

    /**
     * Takes the lock back for an {@link AsyncCondition} waiter that released it to wait: FIFO
     * like {@link #lock}, but never refused by {@link #close()} or {@code maxPending}, so the
     * waiter's caller always holds the lock when its wait completes.
     */
    Future<Void> relock(EventExecutor executor) {
        return permit.acquireOwed(executor);
    }

    /** Whether the lock is held now (asyncio's {@code locked()}). */
    public boolean isLocked() {
        return permit.availablePermits() == 0;
    }

    /**
     * A consistent snapshot of the lock (trio's {@code statistics()}): whether it is held, how
     * many wait for it, whether it is closed, at one instant. For monitoring; O(1).
     */
    public Statistics statistics() {
        AsyncSemaphore.Statistics s = permit.statistics();
        return new Statistics(s.available() <= 0, s.waiters(), s.closed());
    }

    /**
     * A snapshot of an {@link AsyncLock} at one instant.
     *
     * @param locked  whether the lock is held
     * @param waiters the waiters queued for it (condition waiters taking it back included)
     * @param closed  whether {@code close()} was called
     */
    public record Statistics(boolean locked, int waiters, boolean closed) {
    }

    /** The number of queued waiters now. */
    public int queueLength() {
        return permit.queueLength();
    }

    /**
     * Fails every queued waiter and every later {@code lock} with a {@link ClosedException};
     * see {@link AsyncSemaphore#close(Throwable)}. The holder may still unlock. Condition
     * waiters taking the lock back are not refused (see {@link AsyncCondition}).
     */
    public void close(Throwable cause) {
        permit.close(cause);
    }

    /** {@link #close(Throwable)} without a cause. */
    public void close() {
        permit.close();
    }

    /** For tests: the first broken invariant of the underlying one-permit semaphore, or {@code null}. */
    String brokenInvariant() {
        return permit.brokenInvariant();
    }

    @Override
    public String toString() {
        return "AsyncLock@" + Integer.toHexString(System.identityHashCode(this))
                + (isLocked() ? "{locked, queued=" + queueLength() + '}' : "{unlocked}");
    }
}
