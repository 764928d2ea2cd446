package dev.nettysync.bench.redis;

import dev.nettysync.redis.RedisServer;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bench tool works end to end, in seconds, on a redis-server of its own: both peers complete
 * pairs without errors, and the command count (a count, not a timing) is exactly two script
 * calls per uncontended netty-sync pair. The figures themselves are measured by hand
 * ({@code bench/scripts/redis.sh}), never here.
 */
class RedisSemaphoreBenchSmokeTest {

    @Test
    void bothPeersRunAndNettySyncSendsTwoScriptsPerPair() throws Exception {
        try (RedisServer server = RedisServer.start()) {
            RedisSemaphoreBench bench = new RedisSemaphoreBench();
            new CommandLine(bench).parseArgs("--redis=" + server.uri(), "--seconds=1", "--warmup=1",
                    "--concurrency=4", "--pairs-for-count=50", "--permits=16");
            List<RedisSemaphoreBench.Result> results = bench.run();
            assertThat(results).extracting(RedisSemaphoreBench.Result::impl).containsExactly("nettysync", "redisson");
            for (RedisSemaphoreBench.Result r : results) {
                assertThat(r.pairs()).as(r.impl()).isPositive();
                assertThat(r.errors()).as(r.impl()).isZero();
                assertThat(r.scriptCallsPerPair()).as(r.impl()).isPositive();
            }
            assertThat(results.get(0).scriptCallsPerPair()).as("EVALSHA per uncontended pair").isEqualTo(2.0);
            System.out.println(RedisSemaphoreBench.table(results));
        }
    }
}
