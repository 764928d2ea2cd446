package dev.nettysync.limit;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The rate on the real clock and real timers: 16 chains on two event loops keep the queue of an
 * {@code AsyncRateLimiter} of 1,000/s (burst 250) full for 5 s, each chain acquiring again as
 * soon as it is granted. The permits admitted in the 5 s from the first admission must be
 * {@code burst + 5 × rate} = 5,250 within 2 % — neither more (the rate is kept) nor fewer (the
 * head timer, handed from executor to executor, does not lose time). The burst's slack absorbs
 * a late timer or a starved event loop of up to 249 ms; a longer stall loses the excess, as any
 * bucket that holds at most {@code burst} must. So a probe on each loop records how long the
 * loop went without running anything, and the lower bound gives up what the probes saw beyond
 * the slack (nothing on a quiet machine; on a busy one the rate's timers are no faster than the
 * loops they run on). The upper bound never gives anything up. The window starts at the first
 * admission, not at the limiter's creation: the loops' threads start (and the code warms up) in
 * between, and a full bucket cannot bank that time.
 */
class AsyncRateLimiterRealTimeTest {
    private static final int RATE = 1_000;
    private static final int BURST = 250;
    private static final long WINDOW = TimeUnit.SECONDS.toNanos(5);
    private static final long SLACK = TimeUnit.MILLISECONDS.toNanos(249);   // (burst - 1) intervals

    private final List<EventLoop> loops = List.of(new DefaultEventLoop(), new DefaultEventLoop());

    @AfterEach
    void shutdown() {
        for (EventLoop l : loops) {
            l.shutdownGracefully(0, 1, SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void admitsTheConfiguredRateOverFiveSecondsWithinTwoPercent() throws Exception {
        AsyncRateLimiter limiter = AsyncRateLimiter.perSecond(RATE, BURST);
        Queue<Long> admittedAt = new ConcurrentLinkedQueue<>();
        AtomicLong first = new AtomicLong(-1);      // the first admission's time: the window starts there
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch chainsDone = new CountDownLatch(16);
        List<StallProbe> probes = loops.stream().map(StallProbe::new).toList();
        for (int i = 0; i < 16; i++) {
            EventLoop loop = loops.get(i % loops.size());
            loop.execute(new Runnable() {
                @Override
                public void run() {
                    Future<Permit> f = limiter.acquire(loop);
                    f.addListener(done -> {
                        if (!done.isSuccess()) {
                            failure.compareAndSet(null, done.cause());
                            chainsDone.countDown();
                            return;
                        }
                        long at = ((AsyncRateLimiter.RatePermit) done.getNow()).admittedAt();
                        admittedAt.add(at);
                        first.compareAndSet(-1, at);
                        if (at <= first.get() + WINDOW + WINDOW / 10) {
                            run();
                        } else {
                            chainsDone.countDown();
                        }
                    });
                }
            });
        }
        assertThat(chainsDone.await(30, SECONDS)).isTrue();
        long stalledBeyondSlack = 0;
        for (StallProbe p : probes) {
            stalledBeyondSlack += p.stop();
        }
        assertThat(failure.get()).isNull();
        long t0 = admittedAt.stream().mapToLong(Long::longValue).min().orElseThrow();
        long inWindow = admittedAt.stream().filter(at -> at <= t0 + WINDOW).count();
        long expected = BURST + RATE * 5L;
        long excused = stalledBeyondSlack * RATE / TimeUnit.SECONDS.toNanos(1);
        System.out.printf("rate real time: %d permits admitted in 5 s (expected %d; loops stalled %d ms beyond"
                + " the slack, excusing %d)%n", inWindow, expected, stalledBeyondSlack / 1_000_000, excused);
        assertThat(inWindow).as("never more than the rate")
                .isLessThanOrEqualTo(Math.round(expected * 1.02))
                .as("no time lost but what the loops stalled beyond the burst's slack")
                .isGreaterThanOrEqualTo(Math.round(expected * 0.98) - excused);
        assertThat(limiter.brokenInvariant()).isNull();
    }

    /**
     * Runs a task on {@code loop} every millisecond and sums, over the gaps between two runs, what
     * each gap exceeded the burst's slack by: the time a stalled loop (a busy machine, a GC pause)
     * could have cost the rate, which a correct limiter cannot make up.
     */
    private static final class StallProbe {
        private final EventLoop loop;
        private final ScheduledFuture<?> task;
        private long last;                        // confined to the loop; 0 before the first run
        private long beyondSlack;                 // likewise; read after stop()

        StallProbe(EventLoop loop) {
            this.loop = loop;
            task = loop.scheduleWithFixedDelay(() -> {
                long now = System.nanoTime();
                if (last != 0) {
                    beyondSlack += Math.max(0, now - last - SLACK);
                }
                last = now;
            }, 1, 1, TimeUnit.MILLISECONDS);
        }

        /** Stops the probe; the nanoseconds its loop stalled beyond the slack. */
        long stop() throws Exception {
            task.cancel(false);
            // read on the loop itself, after its last run: no race with the probe's writes
            return loop.submit(() -> beyondSlack).get(10, SECONDS);
        }
    }
}
