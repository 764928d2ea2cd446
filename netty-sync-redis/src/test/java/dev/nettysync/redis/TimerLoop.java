package dev.nettysync.redis;

import io.netty.channel.DefaultEventLoop;

import java.util.concurrent.TimeUnit;

/**
 * A caller's event loop (a real {@link DefaultEventLoop}) that says whether it still holds a
 * scheduled task. A timed wait arms its timeout there; a wait that has ended, however it ended,
 * must leave none behind: the timer holds the wait, and a granted wait holds its permit, which
 * would then stay reachable (its lease renewed, never collected) until the timeout fires.
 */
final class TimerLoop extends DefaultEventLoop {

    /**
     * Whether a task is scheduled on this loop. Asked on the loop, after the tasks queued before
     * (a timer cancelled from another thread is taken off the loop's queue by such a task).
     */
    boolean holdsATimer() throws Exception {
        return submit(() -> nextScheduledTaskDeadlineNanos() != -1).get(5, TimeUnit.SECONDS);   // -1: none
    }

    /** Shuts the loop down and waits until it has. */
    void close() {
        shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
