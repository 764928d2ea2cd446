package dev.nettysync.bench.peers;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.ArrayDeque;

/**
 * Not a peer but a floor: the least a FIFO semaphore that hands out Netty promises can cost, so
 * that the handoff rows can say how much of their time is the promise's own (allocation,
 * listener registration, completion, notification) and how much is the semaphore's. No lock,
 * no atomic, no cancellation, no timeout: a counter and an {@code ArrayDeque} of promises.
 *
 * <p><b>Not thread-safe</b>: valid only where every call comes from one thread, as in
 * {@code SameLoopHandoffBenchmark} (everything runs on the one loop) and the single-threaded
 * {@code releaseAndRequeue} row of {@code DeepQueueBenchmark}. No thread-safe semaphore can be
 * cheaper than this on the same promise type; a gap to it is the price of being shareable.
 */
public final class LoopConfinedSemaphore {

    private int permits;
    private final ArrayDeque<Promise<Void>> waiters = new ArrayDeque<>();
    private EventExecutor lastExecutor;      // a one-entry cache of the succeeded future
    private Future<Void> lastSucceeded;

    public LoopConfinedSemaphore(int permits) {
        this.permits = permits;
    }

    public boolean tryAcquire() {
        if (permits > 0 && waiters.isEmpty()) {
            permits--;
            return true;
        }
        return false;
    }

    public Future<Void> acquire(EventExecutor executor) {
        if (tryAcquire()) {
            if (lastExecutor != executor) {
                lastSucceeded = executor.newSucceededFuture(null);
                lastExecutor = executor;
            }
            return lastSucceeded;
        }
        Promise<Void> p = executor.newPromise();
        waiters.addLast(p);
        return p;
    }

    public void release() {
        Promise<Void> head = waiters.pollFirst();
        if (head == null) {
            permits++;
        } else {
            head.setSuccess(null);
        }
    }
}
