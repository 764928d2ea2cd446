package dev.nettysync.bench.jmh;

import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.AsyncRateLimiter;
import dev.nettysync.limit.KeyedLimiter;
import dev.nettysync.limit.Permit;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * What a per-key limit costs over one global limit: acquire + release through a
 * {@link KeyedLimiter} whose keys cycle over {@code keys} distinct client addresses (10,
 * 10<sup>4</sup>, 10<sup>6</sup>: from cache-resident to a map far bigger than the caches), against
 * the same acquire + release on a single limiter ({@code global}, the key ignored). Each key's
 * limiter is an {@link AsyncRateLimiter} that no thread can exhaust (10<sup>9</sup>/s), so every
 * call is an admission and the difference is the keyed machinery: the map lookup, the key's
 * reference count, the wrapping permit (leak tracking off, as in every benchmark). The cap is
 * above {@code keys} and the idle time one hour, so nothing is evicted in the measurement; the
 * first pass over the keys (creation) happens in the trial set-up.
 *
 * <p>{@code tryAcquireRelease} is {@code tryAcquire(key)} + {@code release()};
 * {@code acquireRelease} is the waiting API's immediate path, {@code acquire(key, executor)} +
 * {@code release()}, on {@link ImmediateEventExecutor} (an admission completes at once: no hop).
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar KeyedLimiterBenchmark -prof gc}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class KeyedLimiterBenchmark extends AbstractBenchmark {

    @Param({"keyed", "global"})
    public String impl;

    @Param({"10", "10000", "1000000"})
    public int keys;

    private String[] names;
    private int next;
    private KeyedLimiter<String> keyed;
    private AsyncLimiter global;

    @Setup(Level.Trial)
    public void setUp() {
        names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "10." + (i >>> 16 & 0xFF) + "." + (i >>> 8 & 0xFF) + "." + (i & 0xFF);
        }
        switch (impl) {
            case "keyed" -> {
                keyed = KeyedLimiter.<String>builder(k -> unlimitedRate())
                        .maxKeys(2 * keys).idleTime(Duration.ofHours(1)).build();
                for (String n : names) {
                    keyed.tryAcquire(n).release();
                }
            }
            case "global" -> global = unlimitedRate();
            default -> throw new IllegalArgumentException("impl: " + impl);
        }
    }

    private static AsyncRateLimiter unlimitedRate() {
        return AsyncRateLimiter.perSecond(1_000_000_000, 1_000_000_000);
    }

    private String nextKey() {
        int i = next;
        next = i + 1 == keys ? 0 : i + 1;
        return names[i];
    }

    @Benchmark
    public boolean tryAcquireRelease() {
        String key = nextKey();
        Permit p = keyed != null ? keyed.tryAcquire(key) : global.tryAcquire();
        if (p == null) {
            throw new IllegalStateException(impl + ": refused " + key);
        }
        return p.release();
    }

    @Benchmark
    public boolean acquireRelease() {
        String key = nextKey();
        Future<Permit> f = keyed != null
                ? keyed.acquire(key, ImmediateEventExecutor.INSTANCE)
                : global.acquire(ImmediateEventExecutor.INSTANCE);
        if (!f.isSuccess()) {
            throw new IllegalStateException(impl + ": acquire of " + key + " did not complete at once");
        }
        return f.getNow().release();
    }

    /** Live keys, for the smoke test. */
    public int liveKeys() {
        return keyed == null ? 0 : keyed.liveKeys();
    }
}
