package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.SemaphorePeer;
import io.netty.channel.EventLoop;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.ThreadParams;

import java.util.concurrent.TimeUnit;

/**
 * A limiter shared by every loop, as a gateway's backend limit is, with permits to spare: two
 * threads, each acquiring for its own event loop ({@code acquire(loop)} + {@code release()}) on
 * one semaphore of 1,000 permits, so every acquire takes the fast path and the threads contend
 * only on the semaphore's state. The yardstick is {@code jdk}
 * ({@code acquireUninterruptibly()} + {@code release()} on one {@link java.util.concurrent.Semaphore}).
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar SharedFastPathBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class SharedFastPathBenchmark extends AbstractEventLoopBenchmark {

    @Param({SemaphorePeer.NETTYSYNC, SemaphorePeer.JDK})
    public String impl;

    SemaphorePeer sem;

    @Setup(Level.Trial)
    public void setUp() {
        loops = new Loops(2);
        sem = SemaphorePeer.create(impl, 1_000);
    }

    /** The calling thread's loop: thread k acquires for loop k. */
    @State(Scope.Thread)
    public static class Caller {
        EventLoop loop;

        @Setup(Level.Trial)
        public void setUp(SharedFastPathBenchmark b, ThreadParams t) {
            loop = b.loops.loops[t.getThreadIndex() % b.loops.loops.length];
        }
    }

    @Benchmark
    public Object acquireRelease(Caller c) {
        Object handle = sem.acquire(c.loop);
        if (!sem.isAcquired(handle)) {
            throw new IllegalStateException(impl + ": an acquire with permits to spare did not complete at once");
        }
        sem.release();
        return handle;
    }
}
