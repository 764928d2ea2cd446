package dev.nettysync.redis;

import dev.nettysync.QueueFullException;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The options of {@link RedisLimiters} and what the limiters say of themselves: the key prefix
 * and the local queue bound are used, bad options are refused, the accessors answer, and each
 * script's SHA-1 is the one Redis computes (else every call would cost an EVAL).
 */
class RedisLimitersTest extends AbstractFleetTest {

    @Test
    void aKeyPrefixNamesEveryKeyAndMaxPendingBoundsTheLocalQueue() throws Exception {
        RedisLimiters l = RedisLimiters.builder(fleet.client()).keyPrefix("app").maxPending(1).connect();
        try {
            String name = "opts-" + System.nanoTime();
            RedisSemaphore s = l.semaphore(name, 1, Duration.ofSeconds(10));
            assertThat(s.keys()).containsExactly("app:sem:{" + name + "}:leases", "app:sem:{" + name + "}:held",
                    "app:sem:{" + name + "}:used");
            RedisPermit held = s.acquire(loop, 1).get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(fleet.admin().exists(s.keys()[0])).isOne();
            Future<RedisPermit> queued = s.acquire(loop, 1);
            Future<RedisPermit> over = s.acquire(loop, 1);
            assertThat(over.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(over.cause()).as("one waiter queued at most").isInstanceOf(QueueFullException.class);
            assertThat(queued.isDone()).isFalse();
            held.release();
            queued.get(10, java.util.concurrent.TimeUnit.SECONDS).release();

            RedisRateLimiter r = l.rateLimiter(name, 1, 1);
            assertThat(r.acquire(loop, 0, java.util.concurrent.TimeUnit.SECONDS).await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(fleet.admin().exists("app:rate:{" + name + "}")).isOne();
        } finally {
            l.close();
        }
        assertThat(l.isClosed()).isTrue();
        assertThatThrownBy(() -> l.rateLimiter("after-close", 1, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> l.semaphore("after-close", 1)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aGrantedWaitCannotBeCancelledAndItsPermitSaysWhatItHolds() throws Exception {
        RedisSemaphore s = limiters.semaphore("granted-" + System.nanoTime(), 1, Duration.ofSeconds(10));
        Future<RedisPermit> f = s.acquire(loop, 1);
        RedisPermit p = f.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(f.cancel(false)).as("granted already").isFalse();
        assertThat(f.isCancelled()).isFalse();
        assertThat(p.semaphore()).isSameAs(s);
        assertThat(p.permits()).isOne();
        assertThat(p.leaseId()).as("this instance's id heads the lease id").startsWith(limiters.instanceId() + "-");
        assertThat(fleet.leases(s)).isOne();
        assertThat(fleet.admin().zscore(s.keys()[0], p.leaseId())).as("the lease id is the one in Redis").isNotNull();
        p.release();
    }

    @Test
    void badOptionsAreRefusedClearly() {
        RedisLimiters.Builder b = RedisLimiters.builder(fleet.client());
        assertThatThrownBy(() -> b.keyPrefix("")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keyPrefix");
        assertThatThrownBy(() -> b.keyPrefix("a{b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.keyPrefix("a}b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.maxPending(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxPending: 0");
        assertThat(b.maxPending(1)).isSameAs(b);
        assertThat(b.keyPrefix("ok")).isSameAs(b);
    }

    @Test
    void theLimitersAndTheirLimitersSayWhatTheyAre() {
        assertThat(limiters.isClosed()).isFalse();
        assertThat(limiters.instanceId()).hasSize(16).isNotEqualTo(fleet.limiters().instanceId());
        RedisRateLimiter r = limiters.rateLimiter("acc-" + System.nanoTime(), 2.5, 4);
        assertThat(r.key()).isNull();
        assertThat(r.forKey("a").forKey("b").key()).isEqualTo("a:b");
        assertThat(r.permitsPerSecond()).isEqualTo(2.5);
        assertThat(r.burst()).isEqualTo(4);
    }

    @Test
    void eachScriptsShaIsTheOneRedisComputes() {
        for (Script s : new Script[] {Fleet.ACQUIRE, Fleet.RELEASE, Fleet.RENEW, Fleet.GCRA}) {
            assertThat(s.sha()).as(s.name()).isEqualTo(fleet.admin().scriptLoad(s.text()));
        }
    }

    /**
     * connect() opens the command connection, then the pub/sub one; when the second is refused,
     * the first is closed before the refusal is thrown: nothing is left open. The server is told
     * to take one more client only ({@code maxclients}).
     */
    @Test
    void aConnectWhosePubSubConnectionIsRefusedLeavesNoConnectionOpen() throws Exception {
        io.lettuce.core.RedisClient client = fleet.client();
        long before = clients();
        String max = fleet.admin().configGet("maxclients").get("maxclients");
        assertThat(fleet.admin().configSet("maxclients", Long.toString(before + 1))).isEqualTo("OK");
        try {
            assertThatThrownBy(() -> RedisLimiters.builder(client).connect())
                    .isInstanceOf(io.lettuce.core.RedisConnectionException.class);
        } finally {
            fleet.admin().configSet("maxclients", max);
        }
        dev.nettysync.testing.Poll.assertEventually("the command connection was closed too", Duration.ofSeconds(5),
                () -> clients() == before);
        Thread.sleep(200);
        assertThat(clients()).as("and stays closed").isEqualTo(before);
        RedisLimiters.builder(client).connect().close();   // the same client connects once there is room
    }

    /** Clients connected to the server, as it counts them. */
    private long clients() {
        return fleet.admin().clientList().lines().count();
    }
}
