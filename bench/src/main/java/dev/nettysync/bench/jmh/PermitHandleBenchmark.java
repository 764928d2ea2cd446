package dev.nettysync.bench.jmh;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.Permit;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.TimeUnit;

/**
 * Issue 9: what a {@link Permit} handle costs over the raw API, uncontended, one thread, with
 * leak detection at the level the JVM runs with (Netty's default, SIMPLE, samples about one
 * permit in 128). {@code raw} is {@code AsyncSemaphore.acquire(loop)} + {@code release()};
 * {@code handle} is {@code AsyncLimiter.of(semaphore).acquire(loop)} + {@code permit.release()};
 * {@code composite3} is {@code AsyncLimiter.all(a, b, c)} of three such limiters. Goal: handle
 * ≤ 2× raw; B/op with {@code -prof gc}.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar PermitHandleBenchmark -prof gc}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class PermitHandleBenchmark extends AbstractEventLoopBenchmark {

    @Param({"raw", "handle", "composite3"})
    public String impl;

    private EventLoop loop;
    private AsyncSemaphore sem;
    private AsyncLimiter limiter;

    @Setup(Level.Trial)
    public void setUp() {
        loops = new Loops(1);
        loop = loops.loops[0];
        sem = new AsyncSemaphore(1);
        switch (impl) {
            case "handle" -> limiter = AsyncLimiter.of(sem);
            case "composite3" -> limiter = AsyncLimiter.all(AsyncLimiter.of(sem),
                    AsyncLimiter.of(new AsyncSemaphore(1)), AsyncLimiter.of(new AsyncSemaphore(1)));
            default -> limiter = null;
        }
    }

    @Benchmark
    public Object acquireRelease() {
        if (limiter == null) {
            Future<Void> f = sem.acquire(loop);
            if (!f.isSuccess()) {
                throw new IllegalStateException("raw: an uncontended acquire did not complete at once");
            }
            sem.release();
            return f;
        }
        Future<Permit> f = limiter.acquire(loop);
        if (!f.isSuccess()) {
            throw new IllegalStateException(impl + ": an uncontended acquire did not complete at once");
        }
        f.getNow().release();
        return f;
    }
}
