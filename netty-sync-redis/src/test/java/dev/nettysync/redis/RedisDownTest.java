package dev.nettysync.redis;

import dev.nettysync.limit.Permit;
import dev.nettysync.testing.Poll;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Redis goes away (process killed, port closed) and comes back empty: acquires fail at once and
 * say why, queued and in-flight ones no later than the command timeout, nothing is held or
 * leaked, no loop blocks; after the restart the same limiters serve again, the scripts are
 * loaded again, and permits held across the restart are released without touching the new
 * server's count.
 */
@ExtendWith(RedisServerExtension.class)
class RedisDownTest {

    private static final Duration COMMAND_TIMEOUT = Duration.ofMillis(800);

    private RedisServer server;

    @AfterEach
    void serverBackUp() throws Exception {
        if (server != null && !server.isRunning()) {
            server.startAgain();                   // the next test class's tests need it
        }
    }

    /** Milliseconds a task waits to run on {@code loop}. */
    private static long lagMillis(EventLoop loop) throws Exception {
        long t0 = System.nanoTime();
        return TimeUnit.NANOSECONDS.toMillis(loop.submit(System::nanoTime).get(5, TimeUnit.SECONDS) - t0);
    }

    /**
     * A holder cut off from Redis for a whole lease (its renewals skipped, as failed) hears that
     * its lease is lost, after that lease and not before: someone else may hold the permit now.
     */
    @Test
    void aHolderCutOffFromRedisForAWholeLeaseHearsItsLeaseIsLost(RedisServer server) throws Exception {
        this.server = server;
        try (TestFleet fleet = new TestFleet(server, 1)) {
            RedisSemaphore s = fleet.limiters(Duration.ofMillis(300), COMMAND_TIMEOUT)
                    .semaphore("cut-off-" + System.nanoTime(), 1, Duration.ofMillis(1500));
            RedisPermit p = s.acquire(fleet.loops.next(), 1).get(10, TimeUnit.SECONDS);
            server.stop();
            long stopped = System.nanoTime();
            assertThat(p.lease().await(10, TimeUnit.SECONDS)).as("the lease's end is heard").isTrue();
            long heard = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopped);
            assertThat(p.lease().cause()).isInstanceOf(LeaseLostException.class).hasMessageContaining("for a whole lease");
            assertThat(heard).as("not before the lease, from the last renewal (at most a third of it before the stop)")
                    .isGreaterThanOrEqualTo(1500 - 500 - 50);
            p.release();
        }
    }

    @Test
    void aSemaphoreFailsPromptlyWhileRedisIsDownAndServesAgainAfterAnEmptyRestart(RedisServer server) throws Exception {
        this.server = server;
        try (TestFleet fleet = new TestFleet(server, 2)) {
            String name = "down-" + System.nanoTime();
            RedisLimiters limiters = fleet.limiters(Duration.ofMillis(300), COMMAND_TIMEOUT);
            RedisSemaphore s = limiters.semaphore(name, 4, Duration.ofSeconds(3));
            EventLoop loop = fleet.loops.next();
            // two permits held across the outage and the restart
            RedisPermit heldA = s.acquire(loop, 1).get(10, TimeUnit.SECONDS);
            RedisPermit heldB = s.acquire(loop, 1).get(10, TimeUnit.SECONDS);

            // Calls in flight when the server dies: the server is paused, so they are out and unanswered.
            RedisClient pauser = fleet.client();
            List<Future<RedisPermit>> inFlight = new ArrayList<>();
            List<Future<RedisPermit>> queued = new ArrayList<>();
            try (StatefulRedisConnection<String, String> c = pauser.connect()) {
                assertThat(c.sync().clientPause(10_000)).isEqualTo("OK");
                inFlight.add(s.acquire(loop, 1, 30, TimeUnit.SECONDS));      // direct: 2 free as last heard
                inFlight.add(s.acquire(loop, 1));                             // direct, untimed
                queued.add(s.acquire(fleet.loops.next(), 1, 30, TimeUnit.SECONDS));   // behind the direct ones
                queued.add(s.acquire(fleet.loops.next(), 2));
                Thread.sleep(100);
                assertThat(s.statistics().queued()).isEqualTo(2);
                long killed = System.nanoTime();
                server.stop();

                // queued waiters fail when the connection drops, in-flight ones by their command timeout
                for (Future<RedisPermit> f : queued) {
                    assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
                    assertThat(f.cause()).isInstanceOf(RedisUnavailableException.class)
                            .hasMessageContaining("Redis unreachable");
                }
                for (Future<RedisPermit> f : inFlight) {
                    assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
                    assertThat(f.cause()).isInstanceOf(RedisUnavailableException.class)
                            .hasMessageContaining("Redis unreachable");
                }
                long allFailed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
                assertThat(allFailed).as("every waiter failed within the command timeout (+ slack)")
                        .isLessThan(COMMAND_TIMEOUT.toMillis() + 700);
            }
            Poll.assertEventually("the client sees the connection down", Duration.ofSeconds(5), () -> !limiters.isConnected());

            // While down: every form fails at once, none waits for its own (long) timeout.
            long t0 = System.nanoTime();
            Future<RedisPermit> untimed = s.acquire(loop, 1);
            Future<Permit> timed = s.acquire(loop, 60, TimeUnit.SECONDS);
            Future<RedisPermit> nowOrNever = s.acquire(loop, 1, 0, TimeUnit.SECONDS);
            for (Future<?> f : List.of(untimed, timed, nowOrNever)) {
                assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
                assertThat(f.cause()).isInstanceOf(RedisUnavailableException.class)
                        .hasMessageContaining("RedisSemaphore " + name).hasMessageContaining("not connected");
            }
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("failed at once").isLessThan(500);
            for (int i = 0; i < 2; i++) {
                assertThat(lagMillis(fleet.loops.next())).as("loop lag while Redis is down").isLessThan(500);
            }
            assertThat(s.statistics().queued()).as("nothing left queued").isZero();
            assertThat(s.statistics().inUse()).as("only the two real holders").isEqualTo(2);

            // A release while down is kept by Lettuce; the permit's lease future says Redis could not be reached.
            heldA.release();
            assertThat(heldA.lease().await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(heldA.lease().cause()).isInstanceOf(RedisUnavailableException.class);
            assertThat(s.statistics().inUse()).isEqualTo(1);

            server.startAgain();                   // empty: every lease and every script is gone
            Poll.assertEventually("reconnected", Duration.ofSeconds(10), limiters::isConnected);

            // Served again, without a new client: the script is loaded again (NOSCRIPT -> EVAL).
            RedisPermit all = s.acquire(loop, 4, 10, TimeUnit.SECONDS).get(15, TimeUnit.SECONDS);
            assertThat(fleet.admin().scriptExists(Fleet.ACQUIRE.sha())).containsExactly(true);
            // the acquires that were out when the server died were sent again and then released by id
            Poll.assertEventually("the leases of the unanswered calls are released", Duration.ofSeconds(5), () -> fleet.leases(s) == 1);
            assertThat(fleet.used(s)).isEqualTo(4);

            // The permit held across the restart: its lease is gone, its release changes nothing.
            heldB.release();
            assertThat(heldB.lease().await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(heldB.lease().cause()).isInstanceOf(LeaseLostException.class);
            assertThat(fleet.used(s)).as("the new server's count").isEqualTo(4);
            assertThat(s.statistics().inUse()).isEqualTo(4);

            all.release();
            assertThat(all.lease().await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(all.lease().isSuccess()).isTrue();
            assertThat(fleet.used(s)).isZero();
            assertThat(s.statistics().inUse()).isZero();
        }
    }

    @Test
    void aRateLimiterFailsAtOnceWhileRedisIsDownAndAdmitsAgainAfterAnEmptyRestart(RedisServer server) throws Exception {
        this.server = server;
        try (TestFleet fleet = new TestFleet(server, 1)) {
            RedisLimiters limiters = fleet.limiters(Duration.ofMillis(300), COMMAND_TIMEOUT);
            RedisRateLimiter rate = limiters.rateLimiter("down-rate-" + System.nanoTime(), 1, 2);
            EventLoop loop = fleet.loops.next();
            rate.acquire(loop, 0, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS).release();
            rate.acquire(loop, 0, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS).release();   // the burst is spent

            server.stop();
            Poll.assertEventually("the client sees the connection down", Duration.ofSeconds(5), () -> !limiters.isConnected());
            long t0 = System.nanoTime();
            Future<Permit> nowOrNever = rate.acquire(loop, 0, TimeUnit.SECONDS);
            Future<Permit> timed = rate.acquire(loop, 60, TimeUnit.SECONDS);
            Future<Permit> perKey = rate.forKey("client-1").acquire(loop);
            for (Future<Permit> f : List.of(nowOrNever, timed, perKey)) {
                assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
                assertThat(f.cause()).isInstanceOf(RedisUnavailableException.class).hasMessageContaining("not connected");
            }
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("failed at once").isLessThan(500);
            assertThat(lagMillis(loop)).as("loop lag while Redis is down").isLessThan(500);
            assertThat(rate.statistics().queued()).isZero();

            server.startAgain();
            Poll.assertEventually("reconnected", Duration.ofSeconds(10), limiters::isConnected);
            // the bucket's key is gone with the old server: a full burst again
            rate.acquire(loop, 0, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS).release();
            rate.acquire(loop, 0, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS).release();
            assertThat(rate.acquire(loop, 0, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void redisUnreachableAtStartFailsConnectClearlyAndAConnectOnceItIsUpServes(RedisServer server) throws Exception {
        this.server = server;
        try (TestFleet fleet = new TestFleet(server, 1)) {
            server.stop();
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> fleet.limiters(Duration.ofMillis(300), COMMAND_TIMEOUT))
                    .isInstanceOf(io.lettuce.core.RedisConnectionException.class)
                    .hasMessageContaining(Integer.toString(server.port()));
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("refused, not waited out").isLessThan(5_000);

            server.startAgain();
            RedisLimiters limiters = fleet.limiters(Duration.ofMillis(300), COMMAND_TIMEOUT);
            RedisSemaphore s = limiters.semaphore("late-" + System.nanoTime(), 1, Duration.ofSeconds(5));
            Permit p = s.acquire(fleet.loops.next(), 5, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
            p.release();
            assertThat(((RedisPermit) p).lease().get(10, TimeUnit.SECONDS)).isNull();
            assertThat(fleet.used(s)).isZero();
        }
    }
}
