package dev.nettysync.testing;

import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * For model checking the end of a timed wait whose executor shuts down: runs tasks inline,
 * always "in its loop"; its timers never fire, and {@link #cancelOldestTimer()} does to one of
 * them what a Netty executor's shutdown does to each ({@code cancelScheduledTasks}): cancels it,
 * its listeners notified inline on the calling thread. Thread-safe.
 */
public final class SweptTimersExecutor extends InlineExecutor {
    private final ConcurrentLinkedQueue<ScheduledFuture<?>> scheduled = new ConcurrentLinkedQueue<>();

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        NeverFiringTimer t = new NeverFiringTimer();
        scheduled.add(t);
        return t;
    }

    /** Cancels the oldest timer not cancelled by this yet (it may be cancelled already). */
    public void cancelOldestTimer() {
        ScheduledFuture<?> t = scheduled.poll();
        if (t != null) {
            t.cancel(false);
        }
    }
}
