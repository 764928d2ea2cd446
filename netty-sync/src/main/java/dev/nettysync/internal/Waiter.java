package dev.nettysync.internal;

import dev.nettysync.WaitTimeoutException;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One pending wait: the promise returned to the caller and, at the same time, the node of the
 * {@link WaitQueue} it stands in, so that a wait costs one allocation and leaving the queue on
 * cancel or timeout is O(1).
 *
 * <h2>Life of a waiter</h2>
 * <pre>
 *            enqueue, under the queue's monitor
 *   new ───────────────────────────────────────▶ QUEUED (linked in the queue)
 *                                                  │
 *          ┌───────────────────────────────────────┴──────────────────────────────┐
 *          │ grant, under the monitor: the granter         │ abandon, under the monitor: │
 *          │ unlinks it (the decision)                     │ cancel(), the timer, or the │
 *          │                                               │ timer's cancellation by a   │
 *          ▼                                               ▼ shutdown unlinks it         │
 *       GRANTED ──completed, monitor dropped──▶ SUCCESS     ABANDONED ──▶ CANCELLED
 *          │                                                               or TIMED OUT
 *          └──its executor has shut down, or completed behind the primitive's back:
 *             REFUSED (failed with RejectedExecutionException in the first case; the share
 *             is taken back and served on, see WaitQueue.completeGranted)
 * </pre>
 * Leaving {@code QUEUED} happens exactly once, under the queue's monitor, and <em>is</em> the
 * decision: whoever unlinks the waiter (a granter, {@code cancel()}, the timer, a close) owns
 * its outcome. {@code cancel()} takes the monitor and succeeds only if it unlinks the waiter
 * itself, so once a granter has unlinked it a {@code cancel()} returns {@code false} (even
 * before the completion has run) and the caller holds what was granted: the grant is final the
 * moment it is decided. The completion itself (which runs listeners) happens after the monitor
 * is dropped and costs one CAS on the promise (no {@code setUncancellable()} first).
 *
 * <p>Size (compressed oops, JOL-style count): Netty's DefaultPromise is a 12-byte header plus
 * result, executor, listener, listeners (4 each), a short and a boolean: 31, padded to 32
 * bytes. This class adds prev, next, queue and timer (16): 48 bytes, the same as before the
 * promise alone rounded up with one more field. (It was 64 with a back-pointer to its list, a
 * separate chain link and, in the subclasses, the owner.) A subclass field costs 8 more bytes
 * (the object is 8-byte aligned), so {@code AsyncSemaphore}'s waiter for one permit has none
 * and stays at 48; a multi-permit or owed acquire uses a subclass with its count and flag (56).
 * 48 is the floor of this design: the 32-byte promise plus two links for O(1) unlink, the
 * queue for {@code cancel()} and the timeout.
 *
 * <p>A timed waiter is also the one listener of its timer ({@link GenericFutureListener},
 * no field and no allocation: Netty keeps a single listener in the promise's own slot), to end
 * the wait when its executor cancels the timer as it shuts down; see "Timers that die with
 * their executor" in {@link WaitQueue}.
 *
 * <p>Subclasses hold what the primitive needs to know about the wait (a permit count); a
 * primitive whose waits end in a protocol of its own (a condition re-acquires its lock first)
 * overrides {@link #cancel}, {@link #end} and {@link #timeoutNoLongerApplies}.
 */
public class Waiter<V> extends DefaultPromise<V> implements GenericFutureListener<Future<Object>> {

    // Links. While queued: the neighbours in the queue's ring (the oldest's prev is the newest,
    // the newest's next the oldest, a lone waiter links to itself; see "Links" in WaitQueue), so
    // `prev != null` means queued. After leaving it: `next` links the chain of waiters taken out
    // together (to be completed after the monitor is dropped) and `prev` is null. Read and
    // written only by a thread that holds the queue's monitor, or, for `next` of a taken chain,
    // by the one thread walking that chain.
    Waiter<V> prev;
    Waiter<V> next;

    final WaitQueue<?> queue;                   // the queue this waiter stands in (once)
    private volatile ScheduledFuture<?> timer;  // written once by the thread that queued the waiter

    public Waiter(EventExecutor executor, WaitQueue<?> queue) {
        super(executor);
        this.queue = queue;
    }

    /** What the waiter waits for, for messages: {@code "1 permit(s) of AsyncSemaphore@1a2b"}. */
    protected String describeWait() {
        return queue.owner().toString();
    }

    /**
     * The value a granted waiter completes with; {@code index} is its position in the chain
     * granted together (a barrier reports it as the arrival index). {@code null} by default.
     */
    protected V grantedValue(int index) {
        return null;
    }

    /**
     * Cancels the wait if it is still queued: it leaves the queue first (under the monitor), so a
     * listener on this future already sees the queue without it. If it has left already (granted,
     * timed out, failed by a close), even if its completion has not run yet, that outcome stands
     * and this returns {@code false}. ({@code isCancellable()} is Netty's and only says the
     * promise is not completed yet.)
     */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        if (isDone() || !queue.abandon(this)) {
            return false;            // completed, or left the queue: whoever unlinked it decided
        }
        cancelTimer();
        return super.cancel(mayInterruptIfRunning);
    }

    /**
     * Completes a waiter that was granted (or whose own protocol decided it succeeded, as a
     * condition wait that got its lock back). Call without the monitor.
     *
     * @return {@code false} only if someone completed the promise behind the primitive's back
     */
    public final boolean completeGranted(V value) {
        cancelTimer();
        return trySuccess(value);
    }

    /**
     * Whether this waiter's executor has shut down, so that no listener of its promise can run
     * (Netty's {@code DefaultPromise} cannot submit the notification and only logs). One volatile
     * read on Netty's executors. Call without the monitor.
     */
    final boolean executorShutDown() {
        return executor().isShutdown();
    }

    /**
     * Fails a waiter that was granted while its executor had shut down (see
     * {@link WaitQueue#completeGranted}, which has cancelled its timer already): the grant goes
     * to the next waiter instead. Call without the monitor.
     */
    final void completeShutDown() {
        tryFailure(Promises.shutDown(executor(), "the listeners of its wait for " + describeWait()
                + " (the grant went on to the next waiter)"));
    }

    /**
     * Cancels the promise itself, skipping {@link #cancel}'s queue handling: for primitives that
     * override {@code cancel} with a protocol of their own. Call without the monitor.
     */
    public final boolean completeCancelled() {
        cancelTimer();
        return super.cancel(false);
    }

    /** Fails a waiter that was taken out of the queue (close, reset, ...). Call without the monitor. */
    public final boolean completeFailed(Throwable cause) {
        cancelTimer();
        return tryFailure(cause);
    }

    /**
     * Arms the timeout: after {@code nanos} on this waiter's own executor, a waiter still queued
     * leaves the queue and fails with a {@link WaitTimeoutException}. Called after enqueueing,
     * without the monitor (see {@link WaitQueue#armTimer}).
     * <p>The waiter listens to its timer (it is the timer's one listener: no allocation), to
     * learn that the executor cancelled it as it shut down, in which case nothing will ever end
     * the wait on time; see "Timers that die with their executor" in {@link WaitQueue}. An
     * executor already shutting down cancels its timers, so the wait ends at once here.
     */
    final void startTimer(long nanos) {
        EventExecutor executor = executor();
        if (executor.isShuttingDown()) {
            timerLost();
            return;
        }
        ScheduledFuture<?> t;
        try {
            t = executor.schedule(() -> expire(nanos), nanos, TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            // The executor cannot time (ImmediateEventExecutor) or is shutting down: the wait
            // must not stay queued without its timeout, so it ends with that failure.
            end(e);
            return;
        }
        timer = t;
        boolean lost = Timers.listenLost(t, executor, this);
        // Whoever ended the wait may have looked for the timer before it was there, so cancel
        // it ourselves if the timeout no longer applies.
        if (timeoutNoLongerApplies()) {
            cancelTimer();
        } else if (lost) {
            timerLost();              // no one will run it (see Timers.listenLost); end() is idempotent
        }
    }

    /**
     * The timer's listener; not for callers (a waiter is returned as a {@code Future}). A timer
     * is cancelled by this class only after removing this listener ({@link #cancelTimer}), so a
     * cancellation seen here was made by the executor, which cancels its timers as it shuts
     * down (on its own thread, inline: Netty's {@code cancelScheduledTasks}): the timeout will
     * never run, so the wait ends now, if it is still queued, with a
     * {@link RejectedExecutionException}. A timer that ran (succeeded) needs nothing.
     */
    @Override
    public final void operationComplete(Future<Object> t) {
        if (t.isCancelled() && t == timer) {
            timerLost();
        }
    }

    /**
     * The timeout will never run (its executor cancelled the timer, or is shutting down and
     * would): the wait ends at once, if it has not already, through {@link #end}, as a timeout
     * would, so whatever it leaves goes on to the next waiter. Without the monitor.
     */
    private void timerLost() {
        if (timeoutNoLongerApplies()) {
            return;                   // e.g. a plain condition wait already signalled
        }
        end(Promises.shutDown(executor(), "the timeout of its wait for " + describeWait()
                + " (an executor shutting down cancels its timers, so the wait ended at once)"));
    }

    private void expire(long nanos) {
        end(new WaitTimeoutException("timed out after " + formatNanos(nanos) + " waiting for " + describeWait()));
    }

    /**
     * Whether the wait has moved past the point where its timeout matters: by default, once it
     * has left the queue (granted or ended), read under the monitor. The granter unlinks before
     * it calls cancelTimer(), so checking "left" (not "done") closes the gap with a timer
     * published late. Primitives whose waits are decided in another way (a condition wait, once
     * signalled) override this.
     */
    protected boolean timeoutNoLongerApplies() {
        return isDone() || queue.hasLeft(this);
    }

    /**
     * Ends the wait with {@code cause} (a timeout, or a timer that could not be scheduled) if it
     * is still queued. Unlinking it is the decision, so the failure is final: a racing
     * {@code cancel()} returns {@code false}, as it does after a grant. Primitives whose waits
     * must do more before failing (a condition re-acquires its lock first) override this.
     */
    protected void end(Throwable cause) {
        if (queue.abandon(this)) {
            tryFailure(cause);
        }
    }

    /**
     * Cancels the timeout, if one was armed, after removing this waiter from the timer's
     * listeners ({@link Timers#cancel}), so that our own cancel is not taken for the executor's.
     * Nothing for an untimed wait (one volatile read).
     */
    public final void cancelTimer() {
        Timers.cancel(timer, this);
    }

    static String formatNanos(long nanos) {
        if (nanos % 1_000_000 == 0) {
            return nanos / 1_000_000 + " ms";
        }
        return nanos / 1_000 + " µs";
    }
}
