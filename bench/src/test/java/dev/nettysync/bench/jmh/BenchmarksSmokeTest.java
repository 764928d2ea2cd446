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
        b.setUp();
        try {
            for (int i = 0; i < 1000; i++) {
                assertThat(b.tryAcquireRelease()).isTrue();
                assertThat(b.acquireRelease()).isNotNull();
            }
        } finally {
            b.tearDown();
        }
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
        b.setUp();
        try {
            for (int i = 0; i < 3; i++) {
                b.round(2_000);
            }
        } finally {
            b.tearDown();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nettysync", "asyncutil", "naive"})
    void deepQueueRelease(String impl) throws Exception {
        DeepQueueBenchmark.ReleaseState s = new DeepQueueBenchmark.ReleaseState();
        s.impl = impl;
        s.depth = 1000;
        s.setUp();
        try {
            DeepQueueBenchmark b = new DeepQueueBenchmark();
            for (int i = 0; i < 10_000; i++) {
                assertThat(b.releaseAndRequeue(s)).isNotNull();
            }
        } finally {
            s.tearDown();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nettysync", "naive"})
    void deepQueueCancel(String impl) throws Exception {
        DeepQueueBenchmark.CancelState s = new DeepQueueBenchmark.CancelState();
        s.impl = impl;
        s.depth = 1000;
        s.setUp();
        try {
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
        } finally {
            s.tearDown();
        }
    }

    @Test
    void randomTouch() throws Exception {
        DeepQueueBenchmark.TouchState s = new DeepQueueBenchmark.TouchState();
        s.impl = SemaphorePeer.NETTYSYNC;
        s.depth = 100;
        s.setUp();
        try {
            assertThat(new DeepQueueBenchmark().randomTouch(s)).isFalse();
        } finally {
            s.tearDown();
        }
    }

    @ParameterizedTest(name = "{0} waiters={1}")
    @CsvSource({"nettysync, 1", "nettysync, 1001", "naive, 1", "naive, 1001",
            "completableFuture, 1", "completableFuture, 1001"})
    void eventBroadcast(String impl, int waiters) throws Exception {
        EventBroadcastBenchmark b = new EventBroadcastBenchmark();
        b.impl = impl;
        b.waiters = waiters;
        b.setUp();
        try {
            for (int i = 0; i < 5; i++) {
                b.round();
            }
        } finally {
            b.tearDown();
        }
    }

    @Test
    void footprintMeasuresSomething() throws Exception {
        try (AbstractEventLoopBenchmark.Loops loops = new AbstractEventLoopBenchmark.Loops(1)) {
            long[] r = WaiterFootprint.measure(SemaphorePeer.NETTYSYNC, 10_000, loops);
            assertThat(r[0]).as("allocated bytes").isPositive();
        }
    }
}
