package dev.nettysync.redis;

import dev.nettysync.internal.Waiter;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * Timers on an executor that may shut down, kept the way netty-sync's own waits keep theirs
 * (its {@code WaitQueue}, "Timers that die with their executor"). A Netty executor that shuts
 * down cancels every scheduled task (on its own thread, at each turn of its shutdown loop, a
 * graceful shutdown's quiet period included), so a timer there may never run. Its owner is its
 * one listener and removes itself before cancelling it ({@link #cancel}): a cancellation the
 * listener hears was made by the executor, and whatever the timer was to do must be done, or
 * given up, now. Used for the callers' timeouts and reservations (on their executors), and for
 * the semaphores' polls and the lease renewals (on Lettuce's computation executor).
 *
 * <p>Not thread-safe by itself: each timer is armed by one thread; cancelling is safe from any.
 */
final class Timers {

    private Timers() {
    }

    /**
     * Makes {@code listener} the listener of {@code timer}, just scheduled on {@code executor},
     * and says whether the timer will never run: cancelled already (by a sweep that came before
     * the listener was added, whose notification from this thread a shut-down executor refuses),
     * or its executor shut down (a timer scheduled from another thread after the executor's last
     * sweep is neither run nor cancelled). The caller then acts as the listener would.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static boolean listenLost(ScheduledFuture<?> timer, EventExecutor executor, GenericFutureListener<Future<Object>> listener) {
        ((Future) timer).addListener(listener);
        return timer.isCancelled() || executor.isShutdown();
    }

    /**
     * Cancels {@code timer} (if not {@code null}) after removing {@code listener}, so that the
     * listener never takes our own cancel for the executor's, and no notification task is
     * submitted to the executor when cancelling from another thread; a shut-down executor's
     * refusal of the timer's removal is ignored (such a timer never runs anyway).
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static void cancel(ScheduledFuture<?> timer, GenericFutureListener<Future<Object>> listener) {
        if (timer != null) {
            ((Future) timer).removeListener(listener);
            Waiter.cancelQuietly(timer);
        }
    }
}
