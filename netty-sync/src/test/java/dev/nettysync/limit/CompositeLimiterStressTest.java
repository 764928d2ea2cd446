package dev.nettysync.limit;

import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncSemaphore;
import io.netty.channel.EventLoop;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress of {@link AsyncLimiter#all}: two event loops acquire (waiting, timed,
 * {@code tryAcquire}) through composites of overlapping parts, all in one order (a two-permit
 * semaphore {@code A}, a lock {@code B}, a one-permit semaphore {@code C}: {@code all(A, B, C)},
 * {@code all(A, C)}, {@code all(B, C)}, a nested {@code all(all(A, B), C)}, {@code all(A,
 * failOpen(B))}) and through {@code B}, {@code C} and {@code failOpen(C)} alone (a fail-open view
 * that admits nothing on its own: its waits, cancels and timeouts are its limiter's), so that
 * composite walks queue on a later part while holding earlier ones; waits are cancelled and time out, permits are held for a random while and ended with a
 * random outcome, some twice (see {@link LimiterStress}). Each holder checks on entry that no
 * part has more holders than permits.
 *
 * <p>Conservation at the end: every wait completed, every permit granted ended exactly once
 * (an end refused or repeated is a failure), every part has all its permits back and nobody
 * queued (so the parts a cancelled, timed-out or refused walk held were handed back, once), and
 * every composite reports nothing in use and nothing waiting.
 */
class CompositeLimiterStressTest extends LimiterStress {
    private static final int A_PERMITS = 2;

    private final AsyncSemaphore aSemaphore = new AsyncSemaphore(A_PERMITS, 64);
    private final AsyncLock bLock = new AsyncLock(64);
    private final AsyncSemaphore cSemaphore = new AsyncSemaphore(1, 64);
    private final AsyncLimiter a = AsyncLimiter.of(aSemaphore);
    private final AsyncLimiter b = AsyncLimiter.of(bLock);
    private final AsyncLimiter c = AsyncLimiter.of(cSemaphore);
    private final List<Use> uses = List.of(
            new Use(AsyncLimiter.all(a, b, c), true, true, true),
            new Use(AsyncLimiter.all(a, c), true, false, true),
            new Use(AsyncLimiter.all(b, c), false, true, true),
            new Use(AsyncLimiter.all(AsyncLimiter.all(a, b), c), true, true, true),
            new Use(b, false, true, false),
            new Use(c, false, false, true),
            new Use(AsyncLimiter.failOpen(c, cause -> false), false, false, true),
            new Use(AsyncLimiter.all(a, AsyncLimiter.failOpen(b, cause -> false)), true, true, false));

    private final AtomicInteger inA = new AtomicInteger();
    private final AtomicInteger inB = new AtomicInteger();
    private final AtomicInteger inC = new AtomicInteger();
    private final AtomicLong grants = new AtomicLong();
    private final AtomicLong compositeGrants = new AtomicLong();
    private final AtomicLong ends = new AtomicLong();

    /** A limiter the steps use, and the parts its permit holds. */
    private record Use(AsyncLimiter limiter, boolean a, boolean b, boolean c) {
        boolean composite() {
            return (a ? 1 : 0) + (b ? 1 : 0) + (c ? 1 : 0) > 1;
        }
    }

    @Test
    void walksRacingCancelsAndTimeoutsHandEveryPartBackExactlyOnce() throws Exception {
        runAndSettle(() -> ends.get() == grants.get());
        assertThat(ends.get()).as("every permit granted has ended").isEqualTo(grants.get());
        assertThat(aSemaphore.availablePermits()).as("A: every permit back, once").isEqualTo(A_PERMITS);
        assertThat(aSemaphore.queueLength()).isZero();
        assertThat(bLock.isLocked()).as("B: unlocked").isFalse();
        assertThat(bLock.queueLength()).isZero();
        assertThat(cSemaphore.availablePermits()).as("C: its permit back, once").isEqualTo(1);
        assertThat(cSemaphore.queueLength()).isZero();
        for (Use u : uses) {
            LimiterStatistics s = u.limiter().statistics();
            assertThat(s.inUse()).as("%s in use", u.limiter()).isZero();
            assertThat(s.queued()).as("%s waiting", u.limiter()).isZero();
        }
        assertThat(compositeGrants.get()).isPositive();
        assertThat(cancelsWon.get()).isPositive();
        assertThat(refused.get()).isPositive();
        System.out.printf("composite stress: %,d ops: %,d grants (%,d composite), %,d cancels won, %,d refused or timed out%n",
                OPS, grants.get(), compositeGrants.get(), cancelsWon.get(), refused.get());
    }

    @Override
    void step(EventLoop loop) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        Use use = uses.get(rnd.nextInt(uses.size()));
        AsyncLimiter limiter = use.limiter();
        switch (rnd.nextInt(3)) {
            case 0 -> took(limiter.tryAcquire(), p -> hold(loop, use, p));
            case 1 -> track(limiter.acquire(loop), p -> hold(loop, use, p));
            default -> track(limiter.acquire(loop, rnd.nextInt(300), TimeUnit.MICROSECONDS), p -> hold(loop, use, p));
        }
    }

    private void hold(EventLoop loop, Use use, Permit p) {
        grants.incrementAndGet();
        if (use.composite()) {
            compositeGrants.incrementAndGet();
        }
        int inAll = Math.max(use.a() ? inA.incrementAndGet() - A_PERMITS : 0,
                Math.max(use.b() ? inB.incrementAndGet() - 1 : 0, use.c() ? inC.incrementAndGet() - 1 : 0));
        if (inAll > 0) {
            failure.compareAndSet(null, new AssertionError(p + " of " + use.limiter() + ": A has " + inA.get()
                    + " holders, B " + inB.get() + ", C " + inC.get()));
        }
        endLater(loop, p, () -> {
            if (use.a()) {
                inA.decrementAndGet();                     // leave before giving back
            }
            if (use.b()) {
                inB.decrementAndGet();
            }
            if (use.c()) {
                inC.decrementAndGet();
            }
        }, ends::incrementAndGet);
    }
}
