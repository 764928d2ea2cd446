package dev.nettysync.adaptive;

import io.netty.util.concurrent.AbstractEventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;

import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.TimeUnit;

/**
 * A test executor that runs nothing until told: {@link #execute} queues, {@link #runPending()}
 * runs the queue on the calling thread, which counts as "in the event loop" only while it does.
 * It opens the gap between "the semaphore granted" and "the listener ran on the waiter's
 * executor" for a test to act in. Single test thread only.
 */
final class ManualExecutor extends AbstractEventExecutor {
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
    int runPending() {
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

    @Override
    public boolean isShuttingDown() {
        return false;
    }

    @Override
    public Future<?> shutdownGracefully(long quietPeriod, long timeout, TimeUnit unit) {
        return ImmediateEventExecutor.INSTANCE.newSucceededFuture(null);
    }

    @Override
    public Future<?> terminationFuture() {
        return ImmediateEventExecutor.INSTANCE.newSucceededFuture(null);
    }

    @Override
    @Deprecated
    public void shutdown() {
    }

    @Override
    public boolean isShutdown() {
        return false;
    }

    @Override
    public boolean isTerminated() {
        return false;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return false;
    }
}
