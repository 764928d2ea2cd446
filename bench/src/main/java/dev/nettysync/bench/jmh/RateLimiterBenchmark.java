package dev.nettysync.bench.jmh;

import dev.nettysync.limit.AsyncRateLimiter;
import dev.nettysync.limit.Permit;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.internal.AtomicRateLimiter;
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

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The non-waiting admission of a rate limiter, peers side by side: netty-sync
 * {@link AsyncRateLimiter#tryAcquireNanos(int)} (0 B/op, answers the retry-after too) and
 * {@link AsyncRateLimiter#tryAcquire()} (returns a {@link Permit}, 1 small object), Resilience4j
 * {@link AtomicRateLimiter#acquirePermission()} (timeout 0: never parks) and Bucket4j
 * {@code Bucket.tryConsume(1)} (a local lock-free bucket) — each in its own idiomatic, fastest
 * non-blocking form.
 *
 * <p>{@code scenario}: {@code admit} sets a rate no thread can exhaust (10<sup>9</sup>/s with an
 * equal burst; Resilience4j: 10<sup>9</sup> per 1 s period), so every call is an admission;
 * {@code refuse} sets 1/s with a burst of 1, so after the first call every call is a refusal,
 * the path a server under attack runs. {@code tryAcquire} runs on one thread,
 * {@code tryAcquireContended} on two (every call a CAS on the same word).
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar RateLimiterBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class RateLimiterBenchmark extends AbstractBenchmark {

    public static final String NETTYSYNC = "nettysync";
    public static final String NETTYSYNC_PERMIT = "nettysyncPermit";
    public static final String RESILIENCE4J = "resilience4j";
    public static final String BUCKET4J = "bucket4j";

    @Param({NETTYSYNC, NETTYSYNC_PERMIT, RESILIENCE4J, BUCKET4J})
    public String impl;

    @Param({"admit", "refuse"})
    public String scenario;

    private AsyncRateLimiter nettysync;
    private AtomicRateLimiter resilience4j;
    private Bucket bucket4j;

    @Setup(Level.Trial)
    public void setUp() {
        boolean admit = switch (scenario) {
            case "admit" -> true;
            case "refuse" -> false;
            default -> throw new IllegalArgumentException("scenario: " + scenario);
        };
        int permits = admit ? 1_000_000_000 : 1;
        switch (impl) {
            case NETTYSYNC, NETTYSYNC_PERMIT -> nettysync = AsyncRateLimiter.perSecond(permits, permits);
            case RESILIENCE4J -> resilience4j = new AtomicRateLimiter("bench", RateLimiterConfig.custom()
                    .limitForPeriod(permits)
                    .limitRefreshPeriod(Duration.ofSeconds(1))
                    .timeoutDuration(Duration.ZERO)
                    .build());
            case BUCKET4J -> bucket4j = Bucket.builder()
                    .addLimit(Bandwidth.builder().capacity(permits).refillGreedy(permits, Duration.ofSeconds(1)).build())
                    .build();
            default -> throw new IllegalArgumentException("impl: " + impl);
        }
    }

    @Benchmark
    public boolean tryAcquire() {
        return admit();
    }

    @Benchmark
    @Threads(2)
    public boolean tryAcquireContended() {
        return admit();
    }

    /** One admission attempt of the chosen peer; true if admitted. Public for the smoke test. */
    public boolean admit() {
        switch (impl) {
            case NETTYSYNC:
                return nettysync.tryAcquireNanos(1) == 0;
            case NETTYSYNC_PERMIT: {
                Permit p = nettysync.tryAcquire();
                return p != null && p.release();
            }
            case RESILIENCE4J:
                return resilience4j.acquirePermission();
            case BUCKET4J:
                return bucket4j.tryConsume(1);
            default:
                throw new IllegalStateException(impl);
        }
    }
}
