package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.SemaphorePeer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs every benchmark's body a few times, outside JMH, with small sizes: each peer must complete
 * (no lost permit, no stuck round) and deliver completions on the waiter's own loop (the
 * benchmarks check that themselves and throw). Seconds in all; this is the only part of the
 * bench module that {@code mvn verify} runs.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BenchmarksSmokeTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nettysync", "jdk", "jdkFair", "asyncutil", "naive"})
    void uncontended(String impl) throws Exception {
        UncontendedBenchmark b = new UncontendedBenchmark();
        b.impl = impl;
        Trial.run(b::setUp, b::tearDown, () -> {
            UncontendedBenchmark.ManyLoops many = new UncontendedBenchmark.ManyLoops();
            many.loopCount = 16;
            many.start();
            try {
                for (int i = 0; i < 1000; i++) {
                    assertThat(b.tryAcquireRelease()).isTrue();
                    assertThat(b.acquireRelease()).isNotNull();
                    assertThat(b.acquireReleaseManyLoops(many)).isNotNull();
                }
            } finally {
                many.stop();
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nettysync", "jdk"})
    void sharedFastPath(String impl) throws Exception {
        SharedFastPathBenchmark b = new SharedFastPathBenchmark();
        b.impl = impl;
        Trial.run(b::setUp, b::tearDown, () -> {
            SharedFastPathBenchmark.Caller[] callers = new SharedFastPathBenchmark.Caller[2];
            for (int k = 0; k < callers.length; k++) {
                callers[k] = new SharedFastPathBenchmark.Caller();
                callers[k].loop = b.loops.loops[k];
            }
            for (int i = 0; i < 1000; i++) {
                assertThat(b.acquireRelease(callers[i % 2])).isNotNull();
            }
        });
    }

    @ParameterizedTest(name = "{0} permits={1} {2}")
    @CsvSource({
            "nettysync, 1, alternate", "nettysync, 4, alternate", "nettysync, 1, free", "nettysync, 4, free",
            "asyncutil, 1, alternate", "asyncutil, 4, alternate", "asyncutil, 1, free", "asyncutil, 4, free",
            "asyncutilInline, 1, alternate", "asyncutilInline, 4, alternate", "asyncutilInline, 1, free",
            "asyncutilInline, 4, free",
            "naive, 1, alternate", "naive, 4, alternate", "naive, 1, free", "naive, 4, free",
    })
    void contendedHandoff(String impl, int permits, String pattern) throws Exception {
        ContendedHandoffBenchmark b = new ContendedHandoffBenchmark();
        b.impl = impl;
        b.permits = permits;
        b.clientsPerLoop = 8;
        b.pattern = pattern;
        Trial.run(b::setUp, b::tearDown, () -> {
            for (int i = 0; i < 3; i++) {
                b.round(2_000);
            }
        });
    }

    @ParameterizedTest(name = "{0} waiters={1}")
    @CsvSource({"nettysync, 16", "nettysync, 1024", "naive, 16", "naive, 1024",
            "asyncutilInline, 16", "asyncutilInline, 1024", "asyncutil, 16", "asyncutil, 1024",
            "floor, 16", "floor, 1024", "floorAtomic, 16", "floorAtomic, 1024", "nettysyncTimed, 16", "nettysyncTimed, 1024"})
    void sameLoopHandoff(String impl, int waiters) throws Exception {
        SameLoopHandoffBenchmark b = new SameLoopHandoffBenchmark();
        b.impl = impl;
        b.waiters = waiters;
        Trial.run(b::setUp, b::tearDown, () -> {
            for (int i = 0; i < 3; i++) {
                // the round itself checks: every continuation on the loop, exactly one permit free after
                assertThat(b.round(5_000)).as("grants counted, round %d", i).isEqualTo(5_000);
            }
            assertThat(b.round(waiters / 2)).as("fewer grants than clients").isEqualTo(waiters / 2);
        });
    }

    @ParameterizedTest(name = "{0} burst={1}")
    @CsvSource({"bareHop, 1", "bareHop, 4", "nettysync, 1", "nettysync, 4", "asyncutil, 1", "asyncutil, 4",
            "asyncutilInline, 1", "asyncutilInline, 4", "naive, 1", "naive, 4", "nettysync, 16"})
    void crossLoopHandoff(String impl, int burst) throws Exception {
        CrossLoopHandoffBenchmark b = new CrossLoopHandoffBenchmark();
        b.impl = impl;
        b.burst = burst;
        Trial.run(b::setUp, b::tearDown, () -> {
            for (int i = 0; i < 3; i++) {
                // the round checks: completions on the waiter's loop, all permits free at the end
                assertThat(b.round(64 * burst)).as("grants counted, round %d", i).isEqualTo(64L * burst);
            }
            assertThat(b.round(2 * burst)).as("the smallest round: one turn each").isEqualTo(2L * burst);
            assertThat(b.round(CrossLoopHandoffBenchmark.HANDOFFS)).isEqualTo(CrossLoopHandoffBenchmark.HANDOFFS);
        });
    }

    @Test
    void crossLoopRejectsABurstThatDoesNotDivideTheRound() {
        CrossLoopHandoffBenchmark b = new CrossLoopHandoffBenchmark();
        b.impl = "nettysync";
        b.burst = 3;
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException().isThrownBy(b::setUp)
                .withMessageContaining("burst");
    }

    @Test
    void aLostPermitFailsTheRound() throws Exception {
        SameLoopHandoffBenchmark b = new SameLoopHandoffBenchmark();
        b.impl = "nettysync";
        b.waiters = 16;
        Trial.run(b::setUp, b::tearDown, () -> {
            b.round(100);
            // a permit that leaks out of the benchmark's accounting must be reported, not ignored
            java.lang.reflect.Field f = SameLoopHandoffBenchmark.class.getDeclaredField("sem");
            f.setAccessible(true);
            ((SemaphorePeer) f.get(b)).release();
            org.assertj.core.api.Assertions.assertThatIllegalStateException().isThrownBy(() -> b.round(100))
                    .withMessageContaining("permits free after the round");
        });
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nettysync", "asyncutil", "naive", "floor", "floorAtomic"})
    void deepQueueRelease(String impl) throws Exception {
        DeepQueueBenchmark.ReleaseState s = new DeepQueueBenchmark.ReleaseState();
        s.impl = impl;
        s.depth = 1000;
        Trial.run(s::setUp, s::tearDown, () -> {
            DeepQueueBenchmark b = new DeepQueueBenchmark();
            for (int i = 0; i < 10_000; i++) {
                Object h = b.releaseAndRequeue(s);
                assertThat(h).isNotNull();
                assertThat(s.sem.isAcquired(h)).as("queued behind depth waiters, not granted").isFalse();
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nettysync", "naive"})
    void deepQueueCancel(String impl) throws Exception {
        DeepQueueBenchmark.CancelState s = new DeepQueueBenchmark.CancelState();
        s.impl = impl;
        s.depth = 1000;
        Trial.run(s::setUp, s::tearDown, () -> {
            DeepQueueBenchmark b = new DeepQueueBenchmark();
            for (int i = 0; i < 10_000; i++) {
                assertThat(b.cancelAndRequeue(s)).isNotNull();
            }
            // the queue still holds exactly `depth` live waiters: releasing depth permits serves them all
            for (int i = 0; i < s.depth; i++) {
                s.sem.release();
            }
            for (Object h : s.handles) {
                assertThat(s.sem.isAcquired(h)).as("every remaining waiter served").isTrue();
            }
            assertThat(s.sem.tryAcquire()).as("no permit left over").isFalse();
        });
    }

    @Test
    void randomTouch() throws Exception {
        DeepQueueBenchmark.TouchState s = new DeepQueueBenchmark.TouchState();
        s.impl = SemaphorePeer.NETTYSYNC;
        s.depth = 100;
        Trial.run(s::setUp, s::tearDown, () -> {
            assertThat(new DeepQueueBenchmark().randomTouch(s)).isFalse();
        });
    }

    @ParameterizedTest(name = "{0} waiters={1}")
    @CsvSource({"nettysync, 1", "nettysync, 1001", "naive, 1", "naive, 1001",
            "completableFuture, 1", "completableFuture, 1001"})
    void eventBroadcast(String impl, int waiters) throws Exception {
        EventBroadcastBenchmark b = new EventBroadcastBenchmark();
        b.impl = impl;
        b.waiters = waiters;
        Trial.run(b::setUp, b::tearDown, () -> {
            for (int i = 0; i < 5; i++) {
                b.round();
            }
        });
    }

    @Test
    void footprintMeasuresSomething() throws Exception {
        try (AbstractEventLoopBenchmark.Loops loops = new AbstractEventLoopBenchmark.Loops(1)) {
            long[] r = WaiterFootprint.measure(SemaphorePeer.NETTYSYNC, 10_000, loops);
            assertThat(r[0]).as("allocated bytes").isPositive();
        }
    }
}
