package dev.nettysync.bench.redis;

import dev.nettysync.redis.RedisLimiters;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Promise;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.redisson.Redisson;
import org.redisson.api.RedissonClient;
import org.redisson.config.Config;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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
 * What the Redis benchmarks share ({@link RedisSemaphoreBench}, {@link RedisRateLimiterBench}):
 * the command line common to both, the caller event loops and the admin connection, the command
 * count ({@code CONFIG RESETSTAT}, sequential operations, {@code INFO commandstats}) and the
 * closed loop of {@code --concurrency} chains timed with HdrHistogram. A subclass says what one
 * operation of a peer is ({@link Op}) and prints its own table.
 */
abstract class RedisBench implements Callable<Integer> {

    /** The longest operation latency the histogram tells apart (longer is recorded as this). */
    static final long HIGHEST_NANOS = TimeUnit.MINUTES.toNanos(1);

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--redis", description = "Redis URI (default: ${DEFAULT-VALUE})")
    String redis = "redis://127.0.0.1:6379";

    @Option(names = "--impl", split = ",", description = "nettysync, redisson (default: both)")
    List<String> impls = List.of("nettysync", "redisson");

    @Option(names = "--concurrency", description = "operations in flight (default: ${DEFAULT-VALUE})")
    int concurrency = 64;

    @Option(names = "--loops", description = "caller event loops (default: ${DEFAULT-VALUE})")
    int loops = 2;

    @Option(names = "--warmup", description = "seconds of warm-up per peer and scenario (default: ${DEFAULT-VALUE})")
    int warmupSeconds = 5;

    @Option(names = "--seconds", description = "seconds measured per peer and scenario (default: ${DEFAULT-VALUE})")
    int seconds = 20;

    /** Runs the scenarios and returns the report (Markdown). */
    abstract String runAndReport() throws Exception;

    @Override
    public final Integer call() throws Exception {
        System.out.println(runAndReport());
        return 0;
    }

    /**
     * One operation of a peer (an acquire + release pair, an admission), started on
     * {@code loop}: it completes {@code done} with {@code true} when done or admitted, with
     * {@code false} when refused (a rate limit), and fails it on an error.
     */
    interface Op {
        void run(EventLoop loop, Promise<Boolean> done);
    }

    /** A peer under test: its operation, and what it holds until closed (clients, keys). */
    interface Peer extends Op, AutoCloseable {
        @Override
        void close() throws Exception;
    }

    /** netty-sync's limiters on a Lettuce client of their own, connected as a user connects them. */
    final class NettySync implements AutoCloseable {
        private final RedisClient client = RedisClient.create(redis);
        final RedisLimiters limiters = RedisLimiters.builder(client).connect();

        @Override
        public void close() throws Exception {
            limiters.closeAsync().toCompletableFuture().get(10, TimeUnit.SECONDS);
            client.shutdown();
        }
    }

    /** The Redis commands of {@code n} sequential operations, from {@code INFO commandstats}. */
    record CommandCount(double scriptCallsPerOp, double commandsPerOp, Map<String, Long> commandstats) {
    }

    /**
     * One closed-loop run: operations started, completed (admitted or refused) or failed, and
     * the time from the first call to the last completion.
     */
    record ClosedLoop(long started, long admitted, long refused, long errors, double elapsedSeconds,
                      Histogram latency) {

        double p50Micros() {
            return latency.getValueAtPercentile(50) / 1000.0;
        }

        double p99Micros() {
            return latency.getValueAtPercentile(99) / 1000.0;
        }

        double maxMicros() {
            return latency.getMaxValue() / 1000.0;
        }
    }

    /** The caller loops and the admin connection, for the length of a run. */
    interface Body<T> {
        T run(EventLoopGroup group, RedisCommands<String, String> admin) throws Exception;
    }

    final <T> T withRedis(Body<T> body) throws Exception {
        EventLoopGroup group = new DefaultEventLoopGroup(loops);
        RedisClient admin = RedisClient.create(redis);
        try (StatefulRedisConnection<String, String> conn = admin.connect()) {
            return body.run(group, conn.sync());
        } finally {
            admin.shutdown();
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
        }
    }

    /** A Redisson client with its default single-server pool, as a user would create it. */
    final RedissonClient redisson() {
        Config config = new Config();
        config.useSingleServer().setAddress(redis);
        return Redisson.create(config);
    }

    final CommandLine.ParameterException unknownImpl(String impl) {
        return new CommandLine.ParameterException(spec.commandLine(), "unknown --impl " + impl);
    }

    /**
     * {@code n} sequential operations between {@code CONFIG RESETSTAT} and {@code INFO
     * commandstats}, after 50 that open connections and load scripts: the script calls
     * ({@code EVAL}, {@code EVALSHA} and their read-only forms: the round trips) and every
     * command Redis ran, inside scripts included, per operation.
     */
    static CommandCount countCommands(Op op, EventLoop loop, RedisCommands<String, String> admin, int n)
            throws Exception {
        runSequential(op, loop, Math.min(50, n));
        admin.configResetstat();
        runSequential(op, loop, n);
        Map<String, Long> stats = commandstats(admin.info("commandstats"));
        long scripts = stats.getOrDefault("eval", 0L) + stats.getOrDefault("evalsha", 0L)
                + stats.getOrDefault("eval_ro", 0L) + stats.getOrDefault("evalsha_ro", 0L);
        long all = stats.entrySet().stream()
                .filter(e -> !e.getKey().equals("info") && !e.getKey().equals("config|resetstat"))
                .mapToLong(Map.Entry::getValue).sum();
        return new CommandCount((double) scripts / n, (double) all / n, stats);
    }

    /** Fails if an operation is refused: the count is per operation done (per admission). */
    private static void runSequential(Op op, EventLoop loop, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            Promise<Boolean> done = loop.newPromise();
            loop.execute(() -> op.run(loop, done));
            if (!done.get(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("operation " + (i + 1) + " of " + n
                        + " refused during the command count: the limit must not bind there");
            }
        }
    }

    /** A warm-up of {@code --warmup} seconds, then the measured run of {@code --seconds}. */
    final ClosedLoop warmUpAndMeasure(Op op, EventLoopGroup group) throws InterruptedException {
        closedLoop(op, group, warmupSeconds);
        return closedLoop(op, group, seconds);
    }

    /**
     * {@code --concurrency} chains spread over the loops, each starting its next operation when
     * the last one completed, until {@code secs} have passed; every operation is timed from its
     * call to its completion. Returns when every chain has finished, so the elapsed time covers
     * every operation counted.
     */
    final ClosedLoop closedLoop(Op op, EventLoopGroup group, int secs) throws InterruptedException {
        // A fixed range (up to a minute, longer is clamped): an auto-resizing recorder takes a
        // lock to resize, on the event loop that records the value, and may park there.
        Recorder recorder = new Recorder(HIGHEST_NANOS, 3);
        AtomicLong started = new AtomicLong();
        AtomicLong admitted = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicReference<Throwable> firstError = new AtomicReference<>();
        CountDownLatch finished = new CountDownLatch(concurrency);
        long start = System.nanoTime();
        long deadline = start + TimeUnit.SECONDS.toNanos(secs);
        for (int i = 0; i < concurrency; i++) {
            EventLoop loop = group.next();
            loop.execute(new Runnable() {
                @Override
                public void run() {
                    if (System.nanoTime() > deadline) {
                        finished.countDown();
                        return;
                    }
                    started.incrementAndGet();
                    long t0 = System.nanoTime();
                    Promise<Boolean> done = loop.newPromise();
                    Runnable next = this;
                    done.addListener(f -> {
                        if (f.isSuccess()) {
                            recorder.recordValue(Math.min(System.nanoTime() - t0, HIGHEST_NANOS));
                            (Boolean.TRUE.equals(f.getNow()) ? admitted : refused).incrementAndGet();
                        } else {
                            firstError.compareAndSet(null, f.cause());
                            errors.incrementAndGet();
                        }
                        loop.execute(next);
                    });
                    op.run(loop, done);
                }
            });
        }
        if (!finished.await(secs + 30L, TimeUnit.SECONDS)) {
            throw new IllegalStateException("chains did not finish");
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        if (firstError.get() != null) {
            System.err.println("first error: " + firstError.get());
        }
        return new ClosedLoop(started.get(), admitted.get(), refused.get(), errors.get(), elapsed, recorder.getIntervalHistogram());
    }

    /** Completes {@code done} with {@code true}, or fails it with {@code error} if there is one. */
    static void complete(Promise<Boolean> done, Throwable error) {
        if (error != null) {
            done.tryFailure(error);
        } else {
            done.trySuccess(true);
        }
    }

    /**
     * The line under a table of two peers: the first's throughput and p99 over the second's;
     * then each peer's commands by name over the counted operations.
     */
    static void appendRatioAndCommands(StringBuilder sb, String what, List<String> impls, List<Double> perSecond,
                                       List<Double> p99Micros, List<Map<String, Long>> commandstats) {
        if (impls.size() == 2 && perSecond.get(1) > 0) {
            sb.append(String.format(Locale.ROOT, "%nratio %s/%s %s/s: %.2f; p99: %.2f%n", impls.get(0), impls.get(1),
                    what, perSecond.get(0) / perSecond.get(1), p99Micros.get(0) / Math.max(1e-9, p99Micros.get(1))));
        }
        for (int i = 0; i < impls.size(); i++) {
            sb.append(impls.get(i)).append(" commandstats over the counted ").append(what).append(": ")
                    .append(commandstats.get(i)).append('\n');
        }
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
}
