package dev.nettysync.bench.peers;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.ArrayDeque;

/**
 * The baseline a user would write in ten minutes: a FIFO async semaphore made of a
 * {@code synchronized} block, a permit counter and an {@code ArrayDeque<Promise<Void>>}.
 * Promises are completed outside the lock (so it is not a straw man), and a waiter cancelled
 * through its promise is skipped when a release reaches it (trySuccess fails, the permit goes on).
 *
 * <p>{@link #cancel(Promise)} is the straightforward way to take a waiter out of an
 * {@code ArrayDeque}: {@code removeFirstOccurrence}, which is O(queue length). That is the point
 * of comparison for netty-sync's O(1) cancellation in {@code DeepQueueBenchmark}.
 *
 * <p>Thread-safe: every field is guarded by {@code this}.
 */
public final class NaiveAsyncSemaphore {

    private int permits;                                          // guarded by this
    private final ArrayDeque<Promise<Void>> waiters = new ArrayDeque<>(); // guarded by this

    public NaiveAsyncSemaphore(int permits) {
        this.permits = permits;
    }

    public synchronized boolean tryAcquire() {
        if (permits > 0 && waiters.isEmpty()) {
            permits--;
            return true;
        }
        return false;
    }

    public Future<Void> acquire(EventExecutor executor) {
        Promise<Void> p;
        synchronized (this) {
            if (permits > 0 && waiters.isEmpty()) {
                permits--;
                return executor.newSucceededFuture(null);
            }
            p = executor.newPromise();
            waiters.addLast(p);
        }
        return p;
    }

    public void release() {
        for (;;) {
            Promise<Void> head;
            synchronized (this) {
                head = waiters.pollFirst();
                if (head == null) {
                    permits++;
                    return;
                }
            }
            if (head.trySuccess(null)) {     // outside the lock: listeners may run inline
                return;
            }
            // cancelled meanwhile: the permit goes to the next waiter
        }
    }

    /** Cancels a queued waiter: O(queue length) removal from the deque. */
    public boolean cancel(Promise<Void> waiter) {
        synchronized (this) {
            waiters.removeFirstOccurrence(waiter);
        }
        return waiter.cancel(false);
    }

    public synchronized int queueLength() {
        return waiters.size();
    }
}
