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
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

/**
 * Goal P1: one thread, a permit always free. {@code tryAcquireRelease} is
 * {@code tryAcquire()} + {@code release()}; {@code acquireRelease} is the waiting API's fast path,
 * {@code acquire(loop)} + {@code release()}, whose returned future (bound to a real event loop) is
 * handed to the blackhole as a caller would keep it. The yardstick is
 * {@code jdk}'s {@code tryAcquireRelease} ({@link java.util.concurrent.Semaphore}); run with
 * {@code -prof gc} for B/op ({@code tryAcquire} must allocate 0 bytes).
 *
 * <p>{@code acquireReleaseManyLoops} is {@code acquireRelease} with the caller's executor taken in
 * turn from {@link ManyLoops#loopCount} loops (16 by default), as a server's loops share one
 * semaphore: it prices the lookup of each executor's cached succeeded future when several
 * executors use it, where a cache that lets two executors evict each other allocates a future
 * on every such acquire (see B/op).
 *
 * <p>No hop is measured here because none is paid: the acquire completes at once and the caller
 * (normally on its loop) continues inline. For {@code jdk}/{@code jdkFair}, {@code acquire} is
 * {@code acquireUninterruptibly()}.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar UncontendedBenchmark -prof gc}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class UncontendedBenchmark extends AbstractEventLoopBenchmark {

    @Param({SemaphorePeer.NETTYSYNC, SemaphorePeer.JDK, SemaphorePeer.JDK_FAIR, SemaphorePeer.ASYNCUTIL,
            SemaphorePeer.NAIVE})
    public String impl;

    private EventLoop loop;
    private SemaphorePeer sem;

    @Setup(Level.Trial)
    public void setUp() {
        loops = new Loops(1);
        loop = loops.loops[0];
        sem = SemaphorePeer.create(impl, 1);
    }

    @Benchmark
    public boolean tryAcquireRelease() {
        boolean ok = sem.tryAcquire();
        if (ok) {
            sem.release();
        }
        return ok;
    }

    @Benchmark
    public Object acquireRelease() {
        return acquireRelease(loop);
    }

    @Benchmark
    public Object acquireReleaseManyLoops(ManyLoops many) {
        return acquireRelease(many.next());
    }

    private Object acquireRelease(EventLoop loop) {
        Object handle = sem.acquire(loop);
        if (sem.isAcquired(handle)) {
            sem.release();
        } else {
            throw new IllegalStateException(impl + ": uncontended acquire did not complete at once");
        }
        return handle;
    }

    /** The loops {@code acquireReleaseManyLoops} takes in turn. */
    @State(Scope.Thread)
    public static class ManyLoops {
        @Param({"16"})
        public int loopCount;

        private Loops loops;
        private int next;

        @Setup(Level.Trial)
        public void start() {
            loops = new Loops(loopCount);
        }

        @TearDown(Level.Trial)
        public void stop() {
            loops.close();
        }

        EventLoop next() {
            EventLoop loop = loops.loops[next];
            next = next + 1 == loopCount ? 0 : next + 1;
            return loop;
        }
    }
}
