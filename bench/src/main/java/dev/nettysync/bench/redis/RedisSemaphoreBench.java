package dev.nettysync.bench.redis;

import dev.nettysync.redis.RedisPermit;
import dev.nettysync.redis.RedisSemaphore;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Promise;
import org.redisson.api.RFuture;
import org.redisson.api.RPermitExpirableSemaphore;
import org.redisson.api.RedissonClient;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The fleet semaphore against Redisson's {@code RPermitExpirableSemaphore}, on the same
 * redis-server, in one run:
 * <ol>
 *   <li><b>commands per uncontended acquire + release</b>, from {@code INFO commandstats}
 *       ({@code CONFIG RESETSTAT}, then sequential pairs): the script calls a pair sends
 *       ({@code EVAL}/{@code EVALSHA}, the round trips; goal: 2) and every command Redis ran for
 *       it, inside scripts included;</li>
 *   <li><b>pairs/s and latency</b>: {@code --concurrency} chains of acquire → release, each pair
 *       timed from the acquire call to the release's confirmation by Redis, closed loop, after a
 *       warm-up.</li>
 * </ol>
 * Each peer gets its idiomatic asynchronous use: netty-sync's {@code acquire(loop)} and
 * {@code permit.release()} (its {@code lease()} future confirms), Redisson's
 * {@code acquireAsync(lease)} and {@code releaseAsync(id)} with its default pool.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.nettysync.bench.redis.RedisSemaphoreBench \
 *      --redis=redis://127.0.0.1:6379 --seconds=20 --concurrency=64
 * </pre>
 * (or {@code bench/scripts/redis.sh}, which starts its own redis-server). Do not point it at a
 * Redis that serves anything else: it calls {@code CONFIG RESETSTAT}.
 */
@Command(name = "redis-semaphore-bench", mixinStandardHelpOptions = true,
        description = "netty-sync RedisSemaphore vs Redisson RPermitExpirableSemaphore on one redis-server")
public final class RedisSemaphoreBench extends RedisBench {

    @Option(names = "--permits", description = "the semaphore's limit; above --concurrency keeps it uncontended (default: ${DEFAULT-VALUE})")
    int permits = 1024;

    @Option(names = "--pairs-for-count", description = "sequential pairs for the command count (default: ${DEFAULT-VALUE})")
    int countPairs = 1000;

    @Option(names = "--lease", description = "lease of each permit, seconds (default: ${DEFAULT-VALUE})")
    int leaseSeconds = 30;

    public static void main(String[] args) {
        System.exit(new CommandLine(new RedisSemaphoreBench()).execute(args));
    }

    @Override
    String runAndReport() throws Exception {
        return table(run());
    }

    /** One peer's figures. */
    public record Result(String impl, double scriptCallsPerPair, double commandsPerPair,
                         Map<String, Long> commandstats, long pairs, double pairsPerSecond,
                         double p50Micros, double p99Micros, double maxMicros, long errors) {
    }

    public List<Result> run() throws Exception {
        return withRedis((group, admin) -> {
            List<Result> results = new ArrayList<>();
            for (String impl : impls) {
                String name = "bench-" + impl + "-" + System.nanoTime();
                // a peer's operation: one acquire + release pair, done when Redis confirmed the release;
                // 1) commands per uncontended pair, one pair at a time; 2) closed loop
                try (Peer peer = open(impl, name)) {
                    CommandCount count = countCommands(peer, group.next(), admin, countPairs);
                    ClosedLoop run = warmUpAndMeasure(peer, group);
                    long pairs = run.admitted();
                    results.add(new Result(impl, count.scriptCallsPerOp(), count.commandsPerOp(), count.commandstats(),
                            pairs, pairs / (double) seconds, run.p50Micros(), run.p99Micros(), run.maxMicros(),
                            run.errors()));
                }
            }
            return results;
        });
    }

    private Peer open(String impl, String name) {
        switch (impl) {
            case "nettysync": {
                NettySync fleet = new NettySync();
                RedisSemaphore s = fleet.limiters.semaphore(name, permits, Duration.ofSeconds(leaseSeconds));
                return new Peer() {
                    @Override
                    public void run(EventLoop loop, Promise<Boolean> done) {
                        s.acquire(loop).addListener(f -> {
                            if (!f.isSuccess()) {
                                done.tryFailure(f.cause());
                                return;
                            }
                            RedisPermit p = (RedisPermit) f.getNow();
                            p.release();
                            p.lease().addListener(l -> complete(done, l.cause()));
                        });
                    }

                    @Override
                    public void close() throws Exception {
                        fleet.close();
                    }
                };
            }
            case "redisson": {
                RedissonClient client = redisson();
                RPermitExpirableSemaphore s = client.getPermitExpirableSemaphore(name);
                s.trySetPermits(permits);
                return new Peer() {
                    @Override
                    public void run(EventLoop loop, Promise<Boolean> done) {
                        RFuture<String> acquired = s.acquireAsync(leaseSeconds, TimeUnit.SECONDS);
                        acquired.whenComplete((id, error) -> {
                            if (error != null) {
                                done.tryFailure(error);
                                return;
                            }
                            s.releaseAsync(id).whenComplete((v, e) -> complete(done, e));
                        });
                    }

                    @Override
                    public void close() {
                        s.delete();
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
        sb.append("| impl | script calls / pair | all commands / pair | pairs/s | p50 µs | p99 µs | max µs | errors |\n");
        sb.append("|---|---|---|---|---|---|---|---|\n");
        for (Result r : results) {
            sb.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f | %d |%n",
                    r.impl(), r.scriptCallsPerPair(), r.commandsPerPair(), r.pairsPerSecond(),
                    r.p50Micros(), r.p99Micros(), r.maxMicros(), r.errors()));
        }
        appendRatioAndCommands(sb, "pairs", results.stream().map(Result::impl).toList(),
                results.stream().map(Result::pairsPerSecond).toList(), results.stream().map(Result::p99Micros).toList(),
                results.stream().map(Result::commandstats).toList());
        return sb.toString();
    }
}
