package dev.nettysync.bench.peers;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

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
 *
 * <p>With {@code oneAtomicPerCall}, every {@code tryAcquire}, {@code acquire} and
 * {@code release} also makes one uncontended compare-and-set ({@code floorAtomic}): the least
 * synchronization any thread-safe semaphore needs, since a call that changes what other threads
 * see must make at least one atomic read-modify-write. It is still not thread-safe (the CAS
 * guards nothing); it prices that minimum on this machine, so that a goal can be compared with
 * "the promise's own work plus the least a shareable semaphore must do".
 */
public final class LoopConfinedSemaphore {

    private int permits;
    private final ArrayDeque<Promise<Void>> waiters = new ArrayDeque<>();
    private EventExecutor lastExecutor;      // a one-entry cache of the succeeded future
    private Future<Void> lastSucceeded;
    private final AtomicInteger atomic;      // null: the plain floor; else one CAS per call

    public LoopConfinedSemaphore(int permits) {
        this(permits, false);
    }

    public LoopConfinedSemaphore(int permits, boolean oneAtomicPerCall) {
        this.permits = permits;
        this.atomic = oneAtomicPerCall ? new AtomicInteger() : null;
    }

    /** The one uncontended CAS of a {@code floorAtomic} call (it always succeeds: one thread). */
    private void atomicStep() {
        AtomicInteger a = atomic;
        if (a != null) {
            int v = a.get();
            if (!a.compareAndSet(v, v + 1)) {
                throw new IllegalStateException("LoopConfinedSemaphore used by more than one thread");
            }
        }
    }

    public boolean tryAcquire() {
        atomicStep();
        return tryAcquire0();
    }

    private boolean tryAcquire0() {
        if (permits > 0 && waiters.isEmpty()) {
            permits--;
            return true;
        }
        return false;
    }

    public Future<Void> acquire(EventExecutor executor) {
        atomicStep();
        if (tryAcquire0()) {
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
        atomicStep();
        Promise<Void> head = waiters.pollFirst();
        if (head == null) {
            permits++;
        } else {
            head.setSuccess(null);
        }
    }
}
