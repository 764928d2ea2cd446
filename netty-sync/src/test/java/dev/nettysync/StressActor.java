package dev.nettysync;

import io.netty.channel.EventLoop;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * One actor of a randomized stress test: a loop of random {@link #step() steps}, run either on an
 * event loop (in slices of 64 steps, re-submitted, so the loop runs listeners in between) or on
 * a plain thread. A step that throws ends the actor and is recorded as the test's failure.
 * Shared by {@link SemaphoreStressTest} and {@link PrimitivesStressTest}.
 */
abstract class StressActor {
    private long opsLeft;
    private boolean onLoop;
    private CountDownLatch done;
    private AtomicReference<Throwable> failure;

    /** One random operation. */
    protected abstract void step();

    /** Lets the loops run listeners; a no-op on a loop, where yielding would be a blocking call. */
    protected final void backOff() {
        if (!onLoop) {
            Thread.yield();
        }
    }

    /**
     * Runs {@code perActor} steps in each of one actor per loop and one per plain thread, and
     * waits (at most 3 minutes) until all have finished.
     *
     * @return whether all finished in time
     */
    static boolean runAll(EventLoop[] loops, int threads, long perActor, Supplier<? extends StressActor> actors,
                          AtomicReference<Throwable> failure) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(loops.length + threads);
        for (EventLoop loop : loops) {
            StressActor a = actors.get();
            a.init(perActor, done, failure);
            loop.execute(() -> a.runOnLoop(loop));
        }
        for (int i = 0; i < threads; i++) {
            StressActor a = actors.get();
            a.init(perActor, done, failure);
            new Thread(a::runOnThread, "stress-thread-" + i).start();
        }
        return done.await(3, TimeUnit.MINUTES);
    }

    private void init(long ops, CountDownLatch done, AtomicReference<Throwable> failure) {
        this.opsLeft = ops;
        this.done = done;
        this.failure = failure;
    }

    private void runOnLoop(EventLoop loop) {
        onLoop = true;
        try {
            for (int i = 0; i < 64 && opsLeft > 0; i++, opsLeft--) {
                step();
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
            opsLeft = 0;
        }
        if (opsLeft > 0) {
            loop.execute(() -> runOnLoop(loop));
        } else {
            done.countDown();
        }
    }

    private void runOnThread() {
        try {
            for (; opsLeft > 0; opsLeft--) {
                step();
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
        done.countDown();
    }
}
