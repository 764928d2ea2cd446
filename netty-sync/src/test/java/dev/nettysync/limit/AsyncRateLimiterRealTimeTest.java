package dev.nettysync.limit;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
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
 * a late timer or a starved event loop of up to 249 ms (a longer stall loses the excess, as any
 * bucket that holds at most {@code burst} must). The window starts at the first admission, not
 * at the limiter's creation: the loops' threads start (and the code warms up) in between, and a
 * full bucket cannot bank that time.
 */
class AsyncRateLimiterRealTimeTest {
    private static final int RATE = 1_000;
    private static final int BURST = 250;
    private static final long WINDOW = TimeUnit.SECONDS.toNanos(5);

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
        assertThat(failure.get()).isNull();
        long t0 = admittedAt.stream().mapToLong(Long::longValue).min().orElseThrow();
        long inWindow = admittedAt.stream().filter(at -> at <= t0 + WINDOW).count();
        long expected = BURST + RATE * 5L;
        System.out.printf("rate real time: %d permits admitted in 5 s (expected %d)%n", inWindow, expected);
        assertThat(inWindow).isBetween(Math.round(expected * 0.98), Math.round(expected * 1.02));
        assertThat(limiter.brokenInvariant()).isNull();
    }
}
