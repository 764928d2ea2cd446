package dev.nettysync.bench.jmh;

import dev.nettysync.bench.jmh.AbstractEventLoopBenchmark.Loops;
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

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Goal P3: the cost of an operation must not depend on how many waiters are queued. A semaphore
 * with no free permit holds {@code depth} waiters (futures bound to a real event loop, no
 * listeners, so nothing hops); each operation keeps the depth constant:
 * <ul>
 *   <li>{@code releaseAndRequeue}: {@code release()} grants the head waiter (completing its
 *       future) and one new {@code acquire} queues at the tail. All async peers.</li>
 *   <li>{@code cancelAndRequeue}: a uniformly random queued waiter is cancelled and replaced by a
 *       new {@code acquire} at the tail. {@code nettysync} cancels through the future (O(1)
 *       unlink); {@code naive} removes from its {@code ArrayDeque} (O(n)). asyncutil 0.1.0 has
 *       no cancellation, so it is not in this table.</li>
 *   <li>{@code randomTouch} (control, netty-sync only): reads the state of a uniformly random
 *       queued waiter, nothing else. It has no algorithmic dependence on depth at all, so its
 *       growth from 10 to 1,000,000 waiters is the price of touching random memory once the
 *       queue no longer fits in cache; {@code cancelAndRequeue} touches the waiter and its two
 *       neighbours, so it pays that price about three times.</li>
 * </ul>
 * Bytes per queued waiter: {@code -prof gc} gives B/op (one waiter allocated per op plus the
 * garbage of the one that left) and the GC time of each iteration, which the report shows as a
 * share of the measured time; {@link WaiterFootprint} measures retained bytes per waiter. A deep
 * queue is old-generation data that every op links into and unlinks from, so the collector's
 * write barriers are part of the cost: run the class under G1 (the default) and under a second
 * collector ({@code -jvmArgs -XX:+UseParallelGC} or {@code -XX:+UseZGC}); the report labels each
 * row with its collector.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar DeepQueueBenchmark -prof gc}, then the same
 * with {@code -jvmArgs -XX:+UseParallelGC}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class DeepQueueBenchmark extends AbstractBenchmark {   // its loops belong to the states below

    /** Shared by the states: a single event loop, the semaphore, the queue filled to depth. */
    public abstract static class Queue {
        Loops loops;
        EventLoop loop;
        SemaphorePeer sem;

        abstract String impl();

        abstract int depth();

        void fill(Object[] keep) {
            if (!SemaphorePeer.ASYNC.contains(impl())) {   // a JDK semaphore would block the fill forever
                throw new IllegalArgumentException("impl " + impl() + " cannot queue waiters without blocking; use one of "
                        + SemaphorePeer.ASYNC);
            }
            loops = new Loops(1);
            loop = loops.loops[0];
            sem = SemaphorePeer.create(impl(), 0);
            for (int i = 0; i < depth(); i++) {
                Object h = sem.acquire(loop);
                if (keep != null) {
                    keep[i] = h;
                }
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            loops.close();
        }
    }

    @State(Scope.Thread)
    public static class ReleaseState extends Queue {
        @Param({SemaphorePeer.NETTYSYNC, SemaphorePeer.ASYNCUTIL, SemaphorePeer.NAIVE, SemaphorePeer.FLOOR,
                SemaphorePeer.FLOOR_ATOMIC})
        public String impl;

        @Param({"10", "10000", "1000000"})
        public int depth;

        @Override String impl() { return impl; }
        @Override int depth() { return depth; }

        @Setup(Level.Trial)
        public void setUp() {
            fill(null);
        }
    }

    /** A queue whose waiters' handles are kept, to cancel or read a random one. */
    public abstract static class QueueWithHandles extends Queue {
        Object[] handles;

        @Setup(Level.Trial)
        public void setUp() {
            handles = new Object[depth()];
            fill(handles);
        }
    }

    @State(Scope.Thread)
    public static class CancelState extends QueueWithHandles {
        @Param({SemaphorePeer.NETTYSYNC, SemaphorePeer.NAIVE})
        public String impl;

        @Param({"10", "10000", "1000000"})
        public int depth;

        @Override String impl() { return impl; }
        @Override int depth() { return depth; }
    }

    @State(Scope.Thread)
    public static class TouchState extends QueueWithHandles {
        @Param({SemaphorePeer.NETTYSYNC})
        public String impl;

        @Param({"10", "10000", "1000000"})
        public int depth;

        @Override String impl() { return impl; }
        @Override int depth() { return depth; }
    }

    @Benchmark
    public Object releaseAndRequeue(ReleaseState s) {
        s.sem.release();
        return s.sem.acquire(s.loop);
    }

    @Benchmark
    public Object cancelAndRequeue(CancelState s) {
        int i = ThreadLocalRandom.current().nextInt(s.handles.length);
        if (!s.sem.cancel(s.handles[i])) {
            throw new IllegalStateException(s.impl + ": a queued waiter could not be cancelled");
        }
        return s.handles[i] = s.sem.acquire(s.loop);
    }

    @Benchmark
    public boolean randomTouch(TouchState s) {
        int i = ThreadLocalRandom.current().nextInt(s.handles.length);
        return s.sem.isAcquired(s.handles[i]);
    }
}
