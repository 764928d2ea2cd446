package dev.nettysync.internal;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.RejectedExecutionException;

/**
 * Timers on an executor that may shut down, kept one way by every wait that times something
 * (the primitives' timeouts through {@link Waiter}, and the other modules' timeouts, polls and
 * renewals). A Netty executor that shuts down cancels every scheduled task (on its own thread,
 * at each turn of its shutdown loop, a graceful shutdown's quiet period included), so a timer
 * there may never run; see "Timers that die with their executor" in {@link WaitQueue}.
 *
 * <p>The protocol: the timer's owner is its one listener ({@link #listenLost}), and removes
 * itself before it cancels the timer ({@link #cancel}), so a cancellation the listener hears
 * was made by the executor, and whatever the timer was to do must be done, or given up, now.
 *
 * <p>Stateless; each timer is armed by one thread, and may be cancelled from any.
 */
public final class Timers {

    private Timers() {
    }

    /**
     * Makes {@code listener} the listener of {@code timer}, just scheduled on {@code executor},
     * and says whether the timer will never run: cancelled already (by a sweep that came before
     * the listener was added, whose notification from this thread a shut-down executor refuses),
     * or its executor shut down (a timer scheduled from another thread goes through a task that
     * the executor's final pass may run after its last sweep, so it is neither run nor
     * cancelled). The caller then acts as the listener would; a listener that may also hear of
     * it must be idempotent.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static boolean listenLost(ScheduledFuture<?> timer, EventExecutor executor,
                                     GenericFutureListener<? extends Future<?>> listener) {
        ((Future) timer).addListener(listener);
        return timer.isCancelled() || executor.isShutdown();
    }

    /**
     * Cancels {@code timer} (nothing if {@code null}) after removing {@code listener}, so that
     * the listener never takes our own cancel for the executor's, and no notification task is
     * submitted to the executor when cancelling from another thread.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static void cancel(ScheduledFuture<?> timer, GenericFutureListener<? extends Future<?>> listener) {
        if (timer != null) {
            ((Future) timer).removeListener(listener);
            cancelQuietly(timer);
        }
    }

    /**
     * Cancels {@code timer} (if not {@code null}), ignoring the refusal of an executor that has
     * shut down: Netty's {@code ScheduledFutureTask.cancel()}, called from another thread,
     * submits the timer's removal to its executor, which throws a
     * {@link RejectedExecutionException} once shut down (for a timer it did not cancel itself,
     * e.g. one whose scheduling task it ran after its last sweep of scheduled tasks). Such a
     * timer never runs anyway; the throw must not stop the completion that cancels it.
     */
    public static void cancelQuietly(ScheduledFuture<?> timer) {
        if (timer == null) {
            return;
        }
        try {
            timer.cancel(false);
        } catch (RejectedExecutionException shutDown) {
            // moot: see above
        }
    }
}
