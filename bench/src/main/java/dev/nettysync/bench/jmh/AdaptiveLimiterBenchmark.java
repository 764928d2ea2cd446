package dev.nettysync.bench.jmh;

import com.netflix.concurrency.limits.Limit;
import com.netflix.concurrency.limits.Limiter;
import com.netflix.concurrency.limits.limit.VegasLimit;
import com.netflix.concurrency.limits.limit.WindowedLimit;
import com.netflix.concurrency.limits.limiter.SimpleLimiter;
import dev.nettysync.adaptive.AdaptiveLimiter;
import dev.nettysync.limit.Permit;
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

import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * An adaptive limit's admission and end, peers side by side: netty-sync's
 * {@link AdaptiveLimiter#tryAcquire()} + {@link Permit#release()} against Netflix
 * concurrency-limits' own {@link SimpleLimiter#acquire} + {@code Listener.onSuccess()}, the
 * non-blocking form Netflix ships (it has no FIFO wait to compare; its blocking limiters park a
 * thread). Both run the same algorithm, configured alike: Vegas (initial limit 20, at most 200)
 * in a 100 ms {@link WindowedLimit}, which is {@code AdaptiveLimiter.builder()}'s default and
 * the wrapping Netflix's README shows. Every call is admitted (the limit is never reached) and
 * every end is a latency sample, so the rows measure the limiter's bookkeeping: the count of
 * permits in use, the permit or listener object, and the sample handed to the window.
 *
 * <p>{@code tryAcquireRelease} runs on one thread, {@code tryAcquireReleaseContended} on two.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar AdaptiveLimiterBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class AdaptiveLimiterBenchmark extends AbstractBenchmark {

    public static final String NETTYSYNC = "nettysync";
    public static final String NETFLIX = "netflix";

    static final int INITIAL_LIMIT = 20;
    static final int MAX_LIMIT = 200;

    @Param({NETTYSYNC, NETFLIX})
    public String impl;

    private AdaptiveLimiter nettysync;
    private SimpleLimiter<Void> netflix;

    @Setup(Level.Trial)
    public void setUp() {
        switch (impl) {
            case NETTYSYNC -> nettysync = AdaptiveLimiter.builder()
                    .initialLimit(INITIAL_LIMIT).maxLimit(MAX_LIMIT).build();     // Vegas, 100 ms window
            case NETFLIX -> netflix = SimpleLimiter.newBuilder().limit(windowedVegas()).build();
            default -> throw new IllegalArgumentException("impl: " + impl);
        }
    }

    /** What {@code AdaptiveLimiter.builder()} builds by default, for the Netflix limiter. */
    private static Limit windowedVegas() {
        long window = TimeUnit.MILLISECONDS.toNanos(100);
        return WindowedLimit.newBuilder()
                .minWindowTime(window, TimeUnit.NANOSECONDS)
                .maxWindowTime(window, TimeUnit.NANOSECONDS)
                .build(VegasLimit.newBuilder().initialLimit(INITIAL_LIMIT).maxConcurrency(MAX_LIMIT).build());
    }

    @Benchmark
    public boolean tryAcquireRelease() {
        return admitAndEnd();
    }

    @Benchmark
    @Threads(2)
    public boolean tryAcquireReleaseContended() {
        return admitAndEnd();
    }

    /** One admission and its end (a latency sample); true if admitted. Public for the smoke test. */
    public boolean admitAndEnd() {
        if (nettysync != null) {
            Permit p = nettysync.tryAcquire();
            return p != null && p.release();
        }
        Optional<Limiter.Listener> listener = netflix.acquire(null);
        if (listener.isEmpty()) {
            return false;
        }
        listener.get().onSuccess();
        return true;
    }

    /** The limit in force, for the smoke test. */
    public int limit() {
        return nettysync != null ? nettysync.currentLimit() : netflix.getLimit();
    }

    /** Permits in use, for the smoke test. */
    public long inUse() {
        return nettysync != null ? nettysync.statistics().inUse() : netflix.getInflight();
    }
}
