package dev.nettysync.bench.redis;

import dev.nettysync.redis.RedisServer;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The rate bench works end to end, in seconds, on a redis-server of its own: both peers decide
 * under a limit that does not bind without refusing or failing, every call started is counted
 * once (admitted, refused or failed), the command count is read (one script call per netty-sync
 * admission), and under a binding limit each peer refuses and admits no more than
 * {@code burst + rate × t} (plus its clock's resolution). Counts and bounds only: the figures
 * themselves are measured by hand ({@code BENCH=rate bench/scripts/redis.sh}), never here.
 */
class RedisRateLimiterBenchSmokeTest {

    @Test
    void bothPeersDecideAndStayWithinTheBoundWhenTheRateBinds() throws Exception {
        try (RedisServer server = RedisServer.start()) {
            RedisRateLimiterBench bench = new RedisRateLimiterBench();
            new CommandLine(bench).parseArgs("--redis=" + server.uri(), "--seconds=1", "--warmup=1",
                    "--concurrency=4", "--admissions-for-count=50", "--rate=1000000", "--burst=1000",
                    "--binding-rate=200", "--binding-burst=10");
            List<RedisRateLimiterBench.Result> results = bench.run();
            System.out.println(RedisRateLimiterBench.table(results));
            assertThat(results).extracting(r -> r.impl() + " " + r.scenario()).containsExactly(
                    "nettysync deciding", "redisson deciding", "nettysync binding", "redisson binding");
            for (RedisRateLimiterBench.Result r : results) {
                String as = r.impl() + " " + r.scenario();
                RedisBench.ClosedLoop run = r.run();
                assertThat(run.errors()).as(as).isZero();
                assertThat(run.admitted()).as(as).isPositive();
                assertThat(run.admitted() + run.refused() + run.errors()).as(as + ": every call counted once")
                        .isEqualTo(run.started());
                if (r.scenario().equals("deciding")) {
                    assertThat(run.refused()).as(as).isZero();
                    assertThat(r.count().scriptCallsPerOp()).as(as).isPositive();
                    assertThat(r.count().commandsPerOp()).as(as).isGreaterThanOrEqualTo(r.count().scriptCallsPerOp());
                } else {
                    assertThat(r.limit()).isEqualTo(new RedisRateLimiterBench.Limit(200, 10));
                    assertThat(run.refused()).as(as + ": 4 chains ask far more than 200/s").isPositive();
                    assertThat((double) run.admitted()).as(as + ": burst + rate x t").isLessThanOrEqualTo(r.bound());
                }
            }
            assertThat(results.get(0).count().scriptCallsPerOp()).as("EVALSHA per netty-sync admission").isEqualTo(1.0);
        }
    }
}
