package dev.nettysync;

import dev.nettysync.internal.Promises;
import dev.nettysync.internal.WaitQueue;
import dev.nettysync.internal.Waiter;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;

import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * A condition variable on an {@link AsyncLock}, in the shape of Python's
 * {@code asyncio.Condition}: a task holding the lock {@linkplain #await(EventExecutor) waits}
 * (releasing the lock meanwhile) until another task holding the lock
 * {@linkplain #signal() signals}. Java reserves {@code wait}/{@code notify}, so asyncio's
 * {@code wait}, {@code wait_for}, {@code notify}, {@code notify_all} are {@code await},
 * {@link #awaitUntil} (or {@link #awaitValue}, which returns the predicate's value as
 * {@code wait_for} does), {@code signal}, {@code signalAll} here.
 * <pre>{@code
 * AsyncCondition changed = new AsyncCondition();        // its own AsyncLock
 * AsyncLock lock = changed.lock();
 *
 * // consumer, on ctx.executor(): the predicate runs there, with the lock held
 * lock.lock(ex).addListener(locked -> {
 *     if (!locked.isSuccess()) return;           // not held (closed, queue full): nothing to unlock
 *     changed.awaitUntil(ex, () -> !queue.isEmpty()).addListener(w -> {
 *         if (w.cause() instanceof LockGivenUpException) return;       // the one end without the lock
 *         try {
 *             if (w.isSuccess()) ctx.writeAndFlush(queue.poll());      // still holding the lock
 *         } finally {
 *             lock.unlock();                                             // held however else w ended
 *         }
 *     });
 * });
 *
 * // producer, anywhere:
 * lock.withLock(executor, () -> { queue.add(item); changed.signal(); return executor.newSucceededFuture(null); });
 * }</pre>
 *
 * <h2>What the caller holds</h2>
 * {@code await}, {@code awaitUntil}, {@code awaitValue} and {@code signal*} must be called
 * while the lock is held, else they throw {@link IllegalStateException} (the lock has no owner
 * thread, so "held" means "locked", by anyone, as in asyncio: the check cannot tell the caller's
 * hold from another task's, so test that the {@code lock} future succeeded before waiting, as
 * above). {@code await} releases the lock, waits for a signal, and re-acquires the lock (FIFO,
 * behind whoever queued for it first) <b>before</b> its future completes. This holds for every
 * way the wait can end:
 * <ul>
 *   <li>success: signalled (or, for {@code awaitUntil}, the predicate returned {@code true});</li>
 *   <li>failure with {@link WaitTimeoutException} (timed variants);</li>
 *   <li>cancellation, and failure with whatever the predicate threw;</li>
 *   <li>failure with {@link RejectedExecutionException}, at once and with
 *       the lock never released, if the executor has already shut down (it could never run
 *       the relock), or, for a predicate wait asked from another thread, refuses the task of
 *       its first look at the predicate;</li>
 * </ul>
 * in each of these the caller holds the lock again when the future completes and must unlock
 * it. The one exception has a type of its own: a wait whose executor refuses to resume it once
 * it has let the lock go (it shut down while the wait was queued, or its task queue is full:
 * below) gives the lock up and fails with a {@link LockGivenUpException}, and its caller must
 * <em>not</em> unlock. So {@code withLock(executor, () -> condition.await(executor))} always
 * unlocks correctly: it does not unlock after that exception. To keep that promise the lock is
 * taken back as a debt: neither
 * {@link AsyncLock#close()} nor the lock's {@code maxPending} bound refuses a waiter taking back
 * the lock it released to wait (a closed lock still hands itself to them in FIFO order).
 *
 * <h2>Cancellation</h2>
 * Because the lock must be re-acquired first, {@code cancel()} on a wait's future is a request,
 * as interrupting {@link java.util.concurrent.locks.Condition#await()} is: it returns
 * {@code true} if the wait had not ended yet, and the future becomes cancelled once the lock is
 * held again (at once if it is free), so {@code isDone()} can be {@code false} for that short
 * while. A waiter that was already signalled but is cancelled (or times out) before its future
 * completed (before it got the lock back, or while it evaluates its predicate) passes the signal
 * on to the next waiter, so no signal is lost (CPython gh-112202); the next waiter may then see
 * a spurious wake-up, which {@link #awaitUntil} absorbs. The timeout of a plain {@code await}
 * no longer applies once it is signalled.
 *
 * <h2>An executor that shuts down while its wait is queued</h2>
 * Its waiter can never run again, so it must not keep the lock nor a signal: when a signal
 * reaches it, or it is cancelled, it takes the lock back in its turn as any waiter does, finds
 * that its executor refuses the task that would resume it, and then unlocks, passes the signal
 * on to the next waiter, and fails with a {@link LockGivenUpException} (a
 * {@link RejectedExecutionException}) <em>without</em> the lock (nobody is there to unlock it;
 * no listener of it runs anyway). Residual race: an executor that accepts that task and then
 * terminates without running it (Netty drains the tasks of a graceful shutdown, so only a task
 * that slips in after the last drain) keeps the lock; Netty gives no hook for it. Cancel the
 * waits of an event loop before shutting it down to be exact. An executor that refuses that task though it has not shut down (its bounded task
 * queue is full: the {@code RejectedExecutionException} of Netty's default policy, or whatever
 * a policy of its own throws) is treated the same way: the wait fails, without the lock, with a
 * {@link LockGivenUpException} caused by the refusal. Its listeners may run later (the queue
 * has room again), so they must test for that type before they unlock: an unlock then would
 * release the lock of whoever holds it next.
 * <p>A <em>timed</em> wait does not wait for a signal: its executor cancels its timeout as it
 * shuts down, and the wait ends then as at its timeout (it leaves the condition, passing on any
 * signal it holds, and takes the lock back first), failing with a
 * {@link RejectedExecutionException}. If its executor still runs it (a shutting-down executor
 * runs tasks until it terminates, and the timer's cancellation runs on its thread), the wait
 * completes there holding the lock, as every end does, and its listeners must unlock; if not,
 * it gives the lock up as above. A plain {@code await} already signalled is left alone (its
 * timeout no longer applies).
 *
 * <h2>Threads and executors</h2>
 * Thread-safe; waiters may be on any executors. Each future completes on the executor its
 * waiter named, and {@code awaitUntil}'s predicate runs there, with the lock held. Signalled
 * waiters queue for the lock in signal order. No user code runs under internal locks.
 *
 * <h2>Memory consistency effects</h2>
 * As for the lock: actions before an {@code unlock} happen-before the completion of the wait
 * that re-acquires it; so everything a signaller did while holding the lock is visible to the
 * waiter it woke.
 */
public final class AsyncCondition {

    /*
     * Implementation notes
     *
     * A wait is one ConditionWaiter (the returned future) with one explicit state, guarded by
     * `queue`'s monitor (Netty ST_* style):
     *
     *              awaitUntil                     await
     *   ST_HOLDING ─────────┐            ┌──────── (lock released)
     *   (predicate, lock    │ false      ▼
     *    held, no signal)   └────▶ ST_QUEUED ──signal──▶ ST_SIGNALLED ──lock back──▶ ST_WOKEN
     *        │ true/threw           ▲   │                     │                      │ predicate
     *        │                      │   │ cancel/timeout:     │ cancel/timeout:      │ false: ──▶ ST_QUEUED
     *        │                      │   │ leave, relock       │ pass the signal on   │ true/threw/plain:
     *        ▼                      │   ▼                     ▼                      ▼
     *     ST_DONE ◀──lock back── ST_ENDING ◀──────────────────┴── cancel/timeout ── ST_WOKEN
     *   (completed, lock held)   (end recorded, holds no signal; a cancel in ST_HOLDING also lands here)
     *
     * Every transition happens under the monitor; re-locking, the predicate (user code) and
     * completion happen outside it. A signal is held by a waiter only in ST_SIGNALLED and
     * ST_WOKEN; a cancel or timeout accepted there passes it on to the next queued waiter at
     * once (requestEnd), so no signal is lost (CPython gh-112202), and the waiter then finishes
     * with its end once it holds the lock. ST_ENDING and ST_DONE refuse further ends. A plain
     * await's timer is cancelled by the signal; if the signal came before the timer was
     * published, startTimer() cancels it (see ConditionWaiter.timeoutNoLongerApplies); if the
     * timer was already running, its end is refused (requestEnd, under the monitor). A timer
     * that its executor cancels as it shuts down ends the wait as its timeout would, through
     * end() and requestEnd() (see WaitQueue, "Timers that die with their executor"), on the
     * executor's thread; the relock then completes there, or gives up as below.
     *
     * Relock. The lock is taken back with a future of ImmediateEventExecutor, whose listener
     * runs where the lock is handed over (outside every monitor), and hops to the waiter's
     * executor itself (inline if already there, as the promise would). Relocking on the
     * waiter's own executor would leave a shut-down one's relock granted (the lock lost) or
     * refused at once (a failed future whose listener never runs: the signal lost). The hop
     * instead fails visibly (execute throws), and giveUp() passes signal and lock on. The
     * semaphore's own shut-down check (WaitQueue.completeGranted) does not apply to the relock,
     * whose executor never shuts down; this one is exact, up to Netty's drain race.
     */

    private static final Object CANCELLED = new Object();
    private static final Object NOT_YET = new Object();        // a predicate that is not satisfied

    private static final int ST_HOLDING = 0;    // lock held, no signal consumed: awaitUntil's first look
    private static final int ST_QUEUED = 1;     // in the queue, lock released, waiting for a signal
    private static final int ST_SIGNALLED = 2;  // taken out by a signal, re-acquiring the lock
    private static final int ST_WOKEN = 3;      // lock held again after a signal, predicate running
    private static final int ST_ENDING = 4;     // a cancel or timeout accepted (in `end`); re-acquiring or evaluating
    private static final int ST_DONE = 5;       // outcome decided; completed or about to be, lock held

    private final AsyncLock lock;
    private final WaitQueue<ConditionWaiter> queue = new WaitQueue<>(this, null); // its monitor guards waiters' state

    /** A condition with a lock of its own ({@link #lock()}). */
    public AsyncCondition() {
        this(new AsyncLock());
    }

    /** A condition on {@code lock}, which may be shared with other conditions. */
    public AsyncCondition(AsyncLock lock) {
        this.lock = Objects.requireNonNull(lock, "lock");
    }

    /** The lock this condition is bound to. */
    public AsyncLock lock() {
        return lock;
    }

    /**
     * Releases the lock, waits for a signal, and re-acquires the lock; see the class
     * documentation for what the caller holds when the future completes.
     *
     * @throws IllegalStateException if the lock is not held
     */
    public Future<Void> await(EventExecutor executor) {
        return await0(executor, null, -1);
    }

    /**
     * As {@link #await(EventExecutor)}, ending with a {@link WaitTimeoutException} (lock held).
     * A timeout of zero or less times out at once (for {@code awaitUntil}/{@code awaitValue},
     * after the first look at the predicate).
     */
    public Future<Void> await(EventExecutor executor, long timeout, TimeUnit unit) {
        return await0(executor, null, WaitQueue.toNanos(timeout, unit));
    }

    /**
     * Waits until {@code predicate} returns {@code true} (asyncio's {@code wait_for}): evaluates
     * it first, and again after every signal, always on {@code executor} with the lock held. The
     * future succeeds, with the lock held, once it returns {@code true}; if it throws, the future
     * fails with that exception, the lock still held. Called from another thread than
     * {@code executor}'s, the first look is a task submitted to it; if {@code execute} refuses
     * that task (its task queue is full, or it shut down after the check above), its exception
     * is thrown here and nothing has changed: the lock is still the caller's.
     *
     * @throws IllegalStateException if the lock is not held
     */
    public Future<Void> awaitUntil(EventExecutor executor, BooleanSupplier predicate) {
        return await0(executor, Objects.requireNonNull(predicate, "predicate"), -1);
    }

    /** As {@link #awaitUntil(EventExecutor, BooleanSupplier)}, with an overall timeout (zero or less: one look, then a timeout). */
    public Future<Void> awaitUntil(EventExecutor executor, BooleanSupplier predicate, long timeout, TimeUnit unit) {
        return await0(executor, Objects.requireNonNull(predicate, "predicate"), WaitQueue.toNanos(timeout, unit));
    }

    /**
     * As {@link #awaitUntil(EventExecutor, BooleanSupplier)}, returning the predicate's value as
     * asyncio's {@code wait_for} does: waits until {@code value} returns non-{@code null}
     * ({@code null} means "not yet") and succeeds with that value, the lock held.
     * <pre>{@code
     * changed.awaitValue(ex, queue::poll).addListener(f -> {   // the item, taken under the lock
     *     try { if (f.isSuccess()) ctx.writeAndFlush(f.getNow()); } finally { lock.unlock(); }
     * });
     * }</pre>
     * ({@code awaitUntil} keeps its {@code Future<Void>}: changing its type would break callers,
     * and an overload taking a {@code Supplier} would make a boolean lambda ambiguous to read,
     * hence the separate name.)
     *
     * @throws IllegalStateException if the lock is not held
     */
    public <T> Future<T> awaitValue(EventExecutor executor, Supplier<? extends T> value) {
        return await0(executor, Objects.requireNonNull(value, "value"), -1);
    }

    /** As {@link #awaitValue(EventExecutor, Supplier)}, with an overall timeout. */
    public <T> Future<T> awaitValue(EventExecutor executor, Supplier<? extends T> value, long timeout, TimeUnit unit) {
        return await0(executor, Objects.requireNonNull(value, "value"), WaitQueue.toNanos(timeout, unit));
    }

    /** Wakes the longest-waiting waiter, if any. @throws IllegalStateException if the lock is not held */
    public void signal() {
        signal(1);
    }

    /**
     * Wakes up to {@code n} waiters, longest-waiting first.
     *
     * @throws IllegalStateException if the lock is not held
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public void signal(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("n must be >= 1, was " + n);
        }
        signal0(n, "signal");
    }

    /** Wakes every waiter. @throws IllegalStateException if the lock is not held */
    public void signalAll() {
        signal0(Integer.MAX_VALUE, "signalAll");
    }

    /**
     * A snapshot of the condition (trio's {@code statistics()}): the waiters waiting for a signal
     * and its lock's statistics. Each part is consistent on its own; the two are taken one after
     * the other. For monitoring; O(1).
     */
    public Statistics statistics() {
        int waiters;
        synchronized (queue) {
            waiters = queue.size();
        }
        return new Statistics(waiters, lock.statistics());
    }

    /**
     * A snapshot of an {@link AsyncCondition}.
     *
     * @param waiters the waiters waiting for a signal (signalled ones re-acquiring the lock are
     *                counted in the lock's waiters)
     * @param lock    the statistics of its lock
     */
    public record Statistics(int waiters, AsyncLock.Statistics lock) {
    }

    /** The number of waiters waiting for a signal now. */
    public int queueLength() {
        return queue.size();
    }

    @Override
    public String toString() {
        return "AsyncCondition@" + Integer.toHexString(System.identityHashCode(this))
                + "{waiters=" + queue.size() + ", " + lock + '}';
    }

    /**
     * For tests: the broken invariant, or {@code null}. Exact (under the monitor): the lock's
     * own, and every queued waiter is in ST_QUEUED and not completed.
     */
    String brokenInvariant() {
        String lockBroken = lock.brokenInvariant();
        if (lockBroken != null) {
            return "its lock: " + lockBroken;
        }
        synchronized (queue) {
            for (ConditionWaiter w = queue.peekFirst(); w != null; w = queue.nextOf(w)) {
                if (w.state != ST_QUEUED) {
                    return "a queued waiter in state " + w.state;
                }
                if (w.isDone()) {
                    return "a queued waiter is already completed: " + w;
                }
            }
            return null;
        }
    }

    // ---------------------------------------------------------------- implementation

    private void requireLocked(String method) {
        if (!lock.isLocked()) {
            throw new IllegalStateException(method + "() requires holding " + lock);
        }
    }

    /** {@code predicate}: null (plain await), a BooleanSupplier (awaitUntil) or a Supplier (awaitValue). */
    @SuppressWarnings("unchecked")
    private <T> Future<T> await0(EventExecutor executor, Object predicate, long timeoutNanos) {
        Objects.requireNonNull(executor, "executor");
        requireLocked(predicate == null ? "await" : predicate instanceof BooleanSupplier ? "awaitUntil" : "awaitValue");
        // The wait would end in a relock whose listener that executor never runs: the lock would
        // stay taken for ever. Refuse with nothing changed; the caller keeps the lock.
        Future<T> refused = Promises.failedIfShutDown(executor, "the wait's relock");
        if (refused != null) {
            return refused;
        }
        ConditionWaiter w = new ConditionWaiter(executor, this, predicate);
        if (predicate == null) {
            synchronized (queue) {
                w.state = ST_QUEUED;
                queue.enqueue(w);
            }
            unlockForWait(w);
        } else if (executor.inEventLoop()) {
            afterLockHeld(w);                    // evaluate the predicate first, lock held
        } else {
            try {
                executor.execute(() -> {
                    afterLockHeld(w);
                    if (timeoutNanos == 0) {     // after the first look, as on the executor
                        expireAtOnce(w);
                    }
                });
            } catch (RuntimeException refusal) {
                // Shut down since the check above, or a full task queue whose rejection policy may
                // throw anything: the first look will never run. Nothing is taken yet: refused as
                // above (with the same message when it has shut down, the executor's own refusal as
                // the cause), and the caller keeps the lock.
                return executor.newFailedFuture(Promises.refused(executor, "the wait's relock", refusal));
            }
            queue.armTimer(w, timeoutNanos);
            return (Future<T>) w;
        }
        if (timeoutNanos == 0) {
            expireAtOnce(w);
        } else if (!w.isDone()) {
            queue.armTimer(w, timeoutNanos);
        }
        return (Future<T>) w;
    }

    /**
     * A timeout of zero or less (toNanos made it 0): the wait ends as a timeout would, now,
     * unless the first look at the predicate already ended it. Without this, armTimer ignores a
     * zero timeout and the wait would last for ever.
     */
    private void expireAtOnce(ConditionWaiter w) {
        if (!w.isDone()) {
            requestEnd(w, new WaitTimeoutException("no wait allowed (timeout <= 0) for " + w.describeWait()), true);
        }
    }

    /** Queued under the monitor before this, so a signaller that gets the lock next sees it. */
    private void unlockForWait(ConditionWaiter w) {
        try {
            lock.unlock();
        } catch (IllegalStateException notLocked) {  // someone unlocked behind our back
            synchronized (queue) {
                if (queue.contains(w)) {
                    queue.takeOut(w);
                    queue.takeChain();
                }
                w.state = ST_DONE;
            }
            w.completeFailed(notLocked);
            throw notLocked;
        }
    }

    private void signal0(int n, String method) {
        requireLocked(method);
        ConditionWaiter signalled;
        synchronized (queue) {
            queue.takeOut(n);
            signalled = queue.takeChain();
            for (ConditionWaiter w = signalled; w != null; w = w.nextInChain()) {
                w.state = ST_SIGNALLED;
            }
        }
        for (ConditionWaiter w = signalled; w != null; ) {
            ConditionWaiter next = WaitQueue.detachNext(w);
            wake(w);
            w = next;
        }
    }

    /**
     * Passes a signal that a cancelled or timed-out waiter will not act on to the next queued
     * waiter. Monitor. Returns that waiter, to {@link #wake} after dropping the monitor, or null.
     */
    private ConditionWaiter passSignalOnLocked() {
        queue.takeOut(1);
        ConditionWaiter next = queue.takeChain();
        if (next != null) {
            next.state = ST_SIGNALLED;
        }
        return next;
    }

    /** A signalled waiter: a plain await's timeout no longer applies; go and get the lock. */
    private void wake(ConditionWaiter w) {
        if (w.predicate == null) {
            w.cancelTimer();
        }
        relock(w);
    }

    /**
     * Takes the lock back for {@code w}. The relock's future belongs to an executor that never
     * shuts down (its listener runs on the thread that hands the lock over, outside every
     * monitor), and hops to w's executor from there: so an executor that shut down while w
     * waited is seen as a refused {@code execute}, and the lock and the signal go on (see
     * {@link #giveUp}), instead of a notification Netty drops with the lock in it.
     */
    private void relock(ConditionWaiter w) {
        lock.relock(ImmediateEventExecutor.INSTANCE).addListener(f -> relocked(w, f));
    }

    private void relocked(ConditionWaiter w, Future<?> f) {
        if (!f.isSuccess()) {
            // An owed relock is refused by neither close() nor maxPending and is never
            // cancelled, so this is unreachable; if it ever happened, fail rather than hang.
            synchronized (queue) {
                w.state = ST_DONE;
            }
            w.completeFailed(f.cause());
            return;
        }
        EventExecutor executor = w.waiterExecutor();
        if (executor.inEventLoop()) {
            afterLockHeld(w);                     // as the promise's own inline notification would
            return;
        }
        try {
            executor.execute(() -> afterLockHeld(w));
        } catch (RuntimeException refused) {
            // Shut down, or (not shut down) a full task queue whose rejection policy may throw
            // anything, or an executor of the application's own: either way it will not run w.
            giveUp(w, refused);
        }
    }

    /**
     * {@code w} holds the lock again but its executor refused the task that resumes it (it has
     * shut down, or its task queue is full) and will never run it: the signal it holds (if any)
     * goes to the next waiter, the lock is unlocked, and {@code w} fails with a
     * {@link RejectedExecutionException} whose cause is the refusal, holding nothing. A loop,
     * not recursion, over waiters that give up one after the other (Netty bounds the inline
     * notifications).
     */
    private void giveUp(ConditionWaiter w, RuntimeException cause) {
        ConditionWaiter passTo;
        synchronized (queue) {
            // ST_SIGNALLED: it holds a signal. ST_ENDING: a cancel or timeout passed it on already.
            passTo = w.state == ST_SIGNALLED ? passSignalOnLocked() : null;
            w.state = ST_DONE;
        }
        lock.unlock();
        w.completeFailed(new LockGivenUpException(lock, Promises.refusedMessage(w.waiterExecutor(),
                "the end of its wait for " + w.describeWait() + " (the lock and any signal went on)"), cause));
        if (passTo != null) {
            wake(passTo);
        }
    }

    /** On w's executor, with the lock held for w: finish, or evaluate the predicate and wait again. */
    private void afterLockHeld(ConditionWaiter w) {
        boolean evaluate;
        synchronized (queue) {
            if (w.state == ST_SIGNALLED) {
                w.state = ST_WOKEN;
            }
            evaluate = w.state != ST_ENDING;          // ST_HOLDING or ST_WOKEN
        }
        Object value = null;                          // what a satisfied wait completes with
        Throwable predicateFailure = null;
        if (evaluate && w.predicate != null) {
            try {
                value = w.evaluate();
            } catch (Throwable t) {
                predicateFailure = t;
            }
        }
        boolean satisfied = value != NOT_YET;
        Object end;
        boolean waitAgain;
        synchronized (queue) {
            end = w.state == ST_ENDING ? w.end : null;  // a cancel or timeout may have come meanwhile
            waitAgain = end == null && predicateFailure == null && !satisfied;
            if (waitAgain) {
                w.state = ST_QUEUED;
                queue.enqueue(w);
            } else {
                w.state = ST_DONE;
            }
        }
        if (waitAgain) {
            unlockForWait(w);
        } else if (end == CANCELLED) {
            w.completeCancelled();
        } else if (end != null) {
            w.completeFailed((Throwable) end);
        } else if (predicateFailure != null) {
            w.completeFailed(predicateFailure);
        } else {
            w.completeGranted(value);
        }
    }

    /**
     * Cancel or timeout ({@code reason}: CANCELLED or the exception): records the end; a queued
     * waiter leaves and re-acquires the lock, one holding a signal passes it on. The end of a
     * timeout ({@code timeout}: it expired, its timer could not be armed or was lost with its
     * executor) is refused by a plain await already signalled, whose timeout no longer applies:
     * decided here, under the monitor, since a timer may have started running before the
     * signal's cancel reached it (the cancel then fails).
     *
     * @return whether the request was accepted (the wait had not ended yet)
     */
    private boolean requestEnd(ConditionWaiter w, Object reason, boolean timeout) {
        ConditionWaiter passTo = null;
        boolean relock = false;
        synchronized (queue) {
            switch (w.state) {
                case ST_QUEUED:
                    queue.takeOut(w);
                    queue.takeChain();
                    relock = true;
                    break;
                case ST_SIGNALLED:
                case ST_WOKEN:
                    if (timeout && w.predicate == null) {
                        return false;               // signalled: its timeout no longer applies
                    }
                    passTo = passSignalOnLocked();
                    break;
                case ST_HOLDING:
                    break;                          // afterLockHeld() applies the end
                case ST_ENDING:
                case ST_DONE:
                    return false;
                default:
                    throw new IllegalStateException("unknown state " + w.state);
            }
            w.state = ST_ENDING;
            w.end = reason;
        }
        if (passTo != null) {
            wake(passTo);
        }
        if (relock) {
            relock(w);
        }
        return true;
    }

    private static final class ConditionWaiter extends Waiter<Object> {
        private final AsyncCondition owner;
        final Object predicate;            // null (plain await), a BooleanSupplier or a Supplier
        int state = ST_HOLDING;            // guarded by owner.queue (ST_* above)
        Object end;                        // guarded by owner.queue: CANCELLED or the failure, set with ST_ENDING

        ConditionWaiter(EventExecutor executor, AsyncCondition owner, Object predicate) {
            super(executor, owner.queue);
            this.owner = owner;
            this.predicate = predicate;
        }

        /** Runs the predicate (user code, lock held, no monitor): the value to complete with, or NOT_YET. */
        Object evaluate() {
            if (predicate instanceof BooleanSupplier b) {
                return b.getAsBoolean() ? null : NOT_YET;
            }
            Object v = ((Supplier<?>) predicate).get();
            return v == null ? NOT_YET : v;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            return !isDone() && owner.requestEnd(this, CANCELLED, false);
        }

        @Override
        protected void end(Throwable cause) {
            owner.requestEnd(this, cause, true);
        }

        /**
         * A plain wait's timeout stops mattering once it is signalled, which can happen before
         * its timer is published (the unlock in await0 can hand the lock to a task that signals
         * at once, or another thread signals): then wake() found no timer to cancel. An
         * awaitUntil's timeout bounds the whole wait, until it ends.
         */
        @Override
        protected boolean timeoutNoLongerApplies() {
            if (isDone()) {
                return true;
            }
            synchronized (owner.queue) {
                return predicate == null ? state != ST_QUEUED : state >= ST_ENDING;
            }
        }

        /** The next waiter of a chain taken out of the queue (before it is detached). Monitor. */
        ConditionWaiter nextInChain() {
            return WaitQueue.peekNext(this);
        }

        EventExecutor waiterExecutor() {
            return executor();
        }

        @Override
        protected String describeWait() {
            return "a signal of " + owner;
        }
    }
}
