package dev.nettysync.internal;

import dev.nettysync.WaitTimeoutException;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;

/**
 * One pending wait: the promise returned to the caller and, at the same time, the node of the
 * {@link WaiterList} it is queued in, so that a wait costs one allocation and leaving the queue
 * on cancel or timeout is O(1).
 *
 * <h2>Life of a waiter</h2>
 * <pre>
 *            enqueue, under the primitive's lock
 *   new ───────────────────────────────────────▶ QUEUED (list == the primitive's queue)
 *                                                  │
 *          ┌───────────────────────────────────────┴──────────────────────────────┐
 *          │ grant, under the lock: claim() makes the      │ abandon, under the lock:   │
 *          │ promise uncancellable, then unlink            │ cancel() or the timer      │
 *          ▼                                               ▼ unlinks it               │
 *       GRANTED ──completeGranted(), lock dropped──▶ SUCCESS        ABANDONED ──▶ CANCELLED
 *                                                                                or TIMED OUT
 * </pre>
 * Leaving {@code QUEUED} happens exactly once, under the owning primitive's lock, so a waiter
 * is either granted or abandoned, never both, and the grant is final the moment it is decided:
 * {@link #claim()} turns the promise uncancellable under the lock, so a {@code cancel()} that
 * comes later returns {@code false} and the caller holds what was granted. The completion
 * itself (which runs listeners) happens after the lock is dropped.
 *
 * <p>Subclasses hold what the primitive needs to know about the wait (a permit count, a
 * generation) and implement {@link #abandon(boolean)}.
 */
public abstract class Waiter<V> extends DefaultPromise<V> {

    // Links of the WaiterList this waiter is in. Read and written only by a thread that holds the
    // owning primitive's lock (which also guards the list).
    Waiter<V> prev;
    Waiter<V> next;
    WaiterList<?> list;            // the list holding this waiter; null once it has left it

    /**
     * A singly linked chain of waiters that were granted under the lock and are completed after
     * it is dropped. Written by the granting thread only, while the waiter is in no list.
     */
    public Waiter<V> nextGranted;

    private volatile ScheduledFuture<?> timer; // written once by the thread that queued the waiter

    /**
     * Unhooks this waiter from a chain of granted waiters (see {@link WaiterList#pollChain}) and
     * returns the next one, or {@code null}. Read it before completing this waiter.
     */
    @SuppressWarnings("unchecked")
    public final <W extends Waiter<?>> W detachNext() {
        Waiter<V> next = nextGranted;
        nextGranted = null;
        return (W) next;
    }

    protected Waiter(EventExecutor executor) {
        super(executor);
    }

    /**
     * Removes this waiter from its primitive's queue if it is still queued, and lets the
     * primitive react (for a semaphore: a later waiter may now be served). Must be called with no
     * lock held: it takes the primitive's lock and may complete other waiters after dropping it.
     *
     * @param claim also {@link #claim()} the waiter under the lock: a timeout does, so that its
     *              failure is final and a racing {@code cancel()} returns {@code false}, as it
     *              does after a grant; {@code cancel()} itself does not
     * @return {@code true} if this call took the waiter out of the queue; {@code false} if it had
     *         already left it (granted, abandoned earlier, or failed by {@code close})
     */
    protected abstract boolean abandon(boolean claim);

    /** What the waiter waits for, for messages: {@code "1 permit of AsyncSemaphore@1a2b"}. */
    protected abstract String describeWait();

    /**
     * Cancels the wait if it was not granted yet. A waiter still in the queue leaves it first, so
     * a listener on this future already sees the queue without it. Once granted (even if the
     * completion has not run yet) the grant stands and this returns {@code false}.
     */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        if (!isCancellable()) {      // done, or granted (claimed) already
            return false;
        }
        abandon(false);
        if (super.cancel(mayInterruptIfRunning)) {
            cancelTimer();
            return true;
        }
        return false;
    }

    /**
     * Makes the grant to this waiter final: after it, {@code cancel()} returns {@code false}.
     * Call under the lock, before unlinking a waiter to grant it; it runs no listener.
     *
     * @return {@code false} if the promise was already completed by someone else (a caller who
     *         cast it to {@code Promise} and completed it): do not grant it anything
     */
    public final boolean claim() {
        return setUncancellable() && !isDone();
    }

    /**
     * Completes a waiter that was claimed and unlinked under the lock. Call without holding it.
     *
     * @return {@code false} only if someone completed the promise behind the primitive's back
     *         (by casting it to {@code Promise}); the granter then takes back what it granted
     */
    public final boolean completeGranted(V value) {
        cancelTimer();
        return trySuccess(value);
    }

    /**
     * Cancels the promise itself, skipping {@link #cancel}'s queue handling: for primitives that
     * override {@code cancel} with a protocol of their own (a condition re-acquires its lock
     * before it reports the cancellation). Call without the lock.
     */
    public final boolean completeCancelled() {
        cancelTimer();
        return super.cancel(false);
    }

    /** Fails a waiter that was unlinked under the lock (close, reset, ...). Call without it. */
    public final boolean completeFailed(Throwable cause) {
        cancelTimer();
        return tryFailure(cause);
    }

    /**
     * Arms the timeout: after {@code nanos} on this waiter's own executor, a waiter still queued
     * leaves the queue and fails with a {@link WaitTimeoutException}. Call after enqueueing,
     * without the lock.
     */
    public final void startTimer(long nanos) {
        ScheduledFuture<?> t;
        try {
            t = executor().schedule(() -> expire(nanos), nanos, TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            // The executor cannot time (ImmediateEventExecutor) or is shutting down: the wait
            // must not stay queued without its timeout, so it ends with that failure.
            end(e);
            return;
        }
        timer = t;
        // Whoever ended the wait may have looked for the timer before it was there, so cancel
        // it ourselves if the timeout no longer applies.
        if (timeoutNoLongerApplies()) {
            t.cancel(false);
        }
    }

    private void expire(long nanos) {
        end(new WaitTimeoutException("timed out after " + formatNanos(nanos) + " waiting for " + describeWait()));
    }

    /**
     * Whether the wait has moved past the point where its timeout matters: by default, once it
     * is granted (claimed) or ended. A claim comes before the granter's cancelTimer(), so
     * checking "claimed" (not "done") closes the gap with a timer published late. Primitives
     * whose waits are decided in another way (a condition wait, once signalled) override this.
     */
    protected boolean timeoutNoLongerApplies() {
        return !isCancellable();
    }

    /**
     * Ends the wait with {@code cause} (a timeout, or a timer that could not be scheduled) if it
     * is still queued. Primitives whose waits must do more before failing (a condition
     * re-acquires its lock first) override this.
     */
    protected void end(Throwable cause) {
        if (abandon(true)) {
            tryFailure(cause);
        }
    }

    /** Cancels the timeout, if one was armed. */
    public final void cancelTimer() {
        ScheduledFuture<?> t = timer;
        if (t != null) {
            t.cancel(false);
        }
    }

    static String formatNanos(long nanos) {
        if (nanos % 1_000_000 == 0) {
            return nanos / 1_000_000 + " ms";
        }
        return nanos / 1_000 + " µs";
    }

    /** For subclasses' abandon(): whether this waiter is in {@code list}. Caller holds the lock. */
    protected final boolean isIn(WaiterList<?> list) {
        return this.list == list;
    }
}
