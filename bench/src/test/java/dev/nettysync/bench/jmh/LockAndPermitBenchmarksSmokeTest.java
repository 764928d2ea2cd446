package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.Continuation;
import dev.nettysync.bench.peers.ReadWriteLockPeer;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Runs the bodies of {@link ReadWriteLockBenchmark}, {@link ReadWriteMixBenchmark} and
 * {@link PermitHandleBenchmark} for every peer, as a benchmark would, and checks that each
 * iteration leaves the lock or the permits free (a body that leaked one would make the next
 * iteration wait and throw). The mixed benchmark's own checks are shown to fail on broken locks.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LockAndPermitBenchmarksSmokeTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {ReadWriteLockBenchmark.NETTYSYNC, ReadWriteLockBenchmark.ASYNCUTIL,
            ReadWriteLockBenchmark.SEMAPHORE})
    void readWriteLockBodiesLeaveTheLockFree(String impl) throws Exception {
        ReadWriteLockBenchmark b = new ReadWriteLockBenchmark();
        b.impl = impl;
        Trial.run(b::setUp, b::tearDown, () -> {
            for (int i = 0; i < 1000; i++) {
                assertThat(b.read()).isNotNull();
                assertThat(b.write()).isNotNull();
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raw", "handle", "composite3"})
    void permitBodiesGiveEveryPermitBack(String impl) throws Exception {
        PermitHandleBenchmark b = new PermitHandleBenchmark();
        b.impl = impl;
        Trial.run(b::setUp, b::tearDown, () -> {
            for (int i = 0; i < 1000; i++) {
                assertThat(b.acquireRelease()).isNotNull();
            }
        });
    }

    @ParameterizedTest(name = "{0} clientsPerLoop={1}")
    @CsvSource({"nettysync, 1", "nettysync, 8", "asyncutilInline, 1", "asyncutilInline, 8",
            "asyncutil, 1", "asyncutil, 8"})
    void readWriteMixRoundsCountEveryOperationAndLeaveTheLockFree(String impl, int clientsPerLoop) throws Exception {
        ReadWriteMixBenchmark b = new ReadWriteMixBenchmark();
        b.impl = impl;
        b.clientsPerLoop = clientsPerLoop;
        Trial.run(b::setUp, b::tearDown, () -> {
            for (int i = 0; i < 3; i++) {
                // the round itself checks: continuations on their loops, no overlap, exact counts, lock free
                assertThat(b.round(3_200)).as("writes, round %d", i).isEqualTo(3_200 / ReadWriteMixBenchmark.WRITE_EVERY);
            }
        });
    }

    @Test
    void readWriteMixCatchesALockThatLetsAWriterOverlapReaders() throws Exception {
        // Grants everything at once: writers on one loop overlap readers on the other as soon as
        // both loops run at the same time, which some round of these will see.
        ReadWriteMixBenchmark b = new ReadWriteMixBenchmark();
        b.impl = "noExclusion";
        b.clientsPerLoop = 1;
        Trial.run(() -> b.setUp(new BrokenLock(null)), b::tearDown, () -> {
            assertThatThrownBy(() -> {
                for (int i = 0; i < 1_000; i++) {
                    b.round(ReadWriteMixBenchmark.OPS);
                }
            // Whichever overlap a round sees first: a writer with readers, or (two clients, one
            // per loop, both may write) two writers.
            }).isInstanceOf(IllegalStateException.class)
                    .hasMessageMatching("noExclusion: (a writer holds the lock while readers do"
                            + "|a reader holds the lock while a writer does|two writers hold the lock at once)");
        });
    }

    @Test
    void readWriteMixCatchesAContinuationOffTheClientsLoop() throws Exception {
        // Another Netty executor, not a j.u.c one: a ThreadPoolExecutor's execute() may park on its
        // queue's lock while its thread takes a task, and BlockHound then fails the client's loop
        // mid-round (seen once in CI: the round hung); Netty's task queue is allowed there.
        DefaultEventExecutor elsewhere = new DefaultEventExecutor();
        ReadWriteMixBenchmark b = new ReadWriteMixBenchmark();
        b.impl = "wrongThread";
        b.clientsPerLoop = 1;
        b.setUp(new BrokenLock(elsewhere));
        try {
            assertThatThrownBy(() -> b.round(400)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("ran off the client's loop");
        } finally {
            b.tearDown();
            elsewhere.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    /**
     * A lock that excludes nobody: every request is granted, at once or, with {@code continueOn},
     * through a continuation run there instead of on the client's loop.
     */
    private static final class BrokenLock extends ReadWriteLockPeer {
        final Executor continueOn;

        BrokenLock(Executor continueOn) {
            this.continueOn = continueOn;
        }

        @Override
        public Client on(EventExecutor loop) {
            return new Client() {
                @Override
                public boolean readLock(Continuation then) {
                    return grant(then);
                }

                @Override
                public boolean writeLock(Continuation then) {
                    return grant(then);
                }

                @Override
                public void unlockRead() {
                }

                @Override
                public void unlockWrite() {
                }
            };
        }

        private boolean grant(Continuation then) {
            if (continueOn == null) {
                return true;
            }
            continueOn.execute(then);
            return false;
        }

        @Override
        public boolean isFree() {
            return true;
        }
    }
}
