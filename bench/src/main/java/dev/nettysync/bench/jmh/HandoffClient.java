package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.Continuation;
import dev.nettysync.bench.peers.SemaphorePeer;
import io.netty.channel.EventLoop;

import java.util.concurrent.CountDownLatch;

/**
 * A client of the handoff benchmarks ({@link ContendedHandoffBenchmark},
 * {@link SameLoopHandoffBenchmark}): it lives on one loop, waits for a permit of a shared
 * semaphore there, and each time it holds one gives it up and waits again, until it has made its
 * {@code quota} of acquisitions in the round; then it counts {@code done} down once.
 *
 * <p>{@code requeueFirst} says how it gives its permit up: acquire again, then release (it is
 * back in the queue before anyone else can be served, so the queue order never changes), or
 * release, then acquire again (the natural order in a handler).
 *
 * <p>Threading: {@link #reset} runs on the benchmark thread before the round's first wait is
 * made, which publishes it to the loop; {@link #run} runs on the loop only, and the benchmark
 * thread reads {@link #acquired} and {@link #wrongThread} after {@code done}.
 */
final class HandoffClient extends Continuation {
    private final SemaphorePeer sem;
    private final EventLoop loop;
    private final SemaphorePeer.Waiting waiting;
    private final boolean requeueFirst;
    private int quota;             // written by reset, before the round starts
    private CountDownLatch done;   // same
    int acquired;                  // written on the loop only, read after `done`
    int wrongThread;               // written on the loop only, read after `done`
    private int depth;             // nesting of run(), written on the loop only
    private boolean reported;      // done counted down; written by reset and on the loop

    HandoffClient(SemaphorePeer sem, EventLoop loop, boolean requeueFirst) {
        this.sem = sem;
        this.loop = loop;
        this.waiting = sem.on(loop);
        this.requeueFirst = requeueFirst;
    }

    /** Prepares a round of {@code quota} acquisitions that ends with one count-down of {@code done}. */
    void reset(int quota, CountDownLatch done) {
        this.quota = quota;
        this.done = done;
        this.acquired = 0;
        this.reported = false;
    }

    /** Makes the round's first wait (or, with a quota of 0, reports at once). */
    void start() {
        if (quota == 0) {
            reported = true;
            done.countDown();
        } else {
            waiting.acquireThen(this);
        }
    }

    @Override
    public void run() {            // holds a permit
        if (!loop.inEventLoop()) {
            wrongThread++;
        }
        acquired++;
        depth++;
        try {
            if (acquired == quota) {
                sem.release();
            } else if (requeueFirst) {
                waiting.acquireThen(this);     // completes at once (nested) only if a permit is free
                sem.release();
            } else {
                sem.release();
                waiting.acquireThen(this);
            }
        } finally {
            depth--;
        }
        // Only the outermost frame reports the end: a nested run that reached the quota
        // returns into a frame that still has its release to make.
        if (depth == 0 && acquired == quota && !reported) {
            reported = true;
            done.countDown();
        }
    }

    /**
     * After a round: fails if a client's completion ran off its loop or the semaphore does not
     * have {@code permits} free; returns the acquisitions the clients counted.
     */
    static long checkRound(String impl, HandoffClient[] clients, SemaphorePeer sem, int permits) {
        long granted = 0;
        for (HandoffClient c : clients) {
            if (c.wrongThread != 0) {
                throw new IllegalStateException(impl + ": " + c.wrongThread + " completions ran off the waiter's loop");
            }
            granted += c.acquired;
        }
        int free = sem.countFreePermits();
        if (free != permits) {
            throw new IllegalStateException(impl + ": " + free + " permits free after the round, expected " + permits);
        }
        return granted;
    }
}
