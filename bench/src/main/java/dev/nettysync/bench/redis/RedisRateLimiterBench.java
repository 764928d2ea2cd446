package dev.nettysync.bench.redis;

import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RateLimitedException;
import dev.nettysync.redis.RedisRateLimiter;
import io.lettuce.core.api.sync.RedisCommands;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.redisson.api.RRateLimiter;
import org.redisson.api.RateType;
import org.redisson.api.RedissonClient;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The fleet rate limiter against Redisson's {@code RRateLimiter}, on the same redis-server, in
 * one run:
 * <ol>
 *   <li><b>commands per admission</b>, from {@code INFO commandstats} ({@code CONFIG RESETSTAT},
 *       then sequential admissions under a limit that does not bind): the script calls an
 *       admission sends ({@code EVAL}/{@code EVALSHA}, the round trips) and every command Redis
 *       ran for it, inside scripts included;</li>
 *   <li><b>deciding</b>: admissions/s and latency of {@code --concurrency} chains of now-or-never
 *       admissions, closed loop, after a warm-up, under a limit ({@code --rate},
 *       {@code --burst}) far above what the chains can ask, so nothing is refused and the figure
 *       is the cost of deciding;</li>
 *   <li><b>binding</b> (unless {@code --binding-rate=-1}): the same chains under a limit they
 *       exceed (by default half of what the slower peer admitted in scenario 2): admitted/s
 *       against the configured rate, and the bound {@code burst + rate × t} over the measured
 *       span {@code t} (from the first call to the last completion).</li>
 * </ol>
 * Each peer gets its idiomatic asynchronous now-or-never use: netty-sync's
 * {@code acquire(loop, 0, unit)} (a refusal fails it with {@link RateLimitedException}; the
 * permit, which gives nothing back, is ended), Redisson's {@code tryAcquireAsync()} (a refusal
 * is {@code false}) with its default pool.
 *
 * <p><b>The same limit for both.</b> netty-sync's is GCRA: {@code burst} at once, {@code rate}
 * per second on average, on the server's clock (microseconds). Redisson's is a sliding log: at
 * most {@code permits} in any window of {@code interval}, on the client's clock
 * ({@code System.currentTimeMillis()}, sent with each call); it has no burst of its own. It gets
 * {@code trySetRate(OVERALL, burst, burst / rate seconds)}, which admits the same
 * {@code burst} at once and the same {@code rate} on average, so {@code burst / rate} must be a
 * whole number of milliseconds. Its millisecond clock lets it admit up to {@code rate × 1 ms}
 * more in a window than the bound; the report adds that to its bound.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.nettysync.bench.redis.RedisRateLimiterBench \
 *      --redis=redis://127.0.0.1:6379 --seconds=20 --concurrency=64
 * </pre>
 * (or {@code BENCH=rate bench/scripts/redis.sh}, which starts its own redis-server). Do not
 * point it at a Redis that serves anything else: it calls {@code CONFIG RESETSTAT}.
 */
@Command(name = "redis-rate-limiter-bench", mixinStandardHelpOptions = true,
        description = "netty-sync RedisRateLimiter vs Redisson RRateLimiter on one redis-server")
public final class RedisRateLimiterBench extends RedisBench {

    @Option(names = "--rate", description = "permits per second while deciding; far above what the chains ask (default: ${DEFAULT-VALUE})")
    long rate = 1_000_000;

    @Option(names = "--burst", description = "burst while deciding; burst / rate must be whole milliseconds (default: ${DEFAULT-VALUE}, 100 ms)")
    int burst = 100_000;

    @Option(names = "--binding-rate", description = "permits per second of the binding scenario; 0: half the slower peer's"
            + " admissions/s while deciding, in steps of 100/s; -1: no binding scenario (default: ${DEFAULT-VALUE})")
    long bindingRate = 0;

    @Option(names = "--binding-burst", description = "burst of the binding scenario; 0: rate x 10 ms (default: ${DEFAULT-VALUE})")
    int bindingBurst = 0;

    @Option(names = "--admissions-for-count", description = "sequential admissions for the command count (default: ${DEFAULT-VALUE})")
    int countAdmissions = 1000;

    public static void main(String[] args) {
        System.exit(new CommandLine(new RedisRateLimiterBench()).execute(args));
    }

    @Override
    String runAndReport() throws Exception {
        return table(run());
    }

    /**
     * A limit as both peers are given it: {@code burst} at once, {@code rate} per second on
     * average; Redisson's form is {@code burst} per {@link #window()}.
     */
    public record Limit(long rate, int burst) {
        public Limit {
            if (rate < 1 || burst < 1 || burst * 1000L % rate != 0) {
                throw new IllegalArgumentException("rate " + rate + "/s, burst " + burst + ": burst / rate must be"
                        + " a whole number of milliseconds (Redisson's window), at least 1");
            }
        }

        public Duration window() {
            return Duration.ofMillis(burst * 1000L / rate);
        }
    }

    /**
     * One peer in one scenario ({@code deciding} or {@code binding}); {@code count} is the
     * command count (deciding only, else {@code null}); {@code clockSeconds}, the resolution of
     * the clock the peer's limit runs on.
     */
    public record Result(String impl, String scenario, Limit limit, CommandCount count, ClosedLoop run,
                         double clockSeconds) {

        public double admittedPerSecond() {
            return run.admitted() / run.elapsedSeconds();
        }

        /** The most the limit may admit over the measured span: burst + rate × (t + the clock's resolution). */
        public double bound() {
            return limit.burst() + limit.rate() * (run.elapsedSeconds() + clockSeconds);
        }
    }

    /** A peer under test: its {@link Op} is one now-or-never admission. */
    interface RatePeer extends Peer {
        /** The resolution of the clock its limit runs on, in seconds. */
        double clockSeconds();
    }

    public List<Result> run() throws Exception {
        Limit deciding = limit(rate, burst, "--rate/--burst");
        return withRedis((group, admin) -> {
            List<Result> results = new ArrayList<>();
            for (String impl : impls) {
                results.add(scenario(impl, "deciding", deciding, group, admin));
            }
            if (bindingRate >= 0) {
                Limit binding = bindingLimit(results);
                for (String impl : impls) {
                    results.add(scenario(impl, "binding", binding, group, null));
                }
            }
            return results;
        });
    }

    /** With {@code admin}, the command count first (sequential admissions), then the closed loop. */
    private Result scenario(String impl, String scenario, Limit limit, EventLoopGroup group,
                            RedisCommands<String, String> admin) throws Exception {
        String name = "bench-rate-" + impl + "-" + System.nanoTime();
        try (RatePeer peer = open(impl, name, limit)) {
            CommandCount count = admin == null ? null : countCommands(peer, group.next(), admin, countAdmissions);
            return new Result(impl, scenario, limit, count, warmUpAndMeasure(peer, group), peer.clockSeconds());
        }
    }

    private Limit bindingLimit(List<Result> deciding) {
        if (bindingRate > 0) {
            return limit(bindingRate, bindingBurst > 0 ? bindingBurst : (int) Math.max(1, bindingRate / 100),
                    "--binding-rate/--binding-burst");
        }
        double slowest = deciding.stream().mapToDouble(Result::admittedPerSecond).min().orElse(0);
        long r = Math.max(100, (long) (slowest / 2 / 100) * 100);
        return limit(r, bindingBurst > 0 ? bindingBurst : (int) (r / 100), "--binding-burst");
    }

    private Limit limit(long r, int b, String options) {
        try {
            return new Limit(r, b);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), options + ": " + e.getMessage());
        }
    }

    private RatePeer open(String impl, String name, Limit limit) {
        switch (impl) {
            case "nettysync": {
                NettySync fleet = new NettySync();
                RedisRateLimiter r = fleet.limiters.rateLimiter(name, limit.rate(), limit.burst());
                return new RatePeer() {
                    @Override
                    public void run(EventLoop loop, Promise<Boolean> done) {
                        Future<Permit> f = r.acquire(loop, 0, TimeUnit.NANOSECONDS);
                        f.addListener(x -> {
                            if (f.isSuccess()) {
                                f.getNow().release();               // gives nothing back; ended as a user would
                                done.trySuccess(true);
                            } else if (f.cause() instanceof RateLimitedException) {
                                done.trySuccess(false);
                            } else {
                                done.tryFailure(f.cause());
                            }
                        });
                    }

                    @Override
                    public double clockSeconds() {
                        return 1e-6;                                // the server's TIME, in microseconds
                    }

                    @Override
                    public void close() throws Exception {
                        fleet.close();
                    }
                };
            }
            case "redisson": {
                RedissonClient client = redisson();
                RRateLimiter r = client.getRateLimiter(name);
                if (!r.trySetRate(RateType.OVERALL, limit.burst(), limit.window())) {
                    client.shutdown();
                    throw new IllegalStateException("RRateLimiter " + name + " already had a rate");
                }
                return new RatePeer() {
                    @Override
                    public void run(EventLoop loop, Promise<Boolean> done) {
                        r.tryAcquireAsync().whenComplete((admitted, e) -> {
                            if (e != null) {
                                done.tryFailure(e);
                            } else {
                                done.trySuccess(admitted);
                            }
                        });
                    }

                    @Override
                    public double clockSeconds() {
                        return 1e-3;                                // the client's currentTimeMillis
                    }

                    @Override
                    public void close() {
                        r.delete();
                        client.shutdown();
                    }
                };
            }
            default:
                throw unknownImpl(impl);
        }
    }

    static String table(List<Result> results) {
        StringBuilder sb = new StringBuilder();
        sb.append("Deciding (the limit does not bind):\n\n");
        sb.append("| impl | rate/s, burst | script calls / admission | all commands / admission | admitted/s | refused | p50 µs | p99 µs | max µs | errors |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|\n");
        List<Result> deciding = results.stream().filter(r -> r.count() != null).toList();
        for (Result r : deciding) {
            sb.append(String.format(Locale.ROOT, "| %s | %d, %d | %.2f | %.2f | %.0f | %d | %.0f | %.0f | %.0f | %d |%n",
                    r.impl(), r.limit().rate(), r.limit().burst(), r.count().scriptCallsPerOp(),
                    r.count().commandsPerOp(), r.admittedPerSecond(), r.run().refused(), r.run().p50Micros(),
                    r.run().p99Micros(), r.run().maxMicros(), r.run().errors()));
        }
        appendRatioAndCommands(sb, "admissions", deciding.stream().map(Result::impl).toList(),
                deciding.stream().map(Result::admittedPerSecond).toList(),
                deciding.stream().map(r -> r.run().p99Micros()).toList(),
                deciding.stream().map(r -> r.count().commandstats()).toList());
        if (deciding.stream().anyMatch(r -> r.run().refused() > 0)) {
            sb.append("\nrefusals while deciding: the limit bound; raise --rate and --burst\n");
        }
        List<Result> binding = results.stream().filter(r -> r.count() == null).toList();
        if (!binding.isEmpty()) {
            sb.append("\nBinding (accuracy):\n\n");
            sb.append("| impl | rate/s, burst (Redisson: per window) | seconds | admitted | refused | admitted/s | ÷ rate | bound burst + rate × (t + clock) | within | p99 µs | errors |\n");
            sb.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
            for (Result r : binding) {
                sb.append(String.format(Locale.ROOT, "| %s | %d, %d (%d ms) | %.3f | %d | %d | %.0f | %.3f | %.0f | %s | %.0f | %d |%n",
                        r.impl(), r.limit().rate(), r.limit().burst(), r.limit().window().toMillis(),
                        r.run().elapsedSeconds(), r.run().admitted(), r.run().refused(), r.admittedPerSecond(),
                        r.admittedPerSecond() / r.limit().rate(), r.bound(), r.run().admitted() <= r.bound() ? "yes" : "NO",
                        r.run().p99Micros(), r.run().errors()));
            }
        }
        return sb.toString();
    }
}
