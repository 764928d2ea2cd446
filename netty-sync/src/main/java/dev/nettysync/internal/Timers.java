package dev.nettysync.internal;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

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

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Timers.class);

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
     * Cancels {@code timer} (if not {@code null}), and never throws: the callers cancel a timer
     * in the middle of completing waits (a chain of grants, a signal's wake-ups, a cancel that
     * has already unlinked its waiter), and a throw would leave what follows undone, permits
     * handed out to waiters that never complete. Netty's {@code ScheduledFutureTask.cancel()},
     * called from another thread, submits the timer's removal to its executor, which refuses it
     * with a {@link RejectedExecutionException} once shut down (a timer it did not cancel itself,
     * e.g. one whose scheduling task it ran after its last sweep of scheduled tasks): such a
     * timer never runs anyway, so that is ignored. A full bounded task queue hands the removal to
     * the executor's {@code RejectedExecutionHandler}, which may throw anything, as may an
     * executor of the application's own: that is logged. The timer is cancelled all the same
     * (the promise is marked first) or, if not, finds nothing to do when it runs.
     */
    public static void cancelQuietly(ScheduledFuture<?> timer) {
        if (timer == null) {
            return;
        }
        try {
            timer.cancel(false);
        } catch (RejectedExecutionException shutDown) {
            // moot: see above
        } catch (RuntimeException e) {
            logger.warn("Failed to cancel the timer {}; ignored, as it no longer applies", timer, e);
        }
    }
}
