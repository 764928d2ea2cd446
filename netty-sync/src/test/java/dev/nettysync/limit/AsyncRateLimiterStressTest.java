package dev.nettysync.limit;

import dev.nettysync.testing.DoomedExecutors;
import dev.nettysync.testing.StressRun;
import io.netty.util.concurrent.EventExecutor;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Ticker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress on real time: two event loops and two plain threads hammer one
 * {@link AsyncRateLimiter} of at most {@value #MAX_PENDING} waiters with tryAcquire, untimed and
 * timed acquires of 1..3 permits, and
 * cancels of random outstanding waits, for about 2 s. Then every wait is ended and the run is
 * checked: every admission's time (the limiter's clock at the decision, kept in the permit) fits
 * the rate in <em>every</em> window, {@code permits(window) <= burst + length / T}; every future
 * ended exactly one way, a cancel that returned true never came with a permit; timed waits
 * timed out; the limiter's invariants hold and its queue is empty.
 *
 * <p>The limiter's clock is a {@link StallingTicker}: it stands still for a few milliseconds
 * now and then, so grants come late in real time while the waits' timeouts, scheduled on the
 * loops, do not. With the system clock no timed wait would ever time out here (a wait longer
 * than its timeout is refused up front, and a reserved time only moves later when a grant is
 * delayed past the burst's slack), and the race of a timeout with a grant and a cancel would go
 * untested. The queue is bounded so that it stays shorter than many timeouts: unbounded, the
 * untimed waits pile up seconds of reservations and every timed one is refused up front.
 */
class AsyncRateLimiterStressTest {
    private static final Duration RUN = Duration.ofMillis(2_000);
    private static final int RATE = 20_000;   // T = 50 µs
    private static final int BURST = 20;
    private static final int MAX_PENDING = 32; // at most ~3 ms of queue, so timed waits (0-5 ms) do queue

    @RegisterExtension final StressRun run = new StressRun();
    @RegisterExtension final DoomedExecutors doomed = new DoomedExecutors();

    private final AsyncRateLimiter limiter = AsyncRateLimiter.builder(RATE, Duration.ofSeconds(1))
            .burst(BURST).maxPending(MAX_PENDING).ticker(new StallingTicker()).build();
    private final Queue<long[]> admissions = new ConcurrentLinkedQueue<>();   // {admittedAt, permits}
    private final Queue<Future<Permit>> waits = new ConcurrentLinkedQueue<>();
    private final Queue<Future<Permit>> wonCancels = new ConcurrentLinkedQueue<>();
    private final AtomicLong refusals = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong grantedWaits = new AtomicLong();
    private final ThreadLocal<List<Future<Permit>>> recent = ThreadLocal.withInitial(ArrayList::new);
    private volatile boolean dooming;                                          // set before the run
    private final Queue<DoomedExecutors.Tracked<Permit>> doomedWaits = new ConcurrentLinkedQueue<>();

    @Test
    void noWindowEverAdmitsMoreThanTheRateAllowsWhateverIsCancelled() throws Exception {
        runAndCheck();
    }

    /**
     * A quarter of the waits are on executors that are shut down now and then (one step in
     * {@value #DOOM_EVERY}), the last one after the run, with waits on them queued. Besides the
     * checks of the other run: the queue drains by itself afterwards (no head left on a dead
     * executor stalls the waiters behind it), every wait on a dead executor ended, and some
     * were refused with a RejectedExecutionException. Some of those waits (one queued just before
     * each shutdown) have a timeout of an hour: some must have ended by their executor cancelling
     * their timeout, not only as the head.
     */
    @Test
    void theQueueNeverStallsOnAHeadWhoseExecutorShutDown() throws Exception {
        dooming = true;
        runAndCheck();
    }

    private static final int DOOM_EVERY = 3_000;

    private void runAndCheck() throws Exception {
        // loops pause 20 µs between slices and threads now and then, so the rate can refill
        run.runFor(RUN, 8, Duration.ofNanos(20_000), Duration.ofNanos(200_000), this::step);
        if (dooming) {
            doomed.replace();                              // the last one too, waits queued on it
            long deadline = System.nanoTime() + SECONDS.toNanos(10);
            while (limiter.queueLength() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(limiter.queueLength()).as("the queue drained by itself: no head on a dead executor"
                    + " stalls it (%s)", limiter.brokenInvariant()).isZero();
            doomed.shutdownAllAndAwait(Duration.ofSeconds(10));
            long rejected = 0;
            long orphaned = 0;
            long endedByShutdown = 0;
            for (DoomedExecutors.Tracked<Permit> t : doomedWaits) {
                assertThat(t.future.isDone()).as("a wait on a shut-down executor ended: %s", t.future).isTrue();
                if (t.future.cause() instanceof java.util.concurrent.RejectedExecutionException) {
                    rejected++;
                }
                if (t.endedByItsTimersCancellation()) {
                    endedByShutdown++;             // a timed wait that was not the head: only its timeout's end saw it
                }
                if (t.future.isSuccess() && t.claim()) {
                    orphaned++;                            // a rate spent: nothing to give back
                }
            }
            System.out.printf("rate stress (dooming): %d waits on %d executors shut down: %d rejected (%d of them"
                    + " timed waits ended as their executor cancelled their timeout), %d granted with no listener run%n",
                    doomedWaits.size(), doomed.shutdowns(), rejected, endedByShutdown, orphaned);
            assertThat(doomed.shutdowns()).as("the test did shut executors down").isGreaterThan(5);
            assertThat(rejected).as("waits on shut-down executors were refused").isPositive();
            assertThat(endedByShutdown).as("timed waits ended when their executor cancelled their timeouts").isPositive();
        }

        // End every wait still queued, then let every completion run.
        for (Future<Permit> f : waits) {
            if (f.cancel(false)) {
                wonCancels.add(f);
            }
        }
        for (Future<Permit> f : waits) {
            f.awaitUninterruptibly(10, SECONDS);
        }
        run.drainLoops();                                  // listeners queued before this have run
        run.assertNoFailure();

        assertThat(limiter.brokenInvariant()).isNull();
        assertThat(limiter.queueLength()).isZero();
        long granted = 0;
        for (Future<Permit> f : waits) {
            assertThat(f.isDone()).isTrue();
            if (f.isSuccess()) {
                granted++;
            }
        }
        assertThat(grantedWaits.get()).as("each granted wait recorded its permit once").isEqualTo(granted);
        for (Future<Permit> f : wonCancels) {
            assertThat(f.isCancelled()).as("a cancel that returned true left a cancelled future").isTrue();
        }
        List<long[]> sorted = new ArrayList<>(admissions);
        sorted.sort(Comparator.comparingLong(a -> a[0]));
        long t = limiter.intervalNanos();
        long tau = BURST * t;
        long c = 0;
        long minStart = Long.MAX_VALUE;
        long permits = 0;
        for (long[] a : sorted) {
            minStart = Math.min(minStart, c * t - a[0]);
            c += a[1];
            permits += a[1];
            long excess = (c * t - a[0]) - minStart;     // max over windows ending here of permits*T - length
            assertThat(excess).as("a window ending at %d ns admitted more than burst + length/T", a[0])
                    .isLessThanOrEqualTo(tau);
        }
        long elapsed = sorted.isEmpty() ? 0 : sorted.get(sorted.size() - 1)[0];
        assertThat(permits).as("total bound").isLessThanOrEqualTo(BURST + elapsed / t);
        assertThat(granted).as("waiters were granted").isPositive();
        assertThat(wonCancels).as("cancels won").isNotEmpty();
        assertThat(timeouts.get()).as("timed waits timed out behind the clock's stalls").isPositive();
        System.out.printf("rate stress: %d admissions (%d permits, %d by waiting), %d refusals, %d timeouts,"
                        + " %d cancels won, %.0f permits/s over %d ms (rate %d/s)%n",
                sorted.size(), permits, granted, refusals.get(), timeouts.get(), wonCancels.size(),
                permits * 1e9 / Math.max(1, elapsed), elapsed / 1_000_000, RATE);
    }

    private void step(EventLoop loop) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        int n = 1 + rnd.nextInt(3);
        if (dooming && rnd.nextInt(DOOM_EVERY) == 0) {
            // queued (most often) just before its executor shuts down: a timeout only the shutdown cuts short
            trackDoomed(limiter.acquire(doomed.current(), n, 1, TimeUnit.HOURS), n);
            doomed.replace();
            return;
        }
        if (dooming && rnd.nextInt(4) == 0) {
            EventExecutor d = doomed.current();
            int kind = rnd.nextInt(3);
            trackDoomed(kind == 0 ? limiter.acquire(d, n)
                    : kind == 1 ? limiter.acquire(d, n, rnd.nextInt(5_000), TimeUnit.MICROSECONDS)
                    : limiter.acquire(d, n, 1, TimeUnit.HOURS), n);
            return;
        }
        switch (rnd.nextInt(6)) {
            case 0 -> {
                Permit p = limiter.tryAcquire(n);
                if (p != null) {
                    record(p, n);
                } else {
                    refusals.incrementAndGet();
                }
            }
            case 1, 2 -> track(limiter.acquire(loop, n), n);
            case 3 -> track(limiter.acquire(loop, n, rnd.nextInt(5_000), TimeUnit.MICROSECONDS), n);
            default -> {
                // cancel a random recent wait of this thread (a granted one refuses)
                List<Future<Permit>> mine = recent.get();
                if (!mine.isEmpty()) {
                    Future<Permit> f = mine.get(rnd.nextInt(mine.size()));
                    if (f.cancel(false)) {
                        wonCancels.add(f);
                    }
                }
            }
        }
    }

    /** A wait on a doomed executor: its listener may never run, so it is settled at the end. */
    private void trackDoomed(Future<Permit> f, int n) {
        DoomedExecutors.Tracked<Permit> t = new DoomedExecutors.Tracked<>(f, n);
        doomedWaits.add(t);
        f.addListener(done -> {
            if (done.isSuccess() && t.claim()) {
                record((Permit) done.getNow(), n);
            }
        });
        if (f.isSuccess() && t.claim()) {
            record(f.getNow(), n);
        }
    }

    private void track(Future<Permit> f, int n) {
        waits.add(f);
        f.addListener(done -> {
            if (done.isSuccess()) {
                grantedWaits.incrementAndGet();
                record((Permit) done.getNow(), n);
            } else if (done.cause() instanceof RateLimitedException
                    || done.cause() instanceof dev.nettysync.QueueFullException) {
                refusals.incrementAndGet();
            } else if (done.cause() instanceof dev.nettysync.WaitTimeoutException) {
                timeouts.incrementAndGet();
            } else if (!done.isCancelled()) {
                run.fail(done.cause());
            }
        });
        List<Future<Permit>> mine = recent.get();
        if (mine.size() == 32) {
            mine.remove(0);
        }
        mine.add(f);
    }

    /**
     * {@code System.nanoTime()} that stands still for {@link #STALL} at the start of every
     * {@link #PERIOD}: monotonic, lock-free, a pure function of the system clock. While it stands
     * still nothing new becomes due, as if the loop that runs the head timer had stalled.
     */
    static final class StallingTicker implements Ticker {
        static final long PERIOD = TimeUnit.MILLISECONDS.toNanos(50);
        static final long STALL = TimeUnit.MILLISECONDS.toNanos(3);
        private final long start = System.nanoTime();

        @Override
        public long initialNanoTime() {
            return start;
        }

        @Override
        public long nanoTime() {
            long e = System.nanoTime() - start;
            return start + e / PERIOD * (PERIOD - STALL) + Math.max(0, e % PERIOD - STALL);
        }

        @Override
        public void sleep(long delay, TimeUnit unit) {
            throw new UnsupportedOperationException("not used by the limiter");
        }
    }

    private void record(Permit p, int n) {
        if (!p.release()) {
            run.fail("a fresh permit was already ended");
        }
        admissions.add(new long[] {((AsyncRateLimiter.RatePermit) p).admittedAt(), n});
    }
}
