package dev.nettysync.testing;

import java.util.ArrayDeque;
import java.util.Queue;

/**
 * A test executor that runs nothing until told: {@link #execute} queues, {@link #runPending()}
 * runs the queue on the calling thread, which counts as "in the event loop" only while it does.
 * It makes the gap between "a promise was completed from elsewhere" and "its listener ran on
 * the waiter's executor" something a test can stand in and act, deterministically. It cannot
 * time ({@code schedule} throws, as {@code AbstractEventExecutor}'s does). Single test thread only.
 */
public final class ManualExecutor extends TestEventExecutor {
    private final Queue<Runnable> tasks = new ArrayDeque<>();
    private Thread running;

    @Override
    public boolean inEventLoop(Thread thread) {
        return thread == running;
    }

    @Override
    public void execute(Runnable task) {
        tasks.add(task);
    }

    /** Runs queued tasks, including those they queue, until none is left; returns how many ran. */
    public int runPending() {
        int ran = 0;
        running = Thread.currentThread();
        try {
            Runnable r;
            while ((r = tasks.poll()) != null) {
                r.run();
                ran++;
            }
        } finally {
            running = null;
        }
        return ran;
    }

    /** Tasks queued and not run yet. */
    public int pendingTasks() {
        return tasks.size();
    }
}
