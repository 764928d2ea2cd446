package dev.nettysync.limit;

import dev.nettysync.QueueFullException;
import dev.nettysync.testing.AnsweringLimiter;
import dev.nettysync.testing.LogCapture;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Ticker;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Scenario tests of {@link KeyedLimiter} on a clock the test moves and executors it drives: keys
 * are independent, idle keys at rest are evicted without a thread, keys in use or not at rest
 * never are, and the cap refuses a new key rather than double a limit.
 */
class KeyedLimiterTest {
    private final MockTicker clock = Ticker.newMockTicker();
    private final ManualScheduledExecutor loop = new ManualScheduledExecutor(clock);
    private final AtomicInteger created = new AtomicInteger();

    private KeyedLimiter<String> semaphores(int permits, int maxKeys, Duration idle) {
        return KeyedLimiter.<String>builder(k -> {
            created.incrementAndGet();
            return new SemaphoreLimiter(permits);
        }).maxKeys(maxKeys).idleTime(idle).ticker(clock).build();
    }

    private KeyedLimiter<String> rates(int perSecond, int burst, int maxKeys, Duration idle) {
        return KeyedLimiter.<String>builder(k -> {
            created.incrementAndGet();
            return AsyncRateLimiter.builder(perSecond, Duration.ofSeconds(1)).burst(burst).ticker(clock).build();
        }).maxKeys(maxKeys).idleTime(idle).ticker(clock).build();
    }

    @Test
    void eachKeyHasItsOwnLimitCreatedOnFirstUse() {
        KeyedLimiter<String> perClient = rates(10, 2, 100, Duration.ofMinutes(1));
        Permit a1 = perClient.tryAcquire("a");
        Permit a2 = perClient.tryAcquire("a");
        assertThat(a1).isNotNull();
        assertThat(a2).isNotNull();
        assertThat(perClient.tryAcquire("a")).isNull();
        assertThat(perClient.tryAcquire("b")).isNotNull();
        assertThat(perClient.liveKeys()).isEqualTo(2);
        assertThat(created.get()).isEqualTo(2);

        Future<Permit> refused = perClient.acquire("a", loop, 0, SECONDS);
        assertThat(refused.cause()).isInstanceOf(RateLimitedException.class);
        assertThat(((RateLimitedException) refused.cause()).retryAfterNanos()).isEqualTo(100_000_000L);
        assertThat(perClient.refs("a")).as("the two permits, the refusals hold nothing").isEqualTo(2);
        a1.release();
        a2.releaseIgnored();
        assertThat(perClient.refs("a")).isZero();
    }

    @Test
    void aKeyIsLiveWhilePermitsOrWaitsExistAndEvictedWhenIdleAndAtRest() {
        KeyedLimiter<String> perClient = semaphores(1, 100, Duration.ofSeconds(10));
        Permit held = perClient.tryAcquire("a");
        Future<Permit> waiting = perClient.acquire("a", loop);
        assertThat(perClient.refs("a")).isEqualTo(2);
        clock.advance(1, java.util.concurrent.TimeUnit.HOURS);
        assertThat(perClient.evictIdle()).as("held and waited for: not evicted").isZero();

        held.release();
        loop.runPending();
        assertThat(waiting.isSuccess()).isTrue();
        assertThat(perClient.refs("a")).isEqualTo(1);
        assertThat(perClient.evictIdle()).isZero();
        waiting.getNow().release();
        assertThat(perClient.refs("a")).isZero();
        assertThat(perClient.evictIdle()).as("released just now: not idle yet").isZero();

        clock.advance(10, SECONDS);
        assertThat(perClient.evictIdle()).isEqualTo(1);
        assertThat(perClient.isLive("a")).isFalse();
        assertThat(perClient.liveKeys()).isZero();
        assertThat(perClient.evictions()).isEqualTo(1);
    }

    @Test
    void newKeysSweepIdleOnesWithoutAThread() {
        KeyedLimiter<String> perClient = semaphores(1, 1_000, Duration.ofSeconds(1));
        for (int i = 0; i < 10; i++) {
            perClient.tryAcquire("old" + i).release();
        }
        clock.advance(2, SECONDS);
        for (int i = 0; i < 5; i++) {
            perClient.tryAcquire("new" + i).release();
            assertThat(perClient.evictions()).as("each new key moves the hand two keys").isEqualTo(2L * (i + 1));
        }
        assertThat(perClient.liveKeys()).isEqualTo(5);
    }

    @Test
    void aRateKeyIsNotEvictedUntilItsBucketIsFullAgain() {
        KeyedLimiter<String> perClient = rates(10, 2, 1, Duration.ZERO);
        perClient.tryAcquire("a").release();                       // bucket 1/2, key idle
        assertThat(perClient.evictIdle()).as("not at rest: a fresh limiter would have 2").isZero();
        assertThat(perClient.tryAcquire("b")).as("the cap is reached and a is not at rest").isNull();
        Future<Permit> refused = perClient.acquire("b", loop);
        assertThat(refused.cause()).isInstanceOf(QueueFullException.class).hasMessageContaining("refused new key b");

        clock.advance(100, MILLISECONDS);                          // a's bucket is full again
        Permit b = perClient.tryAcquire("b");
        assertThat(b).as("a was at rest: evicted for b").isNotNull();
        assertThat(perClient.isLive("a")).isFalse();
        b.release();
        clock.advance(100, MILLISECONDS);                          // b's bucket is full again
        assertThat(perClient.tryAcquire("a")).isNotNull();
        assertThat(perClient.tryAcquire("a")).isNotNull();
        assertThat(perClient.tryAcquire("a")).as("a came back with a burst of 2, not more").isNull();
    }

    @Test
    void atTheCapANewKeyEvictsALeastRecentlyUsedKeyAtRestOrIsRefused() {
        KeyedLimiter<String> perClient = semaphores(1, 3, Duration.ofHours(1));
        Permit a = perClient.tryAcquire("a");                      // held
        perClient.tryAcquire("b").release();
        perClient.tryAcquire("c").release();
        assertThat(perClient.tryAcquire("d")).as("b evicted for d").isNotNull();
        assertThat(perClient.isLive("a")).isTrue();
        assertThat(perClient.isLive("b")).isFalse();
        assertThat(perClient.liveKeys()).isEqualTo(3);

        perClient.tryAcquire("c");                                 // c and d held now, a held
        assertThat(perClient.tryAcquire("e")).as("all three in use: refused").isNull();
        assertThat(perClient.liveKeys()).isEqualTo(3);
        a.release();
        perClient.tryAcquire("e").release();
        assertThat(perClient.isLive("a")).isFalse();
    }

    @Test
    void atTheCapAKeyAtRestIsFoundBehindRecentlyUsedKeysInUse() {
        KeyedLimiter<String> perClient = semaphores(1, 3, Duration.ofHours(1));
        Permit a = perClient.tryAcquire("a");                      // held
        Permit b = perClient.tryAcquire("b");                      // held
        perClient.tryAcquire("c").release();                       // at rest, last in the hand
        // the search passes over a, b, c once each (recently used), then tries a, b, c
        assertThat(perClient.tryAcquire("d")).as("c evicted for d").isNotNull();
        assertThat(perClient.isLive("c")).isFalse();
        assertThat(perClient.liveKeys()).isEqualTo(3);
        a.release();
        b.release();
    }

    @Test
    void atTheCapAKeyUsedSinceTheHandLastSawItGetsASecondChance() {
        KeyedLimiter<String> perClient = semaphores(1, 3, Duration.ofHours(1));
        for (String k : List.of("a", "b", "c")) {
            perClient.tryAcquire(k).release();
        }
        perClient.tryAcquire("d").release();                       // the hand saw a, b, c, evicted a
        assertThat(perClient.isLive("a")).isFalse();
        perClient.tryAcquire("b").release();                       // b used again since

        perClient.tryAcquire("e").release();
        assertThat(perClient.isLive("b")).as("passed over once").isTrue();
        assertThat(perClient.isLive("c")).as("not used since it was seen: evicted").isFalse();

        perClient.tryAcquire("b").release();                       // and again
        perClient.tryAcquire("f").release();
        assertThat(perClient.isLive("b")).as("a second chance each time it is used").isTrue();
        assertThat(perClient.isLive("d")).isFalse();
    }

    @Test
    void aKeyedWaitCancelledOnItsOwnLoopSaysSoAndLetsTheKeyGo() {
        KeyedLimiter<String> perClient = semaphores(1, 10, Duration.ZERO);
        Permit held = perClient.tryAcquire("a");
        Future<Permit> w = perClient.acquire("a", loop);
        List<Boolean> cancelled = new ArrayList<>();
        loop.execute(() -> cancelled.add(w.cancel(false)));      // as a handler would, on its channel's loop
        loop.runPending();
        assertThat(cancelled).as("the cancel won").containsExactly(true);
        assertThat(w.isCancelled()).isTrue();
        assertThat(perClient.refs("a")).as("only the held permit").isEqualTo(1);
        held.release();
    }

    @Test
    void cancellingAKeyedWaitLetsTheKeyGoAndAGrantedOneCannotBeCancelled() {
        KeyedLimiter<String> perClient = semaphores(1, 10, Duration.ZERO);
        Permit held = perClient.tryAcquire("a");
        Future<Permit> w1 = perClient.acquire("a", loop);
        Future<Permit> w2 = perClient.acquire("a", loop);
        assertThat(w1.cancel(false)).isTrue();
        loop.runPending();
        assertThat(perClient.refs("a")).isEqualTo(2);
        held.release();                                            // granted to w2; listener pending
        assertThat(w2.cancel(false)).isFalse();
        loop.runPending();
        assertThat(w2.isSuccess()).isTrue();
        w2.getNow().release();
        assertThat(w2.getNow().release()).as("ends once").isFalse();
        assertThat(perClient.refs("a")).isZero();
        assertThat(perClient.evictIdle()).isEqualTo(1);
    }

    @Test
    void forKeyIsAnAsyncLimiterForComposition() {
        KeyedLimiter<String> perClient = semaphores(2, 10, Duration.ZERO);
        AsyncLimiter a = perClient.forKey("a");
        List<String> ran = new ArrayList<>();
        Future<String> r = a.withPermit(loop, () -> {
            ran.add("in");
            assertThat(a.statistics().inUse()).isEqualTo(1);
            return loop.newSucceededFuture("ok");
        });
        loop.runPending();
        assertThat(r.getNow()).isEqualTo("ok");
        assertThat(a.statistics()).isEqualTo(new LimiterStatistics(2, 0, 2, 0));
        assertThat(perClient.refs("a")).isZero();
    }

    @Test
    void anIdleTimeBeyondNanosecondsMeansNeverIdleAndANullOneIsRefusedByName() {
        KeyedLimiter<String> perClient = semaphores(1, 1, ChronoUnit.FOREVER.getDuration());
        perClient.tryAcquire("a").release();
        clock.advance(365L * 200, TimeUnit.DAYS);
        assertThat(perClient.evictIdle()).as("never idle").isZero();
        assertThat(perClient.tryAcquire("b")).as("the cap still evicts a key at rest").isNotNull();
        assertThat(perClient.isLive("a")).isFalse();

        assertThatThrownBy(() -> KeyedLimiter.builder(k -> new SemaphoreLimiter(1)).idleTime(null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("idleTime");
    }

    /** A limiter whose statistics() throws while {@code broken} is set (a user's limiter may). */
    private static final class BrokenStatistics implements AsyncLimiter {
        private final SemaphoreLimiter inner = new SemaphoreLimiter(1);
        volatile boolean broken = true;

        @Override
        public Future<Permit> acquire(io.netty.util.concurrent.EventExecutor executor) {
            return inner.acquire(executor);
        }

        @Override
        public Future<Permit> acquire(io.netty.util.concurrent.EventExecutor executor, long timeout, TimeUnit unit) {
            return inner.acquire(executor, timeout, unit);
        }

        @Override
        public Permit tryAcquire() {
            return inner.tryAcquire();
        }

        @Override
        public LimiterStatistics statistics() {
            if (broken) {
                throw new IllegalStateException("statistics broken on purpose");
            }
            return inner.statistics();
        }
    }

    @Test
    void aLimiterWhoseStatisticsThrowIsKeptNotLostAndEvictedOnceTheyWorkAgain() {
        List<BrokenStatistics> made = new ArrayList<>();
        KeyedLimiter<String> perClient = KeyedLimiter.<String>builder(k -> {
            BrokenStatistics l = new BrokenStatistics();
            made.add(l);
            return l;
        }).maxKeys(2).idleTime(Duration.ZERO).ticker(clock).build();
        perClient.tryAcquire("a").release();
        perClient.tryAcquire("b").release();

        assertThat(perClient.evictIdle()).as("cannot tell it is at rest: kept").isZero();
        assertThat(perClient.tryAcquire("c")).as("no key provably at rest at the cap: refused").isNull();
        assertThat(perClient.acquire("c", loop).cause()).isInstanceOf(QueueFullException.class);
        assertThat(perClient.liveKeys()).isEqualTo(2);

        made.forEach(l -> l.broken = false);
        assertThat(perClient.evictIdle()).as("both keys are still swept").isEqualTo(2);
        assertThat(perClient.liveKeys()).isZero();
        Permit c = perClient.tryAcquire("c");
        Permit d = perClient.tryAcquire("d");
        assertThat(c).as("no slot was lost").isNotNull();
        assertThat(d).isNotNull();
        assertThat(perClient.liveKeys()).isEqualTo(2);
    }

    @Test
    void failingStatisticsAreLoggedOnceAtWarnPerKeyedLimiterAndAtDebugForEveryOtherKey() {
        try (LogCapture log = LogCapture.of(KeyedLimiter.class)) {
            List<LogRecord> records = log.records();
            KeyedLimiter<String> perClient = KeyedLimiter.<String>builder(k -> new BrokenStatistics())
                    .maxKeys(10).idleTime(Duration.ZERO).ticker(clock).build();
            for (String key : List.of("a", "b", "c")) {
                perClient.tryAcquire(key).release();
            }
            assertThat(perClient.evictIdle()).isZero();
            assertThat(perClient.evictIdle()).as("a second sweep logs nothing again").isZero();

            assertThat(records).extracting(LogRecord::getLevel)
                    .as("one WARN for the keyed limiter, then DEBUG for each other key, once each")
                    .containsExactly(Level.WARNING, Level.FINE, Level.FINE);
            assertThat(records).allSatisfy(r -> assertThat(r.getThrown()).hasMessage("statistics broken on purpose"));
            assertThat(records.get(0).getMessage()).contains("logs the failures of its other keys at DEBUG");
            assertThat(records).extracting(r -> r.getMessage().replaceAll(".*of key (\\w+) threw.*", "$1"))
                    .as("each key named once").containsExactlyInAnyOrder("a", "b", "c");

            KeyedLimiter<String> another = KeyedLimiter.<String>builder(k -> new BrokenStatistics())
                    .maxKeys(10).idleTime(Duration.ZERO).ticker(clock).build();
            another.tryAcquire("a").release();
            another.evictIdle();
            assertThat(records).extracting(LogRecord::getLevel).as("another keyed limiter warns once too")
                    .containsExactly(Level.WARNING, Level.FINE, Level.FINE, Level.WARNING);
        }
    }

    @Test
    void atTheCapARefusalExaminesEachLiveKeyOnceNotTheSameKeyOverAndOver() {
        AtomicInteger asked = new AtomicInteger();
        KeyedLimiter<String> perClient = KeyedLimiter.<String>builder(k -> new ForwardingLimiter(new SemaphoreLimiter(1)) {
            @Override
            protected Permit map(Permit inner) {
                return inner;
            }

            @Override
            public LimiterStatistics statistics() {
                asked.incrementAndGet();
                return new LimiterStatistics(1, 0, 0, 0);          // never at rest
            }
        }).maxKeys(1).idleTime(Duration.ofHours(1)).ticker(clock).build();
        perClient.tryAcquire("a").release();
        assertThat(perClient.tryAcquire("b")).as("a is not at rest: b refused").isNull();
        assertThat(asked.get()).as("the one live key was asked once, not %d times", KeyedLimiter.MAX_SCAN)
                .isEqualTo(1);
        assertThat(perClient.liveKeys()).isEqualTo(1);
    }

    @Test
    void aNewKeyAtTheCapIsRefusedNotFailedWhenAnotherKeysStatisticsThrow() {
        KeyedLimiter<String> perClient = KeyedLimiter.<String>builder(k -> new BrokenStatistics())
                .maxKeys(1).idleTime(Duration.ofHours(1)).ticker(clock).build();
        perClient.tryAcquire("a").release();
        for (int i = 0; i < 3; i++) {
            assertThat(perClient.tryAcquire("b" + i)).isNull();
        }
        assertThat(perClient.liveKeys()).as("refusals reserve nothing").isEqualTo(1);
        assertThat(perClient.tryAcquire("a")).as("the live key still admits").isNotNull();
    }

    @Test
    void aNewKeyRefusedAtTheCapNeverCallsTheFactory() {
        KeyedLimiter<String> perClient = semaphores(1, 1, Duration.ofHours(1));
        Permit a = perClient.tryAcquire("a");
        assertThat(created.get()).isEqualTo(1);
        assertThat(perClient.tryAcquire("b")).as("a is in use: b refused").isNull();
        assertThat(perClient.acquire("b", loop).cause()).isInstanceOf(QueueFullException.class);
        assertThat(perClient.acquire("c", loop, 1, SECONDS).cause()).isInstanceOf(QueueFullException.class);
        assertThat(created.get()).as("no limiter made for a key refused at the cap (the factory may be costly)")
                .isEqualTo(1);
        a.release();
        assertThat(perClient.tryAcquire("b")).isNotNull();
        assertThat(created.get()).isEqualTo(2);
    }

    @Test
    void aFactoryOrAKeyThatThrowsWhileAKeyIsMadeGivesItsSlotBack() {
        AtomicInteger failures = new AtomicInteger(1);
        KeyedLimiter<Object> perClient = KeyedLimiter.builder(k -> {
            if (failures.getAndDecrement() > 0) {
                throw new IllegalStateException("factory failed on purpose");
            }
            return new SemaphoreLimiter(1);
        }).maxKeys(1).idleTime(Duration.ofHours(1)).ticker(clock).build();
        assertThatThrownBy(() -> perClient.tryAcquire("a")).hasMessageContaining("on purpose");
        assertThat(perClient.liveKeys()).isZero();

        Object flaky = new Object() {                  // a key whose hashCode works once, then throws
            private final AtomicInteger calls = new AtomicInteger();

            @Override
            public int hashCode() {
                if (calls.incrementAndGet() > 1) {
                    throw new IllegalStateException("hashCode failed on purpose");
                }
                return 42;
            }
        };
        assertThatThrownBy(() -> perClient.tryAcquire(flaky)).hasMessageContaining("on purpose");
        assertThat(perClient.liveKeys()).as("no slot kept by a key that was never made").isZero();
        assertThat(perClient.tryAcquire("b")).as("the only slot is free").isNotNull();
    }

    @Test
    void aKeysLimiterThatReturnsANullFutureIsNamedAndTheKeyIsLetGo() {
        KeyedLimiter<String> perClient = KeyedLimiter.<String>builder(k -> new AnsweringLimiter(executor -> null))
                .maxKeys(10).idleTime(Duration.ZERO).ticker(clock).build();
        assertThatThrownBy(() -> perClient.acquire("a", loop)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("null future");
        assertThatThrownBy(() -> perClient.acquire("a", loop, 1, SECONDS)).isInstanceOf(NullPointerException.class);
        assertThat(perClient.refs("a")).as("nothing pins the key").isZero();
        assertThat(perClient.evictIdle()).isEqualTo(1);
        assertThatThrownBy(() -> perClient.statistics(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("key");
    }

    @Test
    void aKeysLimiterWhoseTryAcquireThrowsLetsTheKeyGo() {
        KeyedLimiter<String> perClient = KeyedLimiter.<String>builder(k -> new ForwardingLimiter(new SemaphoreLimiter(1)) {
            @Override
            protected Permit map(Permit inner) {
                return inner;
            }

            @Override
            public Permit tryAcquire() {                           // a limiter that cannot decide locally
                throw new UnsupportedOperationException("cannot decide without a round trip");
            }
        }).maxKeys(10).idleTime(Duration.ZERO).ticker(clock).build();
        assertThatThrownBy(() -> perClient.tryAcquire("a")).isInstanceOf(UnsupportedOperationException.class);
        assertThat(perClient.refs("a")).as("nothing pins the key").isZero();
        assertThat(perClient.evictIdle()).isEqualTo(1);
    }

    /** A key equal to every other Sweeping key; its equals runs {@code duringLookup} once (a lookup's side effect). */
    private static final class Sweeping {
        Runnable duringLookup = () -> { };

        @Override
        public boolean equals(Object o) {
            Runnable r = duringLookup;
            duringLookup = () -> { };
            r.run();
            return o instanceof Sweeping;
        }

        @Override
        public int hashCode() {
            return 1;
        }
    }

    @Test
    void aKeyEvictedBetweenItsLookupAndItsEnterIsMadeAgainNotUsedEvicted() {
        // Deterministically, what a sweep on another thread can do: the entry found is evicted
        // before the caller enters it (here by a sweep the key's own equals runs mid-lookup).
        KeyedLimiter<Sweeping> perClient = KeyedLimiter.<Sweeping>builder(k -> {
            created.incrementAndGet();
            return new SemaphoreLimiter(1);
        }).maxKeys(10).idleTime(Duration.ZERO).ticker(clock).build();
        perClient.tryAcquire(new Sweeping()).release();
        Sweeping again = new Sweeping();
        again.duringLookup = () -> assertThat(perClient.evictIdle()).isEqualTo(1);

        Permit p = perClient.tryAcquire(again);

        assertThat(p).isNotNull();
        assertThat(created.get()).as("a fresh limiter for the key").isEqualTo(2);
        assertThat(perClient.isLive(again)).isTrue();
        assertThat(perClient.refs(again)).as("the permit is counted on the live entry").isEqualTo(1);
        p.release();
        assertThat(perClient.refs(again)).isZero();
    }

    // ------------------------------------------------------------ executors that shut down

    @Test
    void aWaitRefusedBecauseItsExecutorShutDownLetsItsKeyGo() {
        KeyedLimiter<String> perClient = semaphores(1, 1, Duration.ZERO);
        Permit held = perClient.tryAcquire("k");
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Permit> wait = perClient.acquire("k", dying);
        assertThat(perClient.refs("k")).isEqualTo(2);
        dying.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();

        held.release();            // the key's semaphore refuses its grant to the dead waiter

        assertThat(wait.isSuccess()).isFalse();
        assertThat(wait.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(perClient.refs("k")).as("neither the permit nor the refused wait pins the key").isZero();
        assertThat(perClient.evictIdle()).as("the key is at rest: evicted").isEqualTo(1);
        assertThat(perClient.liveKeys()).isZero();
        assertThat(perClient.tryAcquire("other")).as("its slot under maxKeys is free again").isNotNull();
    }

    @Test
    void aPermitGrantedAfterTheWaitsExecutorShutDownIsEndedAndLetsItsKeyGo() {
        // A key's limiter that completes its future without looking at the executor (as a user's
        // limiter may, or the library's in their residual race): the keyed wait's own completion is refused.
        List<io.netty.util.concurrent.Promise<Permit>> pending = new java.util.concurrent.CopyOnWriteArrayList<>();
        RecordingLimiter permits = new RecordingLimiter(1, 1);
        KeyedLimiter<String> perClient = KeyedLimiter.<String>builder(k -> new AnsweringLimiter(executor -> {
            io.netty.util.concurrent.Promise<Permit> p = executor.newPromise();
            pending.add(p);
            return p;
        })).maxKeys(1).idleTime(Duration.ZERO).ticker(clock).build();
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Permit> wait = perClient.acquire("k", dying);
        dying.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();

        assertThat(pending.get(0).trySuccess(permits.tryAcquire())).isTrue();

        assertThat(permits.outcomes).as("the key's permit was ended").containsExactly(Permit.Outcome.IGNORED);
        assertThat(wait.isSuccess()).isFalse();
        assertThat(wait.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(perClient.refs("k")).as("the key was let go").isZero();
        assertThat(perClient.evictIdle()).isEqualTo(1);
    }
}
