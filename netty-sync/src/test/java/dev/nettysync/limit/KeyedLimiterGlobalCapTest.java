package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A per-key limit under a global cap: {@code AsyncLimiter.all(perKey.forKey(key), global)}
 * admits at most {@code k} per key and at most {@code G} in all (the composition documented on
 * {@link KeyedLimiter}): a scenario, and a stress run driven by {@link LimiterStress}.
 */
class KeyedLimiterGlobalCapTest extends LimiterStress {
    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;
    private static final int PER_KEY = 2;
    private static final int GLOBAL = 5;
    private static final int KEYS = 6;           // 6 keys x 2 > 5: the global cap binds

    private final AsyncSemaphore globalPermits = new AsyncSemaphore(GLOBAL, 64);
    private final AsyncLimiter global = AsyncLimiter.of(globalPermits);
    private final KeyedLimiter<Integer> perKey = KeyedLimiter
            .<Integer>builder(key -> AsyncLimiter.of(new AsyncSemaphore(PER_KEY, 16)))
            .maxKeys(KEYS).idleTime(Duration.ZERO).build();

    private final AtomicInteger[] inKey = new AtomicInteger[KEYS];
    private final AtomicInteger inAll = new AtomicInteger();
    private final AtomicLong grants = new AtomicLong();
    private final AtomicLong ends = new AtomicLong();

    {
        for (int i = 0; i < KEYS; i++) {
            inKey[i] = new AtomicInteger();
        }
    }

    private AsyncLimiter limiterFor(int key) {
        return AsyncLimiter.all(perKey.forKey(key), global);
    }

    @Test
    void bothCapsHoldAndAKeyRefusedByTheGlobalCapHoldsNothing() {
        Permit a1 = limiterFor(0).tryAcquire();
        Permit a2 = limiterFor(0).tryAcquire();
        assertThat(limiterFor(0).tryAcquire()).as("per key <= 2").isNull();
        Permit b1 = limiterFor(1).tryAcquire();
        Permit b2 = limiterFor(1).tryAcquire();
        Permit c1 = limiterFor(2).tryAcquire();
        assertThat(globalPermits.availablePermits()).isZero();

        Future<Permit> waiting = limiterFor(3).acquire(NOW);
        assertThat(waiting.isDone()).as("total <= 5").isFalse();
        assertThat(perKey.statistics(3).inUse()).as("key 3 holds its permit while it waits for the global one")
                .isEqualTo(1);
        assertThat(waiting.cancel(false)).isTrue();
        assertThat(perKey.statistics(3).inUse()).as("the cancelled wait gave key 3's permit back").isZero();

        Future<Permit> timed = limiterFor(4).acquire(NOW, 0, SECONDS);
        assertThat(timed.isSuccess()).isFalse();
        assertThat(perKey.statistics(4).inUse()).isZero();

        Future<Permit> next = limiterFor(5).acquire(NOW);
        a1.release();
        assertThat(next.isSuccess()).as("a global permit given back goes to the next in line").isTrue();
        for (Permit p : new Permit[] {a2, b1, b2, c1, next.getNow()}) {
            p.release();
        }
        assertThat(globalPermits.availablePermits()).isEqualTo(GLOBAL);
        assertThat(perKey.evictIdle()).isPositive();
        assertThat(perKey.liveKeys()).isZero();
    }

    @Test
    void concurrentAcquiresFromTwoLoopsWithCancelsAndTimeoutsKeepBothCapsAndGiveEverythingBack() throws Exception {
        runAndSettle(() -> ends.get() == grants.get());
        assertThat(ends.get()).as("every permit granted has ended").isEqualTo(grants.get());
        assertThat(globalPermits.availablePermits()).as("all global permits back").isEqualTo(GLOBAL);
        assertThat(globalPermits.queueLength()).isZero();
        perKey.evictIdle();
        assertThat(perKey.liveKeys()).as("no key left live after idle eviction").isZero();
        for (int k = 0; k < KEYS; k++) {
            assertThat(perKey.refs(k)).as("key %d", k).isIn(-1L, 0L);
        }
        assertThat(grants.get()).isPositive();
        assertThat(cancelsWon.get()).isPositive();
        assertThat(refused.get()).isPositive();
        System.out.printf("keyed + global cap: %,d ops: %,d grants, %,d cancels won, %,d refused or timed out%n",
                OPS, grants.get(), cancelsWon.get(), refused.get());
    }

    @Override
    void step(EventLoop loop) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        int key = rnd.nextInt(KEYS);
        AsyncLimiter limiter = limiterFor(key);
        switch (rnd.nextInt(3)) {
            case 0 -> took(limiter.tryAcquire(), p -> hold(loop, key, p));
            case 1 -> track(limiter.acquire(loop), p -> hold(loop, key, p));
            default -> track(limiter.acquire(loop, rnd.nextInt(300), TimeUnit.MICROSECONDS), p -> hold(loop, key, p));
        }
    }

    private void hold(EventLoop loop, int key, Permit p) {
        grants.incrementAndGet();
        int k = inKey[key].incrementAndGet();
        int all = inAll.incrementAndGet();
        if (k > PER_KEY || all > GLOBAL) {
            failure.compareAndSet(null, new AssertionError("key " + key + " has " + k + " holders, " + all + " in all"));
        }
        endLater(loop, p, () -> {
            inKey[key].decrementAndGet();                 // leave before giving back
            inAll.decrementAndGet();
        }, ends::incrementAndGet);
    }
}
