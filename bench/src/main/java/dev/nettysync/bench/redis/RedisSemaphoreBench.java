package dev.nettysync.bench.redis;

import dev.nettysync.redis.RedisLimiters;
import dev.nettysync.redis.RedisPermit;
import dev.nettysync.redis.RedisSemaphore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.HdrHistogram.Recorder;
import org.HdrHistogram.Histogram;
import org.redisson.Redisson;
import org.redisson.api.RFuture;
import org.redisson.api.RPermitExpirableSemaphore;
import org.redisson.api.RedissonClient;
import org.redisson.config.Config;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

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
public final class RedisSemaphoreBench implements Callable<Integer> {

    /** The longest pair latency the histogram tells apart (longer is recorded as this). */
    private static final long HIGHEST_NANOS = TimeUnit.MINUTES.toNanos(1);

    @Option(names = "--redis", description = "Redis URI (default: ${DEFAULT-VALUE})")
    String redis = "redis://127.0.0.1:6379";

    @Option(names = "--impl", split = ",", description = "nettysync, redisson (default: both)")
    List<String> impls = List.of("nettysync", "redisson");

    @Option(names = "--permits", description = "the semaphore's limit; above --concurrency keeps it uncontended (default: ${DEFAULT-VALUE})")
    int permits = 1024;

    @Option(names = "--concurrency", description = "pairs in flight (default: ${DEFAULT-VALUE})")
    int concurrency = 64;

    @Option(names = "--loops", description = "caller event loops (default: ${DEFAULT-VALUE})")
    int loops = 2;

    @Option(names = "--warmup", description = "seconds of warm-up per peer (default: ${DEFAULT-VALUE})")
    int warmupSeconds = 5;

    @Option(names = "--seconds", description = "seconds measured per peer (default: ${DEFAULT-VALUE})")
    int seconds = 20;

    @Option(names = "--pairs-for-count", description = "sequential pairs for the command count (default: ${DEFAULT-VALUE})")
    int countPairs = 1000;

    @Option(names = "--lease", description = "lease of each permit, seconds (default: ${DEFAULT-VALUE})")
    int leaseSeconds = 30;

    public static void main(String[] args) {
        System.exit(new CommandLine(new RedisSemaphoreBench()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        List<Result> results = run();
        System.out.println(table(results));
        return 0;
    }

    /** One peer's figures. */
    public record Result(String impl, double scriptCallsPerPair, double commandsPerPair,
                         Map<String, Long> commandstats, long pairs, double pairsPerSecond,
                         double p50Micros, double p99Micros, double maxMicros, long errors) {
    }

    /** A peer under test: one acquire + release pair, completing when Redis confirmed the release. */
    interface Peer extends AutoCloseable {
        void pair(EventLoop loop, Promise<Void> done);

        @Override
        void close() throws Exception;
    }

    public List<Result> run() throws Exception {
        List<Result> results = new ArrayList<>();
        EventLoopGroup group = new DefaultEventLoopGroup(loops);
        RedisClient admin = RedisClient.create(redis);
        try (StatefulRedisConnection<String, String> conn = admin.connect()) {
            RedisCommands<String, String> cmd = conn.sync();
            for (String impl : impls) {
                String name = "bench-" + impl + "-" + System.nanoTime();
                try (Peer peer = open(impl, name)) {
                    results.add(measure(impl, peer, group, cmd));
                }
            }
        } finally {
            admin.shutdown();
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
        }
        return results;
    }

    private Peer open(String impl, String name) {
        switch (impl) {
            case "nettysync": {
                RedisClient client = RedisClient.create(redis);
                RedisLimiters limiters = RedisLimiters.builder(client).connect();
                RedisSemaphore s = limiters.semaphore(name, permits, Duration.ofSeconds(leaseSeconds));
                return new Peer() {
                    @Override
                    public void pair(EventLoop loop, Promise<Void> done) {
                        s.acquire(loop).addListener(f -> {
                            if (!f.isSuccess()) {
                                done.tryFailure(f.cause());
                                return;
                            }
                            RedisPermit p = (RedisPermit) f.getNow();
                            p.release();
                            p.lease().addListener(l -> {
                                if (l.isSuccess()) {
                                    done.trySuccess(null);
                                } else {
                                    done.tryFailure(l.cause());
                                }
                            });
                        });
                    }

                    @Override
                    public void close() throws Exception {
                        limiters.closeAsync().toCompletableFuture().get(10, TimeUnit.SECONDS);
                        client.shutdown();
                    }
                };
            }
            case "redisson": {
                Config config = new Config();
                config.useSingleServer().setAddress(redis);
                RedissonClient client = Redisson.create(config);
                RPermitExpirableSemaphore s = client.getPermitExpirableSemaphore(name);
                s.trySetPermits(permits);
                return new Peer() {
                    @Override
                    public void pair(EventLoop loop, Promise<Void> done) {
                        RFuture<String> acquired = s.acquireAsync(leaseSeconds, TimeUnit.SECONDS);
                        acquired.whenComplete((id, error) -> {
                            if (error != null) {
                                done.tryFailure(error);
                                return;
                            }
                            s.releaseAsync(id).whenComplete((v, e) -> {
                                if (e != null) {
                                    done.tryFailure(e);
                                } else {
                                    done.trySuccess(null);
                                }
                            });
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
                throw new CommandLine.ParameterException(new CommandLine(this), "unknown --impl " + impl);
        }
    }

    private Result measure(String impl, Peer peer, EventLoopGroup group, RedisCommands<String, String> cmd)
            throws Exception {
        // 1) commands per uncontended pair, one pair at a time
        EventLoop loop = group.next();
        runSequential(peer, loop, Math.min(50, countPairs));            // connections, scripts loaded
        cmd.configResetstat();
        runSequential(peer, loop, countPairs);
        Map<String, Long> stats = commandstats(cmd.info("commandstats"));
        long scripts = stats.getOrDefault("eval", 0L) + stats.getOrDefault("evalsha", 0L)
                + stats.getOrDefault("eval_ro", 0L) + stats.getOrDefault("evalsha_ro", 0L);
        long all = stats.entrySet().stream()
                .filter(e -> !e.getKey().equals("info") && !e.getKey().equals("config|resetstat"))
                .mapToLong(Map.Entry::getValue).sum();

        // 2) closed loop, --concurrency chains
        closedLoop(peer, group, warmupSeconds, null, null);
        // A fixed range (up to a minute, longer is clamped): an auto-resizing recorder takes a
        // lock to resize, on the event loop that records the value, and may park there.
        Recorder recorder = new Recorder(HIGHEST_NANOS, 3);
        AtomicLong errors = new AtomicLong();
        long pairs = closedLoop(peer, group, seconds, recorder, errors);
        Histogram h = recorder.getIntervalHistogram();
        return new Result(impl, (double) scripts / countPairs, (double) all / countPairs, stats, pairs,
                pairs / (double) seconds, h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
                h.getMaxValue() / 1000.0, errors.get());
    }

    private static void runSequential(Peer peer, EventLoop loop, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            Promise<Void> done = loop.newPromise();
            loop.execute(() -> peer.pair(loop, done));
            done.get(10, TimeUnit.SECONDS);
        }
    }

    private long closedLoop(Peer peer, EventLoopGroup group, int secs, Recorder recorder, AtomicLong errors)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(secs);
        AtomicLong pairs = new AtomicLong();
        AtomicReference<Throwable> firstError = new AtomicReference<>();
        CountDownLatch finished = new CountDownLatch(concurrency);
        for (int i = 0; i < concurrency; i++) {
            EventLoop loop = group.next();
            loop.execute(new Runnable() {
                @Override
                public void run() {
                    if (System.nanoTime() > deadline) {
                        finished.countDown();
                        return;
                    }
                    long t0 = System.nanoTime();
                    Promise<Void> done = loop.newPromise();
                    Runnable next = this;
                    done.addListener(f -> {
                        if (f.isSuccess()) {
                            pairs.incrementAndGet();
                            if (recorder != null) {
                                recorder.recordValue(Math.min(System.nanoTime() - t0, HIGHEST_NANOS));
                            }
                        } else {
                            firstError.compareAndSet(null, f.cause());
                            if (errors != null) {
                                errors.incrementAndGet();
                            }
                        }
                        loop.execute(next);
                    });
                    peer.pair(loop, done);
                }
            });
        }
        if (!finished.await(secs + 30L, TimeUnit.SECONDS)) {
            throw new IllegalStateException("chains did not finish");
        }
        if (firstError.get() != null && errors != null && errors.get() > 0) {
            System.err.println("first error: " + firstError.get());
        }
        return pairs.get();
    }

    static Map<String, Long> commandstats(String info) {
        Map<String, Long> calls = new LinkedHashMap<>();
        for (String line : info.split("\r?\n")) {
            if (line.startsWith("cmdstat_")) {
                String name = line.substring("cmdstat_".length(), line.indexOf(':'));
                int c = line.indexOf("calls=");
                int end = line.indexOf(',', c);
                calls.put(name, Long.parseLong(line.substring(c + 6, end)));
            }
        }
        return calls;
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
        if (results.size() == 2 && results.get(1).pairsPerSecond() > 0) {
            sb.append(String.format(Locale.ROOT, "%nratio %s/%s pairs/s: %.2f; p99: %.2f%n",
                    results.get(0).impl(), results.get(1).impl(),
                    results.get(0).pairsPerSecond() / results.get(1).pairsPerSecond(),
                    results.get(0).p99Micros() / Math.max(1e-9, results.get(1).p99Micros())));
        }
        for (Result r : results) {
            sb.append(r.impl()).append(" commandstats over the counted pairs: ").append(r.commandstats()).append('\n');
        }
        return sb.toString();
    }
}
