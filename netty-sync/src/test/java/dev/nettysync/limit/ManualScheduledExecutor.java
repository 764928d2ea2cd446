package dev.nettysync.limit;

import dev.nettysync.testing.NeverShutsDown;
import io.netty.util.concurrent.AbstractScheduledEventExecutor;
import io.netty.util.concurrent.Ticker;

import java.util.ArrayDeque;
import java.util.Queue;

/**
 * A test executor that runs nothing until told, with timers on a ticker the test moves
 * ({@link io.netty.util.concurrent.MockTicker}): {@link #execute} queues, {@link #runPending()}
 * runs the queue and every timer whose deadline has come on the calling thread, which counts as
 * "in the event loop" only while it does. Never shuts down ({@link NeverShutsDown}; not a
 * {@code TestEventExecutor}, whose base has no timer queue). Single test thread only.
 */
final class ManualScheduledExecutor extends AbstractScheduledEventExecutor implements NeverShutsDown {
    private final Ticker ticker;
    private final Queue<Runnable> tasks = new ArrayDeque<>();
    private Thread running;

    ManualScheduledExecutor(Ticker ticker) {
        this.ticker = ticker;
    }

    @Override
    public Ticker ticker() {
        return ticker;
    }

    @Override
    public boolean inEventLoop(Thread thread) {
        return thread == running;
    }

    @Override
    public void execute(Runnable task) {
        tasks.add(task);
    }

    /** Runs queued tasks and due timers, including those they add, until none is left. */
    int runPending() {
        int ran = 0;
        running = Thread.currentThread();
        try {
            for (;;) {
                Runnable r = tasks.poll();
                if (r == null) {
                    r = pollScheduledTask(getCurrentTimeNanos());
                }
                if (r == null) {
                    return ran;
                }
                r.run();
                ran++;
            }
        } finally {
            running = null;
        }
    }

    /** Whether a timer (cancelled ones excluded once {@link #runPending()} removed them) is armed. */
    boolean hasTimers() {
        return nextScheduledTaskNano() != -1;
    }

    @Override
    @Deprecated
    public void shutdown() {
    }
}
