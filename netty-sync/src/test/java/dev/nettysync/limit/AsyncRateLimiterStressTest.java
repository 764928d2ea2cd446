package dev.nettysync.limit;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress on real time: two event loops and two plain threads hammer one
 * {@link AsyncRateLimiter} with tryAcquire, untimed and timed acquires of 1..3 permits, and
 * cancels of random outstanding waits, for about 2 s. Then every wait is ended and the run is
 * checked: every admission's time (the limiter's clock at the decision, kept in the permit) fits
 * the rate in <em>every</em> window, {@code permits(window) <= burst + length / T}; every future
 * ended exactly one way, a cancel that returned true never came with a permit; the limiter's
 * invariants hold and its queue is empty.
 */
class AsyncRateLimiterStressTest {
    private static final long RUN_NANOS = TimeUnit.MILLISECONDS.toNanos(2_000);
    private static final int RATE = 20_000;   // T = 50 µs
    private static final int BURST = 20;

    private final List<EventLoop> loops = List.of(new DefaultEventLoop(), new DefaultEventLoop());
    private final AsyncRateLimiter limiter = AsyncRateLimiter.perSecond(RATE, BURST);
    private final Queue<long[]> admissions = new ConcurrentLinkedQueue<>();   // {admittedAt, permits}
    private final Queue<Future<Permit>> waits = new ConcurrentLinkedQueue<>();
    private final Queue<Future<Permit>> wonCancels = new ConcurrentLinkedQueue<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong refusals = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong grantedWaits = new AtomicLong();
    private final ThreadLocal<List<Future<Permit>>> recent = ThreadLocal.withInitial(ArrayList::new);

    @AfterEach
    void shutdown() {
        for (EventLoop l : loops) {
            l.shutdownGracefully(0, 1, SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void noWindowEverAdmitsMoreThanTheRateAllowsWhateverIsCancelled() throws Exception {
        long end = System.nanoTime() + RUN_NANOS;
        CountDownLatch done = new CountDownLatch(loops.size() + 2);
        for (EventLoop loop : loops) {
            loop.execute(new Runnable() {
                @Override
                public void run() {
                    if (System.nanoTime() > end) {
                        done.countDown();
                        return;
                    }
                    for (int i = 0; i < 8; i++) {
                        step(loop);
                    }
                    loop.schedule(this, 20, TimeUnit.MICROSECONDS);
                }
            });
        }
        for (int t = 0; t < 2; t++) {
            Thread thread = new Thread(() -> {
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                while (System.nanoTime() < end) {
                    step(loops.get(rnd.nextInt(loops.size())));
                    if (rnd.nextInt(8) == 0) {
                        sleepQuietly(rnd.nextInt(200) * 1_000L);
                    }
                }
                done.countDown();
            }, "stress-" + t);
            thread.start();
        }
        assertThat(done.await(30, SECONDS)).isTrue();

        // End every wait still queued, then let every completion run.
        for (Future<Permit> f : waits) {
            if (f.cancel(false)) {
                wonCancels.add(f);
            }
        }
        for (Future<Permit> f : waits) {
            f.awaitUninterruptibly(10, SECONDS);
        }
        for (EventLoop l : loops) {
            l.submit(() -> { }).syncUninterruptibly();   // listeners queued before this have run
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }

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
        System.out.printf("rate stress: %d admissions (%d permits, %d by waiting), %d refusals, %d timeouts,"
                        + " %d cancels won, %.0f permits/s over %d ms (rate %d/s)%n",
                sorted.size(), permits, granted, refusals.get(), timeouts.get(), wonCancels.size(),
                permits * 1e9 / Math.max(1, elapsed), elapsed / 1_000_000, RATE);
    }

    private void step(EventLoop loop) {
        try {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            int n = 1 + rnd.nextInt(3);
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
                case 3 -> track(limiter.acquire(loop, n, rnd.nextInt(3_000), TimeUnit.MICROSECONDS), n);
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
        } catch (Throwable e) {
            failure.compareAndSet(null, e);
        }
    }

    private void track(Future<Permit> f, int n) {
        waits.add(f);
        f.addListener(done -> {
            if (done.isSuccess()) {
                grantedWaits.incrementAndGet();
                record((Permit) done.getNow(), n);
            } else if (done.cause() instanceof RateLimitedException) {
                refusals.incrementAndGet();
            } else if (done.cause() instanceof dev.nettysync.WaitTimeoutException) {
                timeouts.incrementAndGet();
            } else if (!done.isCancelled()) {
                failure.compareAndSet(null, done.cause());
            }
        });
        List<Future<Permit>> mine = recent.get();
        if (mine.size() == 32) {
            mine.remove(0);
        }
        mine.add(f);
    }

    private void record(Permit p, int n) {
        if (!p.release()) {
            failure.compareAndSet(null, new AssertionError("a fresh permit was already ended"));
        }
        admissions.add(new long[] {((AsyncRateLimiter.RatePermit) p).admittedAt(), n});
    }

    private static void sleepQuietly(long nanos) {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
