package dev.nettysync.testing;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The scaffolding of a randomized stress test, so that the test keeps only its operations and
 * its checks: two event loops (shut down after each test) and two plain threads run the test's
 * random steps, the first failure any of them records is kept, and a counter of unfinished work
 * lets the test wait until everything it started has ended.
 * <pre>{@code
 * @RegisterExtension final StressRun run = new StressRun();
 * ...
 * run.actors(OPS, Actor::new);            // or run.runFor(length, ..., step)
 * run.awaitUnfinished(Duration.ofSeconds(60), () -> { });
 * run.assertNoFailure();
 * ...the test's conservation checks...
 * }</pre>
 *
 * <p>Steps run on the loops in short slices that are re-submitted, so each loop also runs the
 * listeners the steps cause in between; on the threads they run back to back. A step that throws
 * is recorded as the failure and ends its actor. Checks made inside listeners report through
 * {@link #fail(String)}; {@link #assertNoFailure()} rethrows the first one.
 *
 * <p>Thread-safety: every method may be called from any thread, except the {@code actors} and
 * {@code runFor} drivers and {@code awaitUnfinished}, which block and belong to the test thread.
 */
public final class StressRun implements AfterEachCallback {
    private static final int ACTOR_SLICE = 64;
    private static final int THREADS = 2;

    private final List<EventLoop> loops = List.of(new DefaultEventLoop(), new DefaultEventLoop());
    private final AtomicReference<Throwable> failure = new AtomicReference<>();   // first wins, any thread
    private final AtomicLong unfinished = new AtomicLong();   // begin()/end() from any thread
    private volatile long startedAt;                          // written by the test thread as a driver starts
    private final LongAdder stepsRun = new LongAdder();       // actors add each slice they ran, the test thread reads

    /** The two event loops. */
    public List<EventLoop> loops() {
        return loops;
    }

    /** One of the loops, at random. */
    public EventExecutor randomLoop() {
        return loops.get(ThreadLocalRandom.current().nextInt(loops.size()));
    }

    /** Records {@code message} as the run's failure, unless one was recorded before. */
    public void fail(String message) {
        fail(new AssertionError(message));
    }

    /** Records {@code cause} as the run's failure, unless one was recorded before. */
    public void fail(Throwable cause) {
        failure.compareAndSet(null, cause);
    }

    /** Throws the first failure recorded, if any, as the cause of an {@link AssertionError}. */
    public void assertNoFailure() {
        Throwable t = failure.get();
        if (t != null) {
            throw new AssertionError("failure seen while running: " + t, t);
        }
    }

    /** Counts one piece of work the end checks must wait for (a future not complete yet, a hopped release). */
    public void begin() {
        unfinished.incrementAndGet();
    }

    /** Counts one piece of work {@link #begin() begun} as ended. */
    public void end() {
        unfinished.decrementAndGet();
    }

    /** Work begun and not ended yet. */
    public long unfinished() {
        return unfinished.get();
    }

    /** Milliseconds since the last driver ({@code actors} or {@code runFor}) started. */
    public long elapsedMillis() {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt);
    }

    /**
     * Waits, at most {@code timeout}, until no work is unfinished, running {@code nudge} (which
     * may end waits that would otherwise stay pending) every 2 ms while some is.
     */
    public void awaitUnfinished(Duration timeout, Runnable nudge) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (unfinished.get() != 0 && System.nanoTime() < deadline) {
            nudge.run();
            Thread.sleep(2);
        }
    }

    /** Lets every task queued on the loops before this call (listeners included) run. */
    public void drainLoops() {
        for (EventLoop l : loops) {
            l.submit(() -> { }).syncUninterruptibly();
        }
    }

    /**
     * Runs {@code ops} steps in all: one actor, made by {@code actors}, on each loop and on each
     * plain thread, each running a quarter of them; asserts all finished, failing once no actor
     * has run a step for 30 s. (A fixed 3 minutes cut short a run that was still going: the
     * dooming PrimitivesStressTest with 5,000,000 operations at load 60 on two cores.)
     */
    public void actors(long ops, Supplier<? extends Actor> actors) throws InterruptedException {
        long perActor = ops / (loops.size() + THREADS);
        CountDownLatch done = new CountDownLatch(loops.size() + THREADS);
        startedAt = System.nanoTime();
        for (EventLoop loop : loops) {
            Actor a = actors.get();
            a.init(this, perActor, done);
            loop.execute(() -> a.runOnLoop(loop));
        }
        for (int i = 0; i < THREADS; i++) {
            Actor a = actors.get();
            a.init(this, perActor, done);
            new Thread(a::runOnThread, "stress-thread-" + i).start();
        }
        awaitWhileProgressing(done, stepsRun::sum,
                steps -> "actors finished, or ran a step in the last 30 s (" + steps + " of " + actorOps(ops) + " run)");
    }

    /**
     * Waits for {@code done}, failing once {@code progress} has not changed for 30 s, however long
     * the run has taken so far: a lost permit or wake-up stops a stress run for ever, a slow
     * machine or a large {@code -Dnettysync.stress.ops} only slows it (a fixed bound cut such runs
     * short). {@code failure} describes the stall from the last progress read.
     */
    public static void awaitWhileProgressing(CountDownLatch done, LongSupplier progress,
                                             LongFunction<String> failure) throws InterruptedException {
        long last = progress.getAsLong();
        long lastChange = System.nanoTime();
        while (!done.await(1, TimeUnit.SECONDS)) {
            long now = progress.getAsLong();
            if (now != last) {
                last = now;
                lastChange = System.nanoTime();
            }
            assertThat(System.nanoTime() - lastChange).as(failure.apply(now)).isLessThan(SECONDS.toNanos(30));
        }
    }

    /** How many steps {@link #actors} runs for {@code ops}: what divides evenly among the actors. */
    public long actorOps(long ops) {
        long actors = loops.size() + THREADS;
        return ops / actors * actors;
    }

    /**
     * Runs {@code step} for {@code length} on each loop and on two plain threads, then asserts
     * all four stopped (within 30 s more). A loop runs {@code slice} steps, then goes on after
     * {@code loopRest} (at once if zero); a thread runs steps on a random loop and rests, one step
     * in eight, for a random time below {@code threadRest} (never if zero). The argument of {@code step} is the
     * loop the step is for (its own loop on a loop).
     */
    public void runFor(Duration length, int slice, Duration loopRest, Duration threadRest,
                       Consumer<EventLoop> step) throws InterruptedException {
        startedAt = System.nanoTime();
        long end = startedAt + length.toNanos();
        CountDownLatch done = new CountDownLatch(loops.size() + THREADS);
        for (EventLoop loop : loops) {
            loop.execute(new Runnable() {
                @Override
                public void run() {
                    if (System.nanoTime() > end || failure.get() != null) {
                        done.countDown();
                        return;
                    }
                    try {
                        for (int i = 0; i < slice; i++) {
                            step.accept(loop);
                        }
                    } catch (Throwable t) {
                        fail(t);
                    }
                    if (loopRest.isZero()) {
                        loop.execute(this);
                    } else {
                        loop.schedule(this, loopRest.toNanos(), TimeUnit.NANOSECONDS);
                    }
                }
            });
        }
        for (int t = 0; t < THREADS; t++) {
            new Thread(() -> {
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                try {
                    while (System.nanoTime() < end && failure.get() == null) {
                        step.accept(loops.get(rnd.nextInt(loops.size())));
                        if (rnd.nextInt(8) == 0 && !threadRest.isZero()) {
                            LockSupport.parkNanos(rnd.nextLong(threadRest.toNanos()));
                        }
                    }
                } catch (Throwable e) {
                    fail(e);
                }
                done.countDown();
            }, "stress-thread-" + t).start();
        }
        assertThat(done.await(length.toNanos() + SECONDS.toNanos(30), TimeUnit.NANOSECONDS))
                .as("loops and threads stopped").isTrue();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        for (EventLoop l : loops) {
            l.shutdownGracefully(0, 1, SECONDS).syncUninterruptibly();
        }
    }

    /**
     * One actor of {@link #actors}: a run of random {@link #step() steps} on a loop (in slices of
     * 64, re-submitted) or on a plain thread. A step that throws ends the actor and is recorded as
     * the run's failure.
     */
    public abstract static class Actor {
        private StressRun run;          // set before the actor starts, then read by its thread only
        private long opsLeft;           // the actor's thread only
        private boolean onLoop;         // idem
        private CountDownLatch done;    // set before the actor starts

        /** One random operation. */
        protected abstract void step();

        /** Lets the loops run listeners; a no-op on a loop, where yielding would be a blocking call. */
        protected final void backOff() {
            if (!onLoop) {
                Thread.yield();
            }
        }

        private void init(StressRun run, long ops, CountDownLatch done) {
            this.run = run;
            this.opsLeft = ops;
            this.done = done;
        }

        private void runOnLoop(EventLoop loop) {
            onLoop = true;
            try {
                for (int i = 0; i < ACTOR_SLICE && opsLeft > 0; i++, opsLeft--) {
                    step();
                }
            } catch (Throwable t) {
                run.fail(t);
                opsLeft = 0;
            }
            run.stepsRun.add(ACTOR_SLICE);
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
                    if ((opsLeft & (ACTOR_SLICE - 1)) == 0) {
                        run.stepsRun.add(ACTOR_SLICE);
                    }
                }
            } catch (Throwable t) {
                run.fail(t);
            }
            done.countDown();
        }
    }
}
