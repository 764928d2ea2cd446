package dev.nettysync.bench.jmh;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs the bodies of {@link ReadWriteLockBenchmark} and {@link PermitHandleBenchmark} for every
 * peer, as a benchmark would, and checks that each iteration leaves the lock or the permits
 * free (a body that leaked one would make the next iteration wait and throw).
 */
class LockAndPermitBenchmarksSmokeTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {ReadWriteLockBenchmark.NETTYSYNC, ReadWriteLockBenchmark.ASYNCUTIL,
            ReadWriteLockBenchmark.SEMAPHORE})
    void readWriteLockBodiesLeaveTheLockFree(String impl) {
        ReadWriteLockBenchmark b = new ReadWriteLockBenchmark();
        b.impl = impl;
        b.setUp();
        try {
            for (int i = 0; i < 1000; i++) {
                assertThat(b.read()).isNotNull();
                assertThat(b.write()).isNotNull();
            }
        } finally {
            b.tearDown();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raw", "handle", "composite3"})
    void permitBodiesGiveEveryPermitBack(String impl) {
        PermitHandleBenchmark b = new PermitHandleBenchmark();
        b.impl = impl;
        b.setUp();
        try {
            for (int i = 0; i < 1000; i++) {
                assertThat(b.acquireRelease()).isNotNull();
            }
        } finally {
            b.tearDown();
        }
    }
}
