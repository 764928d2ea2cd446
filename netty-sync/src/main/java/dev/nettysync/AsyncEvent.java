package dev.nettysync;

import dev.nettysync.internal.SucceededFutures;
import dev.nettysync.internal.WaitQueue;
import dev.nettysync.internal.Waiter;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A flag that tasks can wait for, in the shape of Python's {@code asyncio.Event}: "the database
 * is ready", "the configuration is loaded". {@link #set()} wakes every current waiter; while the
 * flag is set, {@link #await(EventExecutor)} completes at once; {@link #clear()} lowers it again.
 * <pre>{@code
 * AsyncEvent dbReady = new AsyncEvent();          // set() by the startup code when the DB answers
 *
 * dbReady.await(ctx.executor(), 5, SECONDS).addListener(f -> {
 *     if (f.isSuccess()) serve(ctx, request); else ctx.writeAndFlush(serviceUnavailable());
 * });
 * }</pre>
 *
 * <h2>Semantics</h2>
 * <ul>
 *   <li><b>Thread-safe, never blocking.</b> Shared freely between event loops and threads. Each
 *       waiter's future is created on the executor it names, and completes there.</li>
 *   <li><b>A set wakes everyone who was waiting</b>, even if {@link #clear()} follows before the
 *       woken waiters' listeners have run (asyncio's {@code test_clear_with_waiters}): waking is
 *       decided when {@code set()} runs, not when the listener does.</li>
 *   <li><b>Cancellation and timeouts</b> take the waiter out of the queue in O(1); they affect
 *       no other waiter.</li>
 *   <li><b>How a wait ends</b>: successfully (the event was set), or with a
 *       {@link WaitTimeoutException} (timed variants), or cancelled. A waiter whose executor
 *       shut down while it waited is still woken by {@code set()}: its future succeeds, though
 *       none of its listeners can run (Netty logs that it could not submit them). Unlike a
 *       semaphore's grant, a wake-up gives nothing that could be lost or passed on, so nobody
 *       else is affected and no check is made (none of the cost of
 *       {@link AsyncSemaphore}'s "How a wait ends"). A <em>timed</em> waiter does not wait for
 *       the set: its executor cancels its timeout as it shuts down, and it leaves then, failed
 *       with a {@link java.util.concurrent.RejectedExecutionException} (as on
 *       {@link AsyncSemaphore}, "Executors that shut down").</li>
 *   <li><b>Deep queues</b>: one {@code set()} completes any number of waiters in a loop, without
 *       recursion, after dropping the internal monitor.</li>
 *   <li><b>Waking runs inline.</b> {@code set()} completes the waiters' futures on the calling
 *       thread, so the listeners of waiters on the caller's own executor run inside
 *       {@code set()} (Netty's promise semantics; asyncio always defers them); see "Where the
 *       next holder's listeners run" on {@link AsyncSemaphore}.</li>
 * </ul>
 *
 * <h2>Memory consistency effects</h2>
 * Actions before {@code set()} happen-before the completion of every wait that it ends, and of
 * every wait that finds the flag set.
 */
public final class AsyncEvent {

    /*
     * Implementation notes: `set` is volatile so the fast path of await() and isSet() read it
     * without the monitor; it is written only under the monitor, so a waiter enqueued under the
     * monitor after reading `set == false` is certain to be drained by the next set().
     */
    private volatile boolean set;                                  // written under waiters' monitor
    private final WaitQueue<Waiter<Void>> waiters = new WaitQueue<>(this, null); // its monitor is the lock

    /** Creates an event that is not set. */
    public AsyncEvent() {
    }

    /** Whether the event is set. */
    public boolean isSet() {
        return set;
    }

    /**
     * Sets the event and wakes every waiter queued now. Waiters that arrive while it stays set
     * complete at once. Setting a set event does nothing.
     */
    public void set() {
        Waiter<Void> woken;
        synchronized (waiters) {
            if (set) {
                return;
            }
            set = true;
            waiters.grant(Integer.MAX_VALUE);
            woken = waiters.takeChain();
        }
        waiters.completeGranted(woken);
    }

    /** Clears the event: later waits queue until the next {@link #set()}. */
    public void clear() {
        synchronized (waiters) {
            set = false;
        }
    }

    /**
     * Waits until the event is set.
     *
     * @param executor the caller's executor: the future belongs to it, its listeners run there
     * @return a future that succeeds once the event is set (at once if it is set now)
     */
    public Future<Void> await(EventExecutor executor) {
        return await0(Objects.requireNonNull(executor, "executor"), -1);
    }

    /**
     * As {@link #await(EventExecutor)}, failing with a {@link WaitTimeoutException} if the event
     * is not set within {@code timeout} (timed on {@code executor}).
     */
    public Future<Void> await(EventExecutor executor, long timeout, TimeUnit unit) {
        return await0(Objects.requireNonNull(executor, "executor"), WaitQueue.toNanos(timeout, unit));
    }

    private Future<Void> await0(EventExecutor executor, long timeoutNanos) {
        if (set) {
            return SucceededFutures.of(executor);
        }
        Waiter<Void> w;
        synchronized (waiters) {
            if (set) {
                return SucceededFutures.of(executor);
            }
            if (timeoutNanos == 0) {
                return executor.newFailedFuture(new WaitTimeoutException("no wait allowed and " + this + " is not set"));
            }
            w = new Waiter<>(executor, waiters);
            waiters.enqueue(w);
        }
        return waiters.armTimer(w, timeoutNanos);
    }

    /**
     * A consistent snapshot of the event (trio's {@code statistics()}): whether it is set and how
     * many wait for it, at one instant. For monitoring; O(1).
     */
    public Statistics statistics() {
        synchronized (waiters) {
            return new Statistics(set, waiters.size());
        }
    }

    /**
     * A snapshot of an {@link AsyncEvent} at one instant.
     *
     * @param set     whether the event is set
     * @param waiters the waiters queued (always 0 while it is set)
     */
    public record Statistics(boolean set, int waiters) {
    }

    /** The number of waiters queued now. */
    public int queueLength() {
        return waiters.size();
    }

    /**
     * For tests: the broken invariant, or {@code null}. Exact (under the monitor): a set event
     * has no waiters (set() takes them all, and nobody queues while it is set).
     */
    String brokenInvariant() {
        synchronized (waiters) {
            if (set && !waiters.isEmpty()) {
                return "set, yet " + waiters.size() + " waiter(s) queued";
            }
            return null;
        }
    }

    @Override
    public String toString() {
        return "AsyncEvent@" + Integer.toHexString(System.identityHashCode(this))
                + (set ? "{set}" : "{not set, waiters=" + waiters.size() + '}');
    }
}
