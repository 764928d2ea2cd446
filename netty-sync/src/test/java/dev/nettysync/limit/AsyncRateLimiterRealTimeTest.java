package dev.nettysync.limit;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The rate on the real clock and real timers: 16 chains on two event loops keep the queue of an
 * {@code AsyncRateLimiter} of 1,000/s (burst 100) full for 5 s, each chain acquiring again as
 * soon as it is granted. The permits admitted in the first 5 s of the limiter's clock must be
 * {@code burst + 5 × rate} = 5,100 within 2 % — neither more (the rate is kept) nor fewer (the
 * head timer, handed from executor to executor, does not lose time).
 */
class AsyncRateLimiterRealTimeTest {
    private static final int RATE = 1_000;
    private static final int BURST = 100;
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
        AtomicLong inWindow = new AtomicLong();
        AtomicLong afterWindow = new AtomicLong();
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
                        if (at <= WINDOW) {
                            inWindow.incrementAndGet();
                            run();
                        } else {
                            afterWindow.incrementAndGet();
                            chainsDone.countDown();
                        }
                    });
                }
            });
        }
        assertThat(chainsDone.await(30, SECONDS)).isTrue();
        assertThat(failure.get()).isNull();
        long expected = BURST + RATE * 5L;
        System.out.printf("rate real time: %d permits admitted in 5 s (expected %d)%n", inWindow.get(), expected);
        assertThat(inWindow.get()).isBetween(Math.round(expected * 0.98), Math.round(expected * 1.02));
        assertThat(limiter.brokenInvariant()).isNull();
    }
}
