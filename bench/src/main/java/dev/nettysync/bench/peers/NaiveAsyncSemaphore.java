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
 * An acquire that finds a free permit returns a cached succeeded future of the caller's executor
 * (a small table with two candidate slots per executor, as netty-sync's cache has), so neither
 * side of the uncontended rows pays an allocation the other avoids.
 *
 * <p>{@link #cancel(Promise)} is the straightforward way to take a waiter out of an
 * {@code ArrayDeque}: {@code removeFirstOccurrence}, which is O(queue length). That is the point
 * of comparison for netty-sync's O(1) cancellation in {@code DeepQueueBenchmark}.
 *
 * <p>Thread-safe: {@code permits} and {@code waiters} are guarded by {@code this}; the succeeded
 * future cache is written racily, which is benign (see {@link #succeeded}).
 */
public final class NaiveAsyncSemaphore {

    private static final int CACHE_SLOTS = 256;
    private static final int MASK = CACHE_SLOTS - 1;

    private int permits;                                          // guarded by this
    private final ArrayDeque<Promise<Void>> waiters = new ArrayDeque<>(); // guarded by this
    /** Succeeded futures by executor identity hash; racy writes of immutable entries, a miss allocates. */
    private final Succeeded[] succeeded = new Succeeded[CACHE_SLOTS];

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
                return succeeded(executor);
            }
            p = executor.newPromise();
            waiters.addLast(p);
        }
        return p;
    }

    /**
     * A succeeded future whose listeners run on {@code executor}, shared by every caller (a
     * succeeded future is immutable: listeners added to it run at once and are not stored). A slot
     * holds an immutable entry with final fields, so a racing reader sees it whole or not at all.
     */
    private Future<Void> succeeded(EventExecutor executor) {
        int hash = System.identityHashCode(executor);
        int first = hash & MASK;
        Succeeded s = succeeded[first];
        if (s != null && s.executor == executor) {
            return s.future;
        }
        int second = (hash >>> 8) & MASK;                // the next byte of the hash: a second chance
        s = succeeded[second];
        if (s == null || s.executor != executor) {
            s = new Succeeded(executor, executor.newSucceededFuture(null));
            succeeded[succeeded[first] == null ? first : second] = s;
        }
        return s.future;
    }

    private record Succeeded(EventExecutor executor, Future<Void> future) {
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

    /**
     * Releases {@code n} permits: takes up to {@code n} waiters off the queue under one lock, then
     * completes them outside it; a waiter that was cancelled meanwhile passes its permit on (to
     * the next waiter, or back to the counter).
     */
    public void release(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("permits must be >= 1, was " + n);
        }
        while (n > 0) {
            Promise<?>[] granted;
            int k = 0;
            synchronized (this) {
                granted = new Promise<?>[Math.min(n, waiters.size())];
                while (k < granted.length) {
                    granted[k++] = waiters.pollFirst();
                }
                permits += n - k;       // permits nobody waits for
            }
            n = 0;
            for (int i = 0; i < k; i++) {
                if (!granted[i].trySuccess(null)) {
                    n++;                // cancelled meanwhile: its permit goes on
                }
            }
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
