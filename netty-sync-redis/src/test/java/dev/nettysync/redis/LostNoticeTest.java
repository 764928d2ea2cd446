package dev.nettysync.redis;

import dev.nettysync.testing.Poll;
import io.lettuce.core.api.StatefulRedisConnection;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pub/sub is at-most-once. A release notice that never arrives (published elsewhere, the
 * subscriber's connection killed, the server restarted) delays queued waiters by at most
 * {@code maxPoll}; it never strands them, multi-permit waiters included. A restart ends the
 * waiters queued at that moment (the connection drops: {@link RedisUnavailableException}); those
 * queued after it are woken as before.
 */
@ExtendWith(RedisServerExtension.class)
class LostNoticeTest {

    private static final Duration MAX_POLL = Duration.ofMillis(500);

    /** Waiters on two replicas: single and multi-permit, queued behind each other. */
    private static List<Future<RedisPermit>> queueWaiters(TestFleet fleet, RedisSemaphore b, RedisSemaphore c)
            throws InterruptedException {
        List<Future<RedisPermit>> waits = new ArrayList<>();
        waits.add(b.acquire(fleet.loops.next(), 1));
        waits.add(b.acquire(fleet.loops.next(), 2));
        waits.add(c.acquire(fleet.loops.next(), 3));
        waits.add(c.acquire(fleet.loops.next(), 1));
        Thread.sleep(300);
        for (Future<RedisPermit> w : waits) {
            assertThat(w.isDone()).as("queued while all permits are held").isFalse();
        }
        return waits;
    }

    /**
     * Every waiter completes. Each releases as soon as it is granted (waiters of different
     * replicas are served in no particular order, and a later one may need an earlier one's permits).
     */
    private static void assertAllComplete(List<Future<RedisPermit>> waits, long withinMillis) throws Exception {
        for (Future<RedisPermit> w : waits) {
            w.addListener(f -> {
                if (f.isSuccess()) {
                    ((RedisPermit) f.getNow()).release();
                }
            });
        }
        long t0 = System.nanoTime();
        for (Future<RedisPermit> w : waits) {
            long left = withinMillis - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(w.await(Math.max(1, left), TimeUnit.MILLISECONDS))
                    .as("waiter %d of %s completed", waits.indexOf(w), waits).isTrue();
            assertThat(w.isSuccess()).as("waiter granted: %s", w.cause()).isTrue();
        }
        for (Future<RedisPermit> w : waits) {
            assertThat(w.getNow().lease().await(10, TimeUnit.SECONDS)).as("released").isTrue();
        }
    }

    @Test
    void aReleaseWithoutNoticeStillWakesWaitersByTheFallbackTimer(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 2)) {
            String name = "silent-" + System.nanoTime();
            RedisSemaphore b = fleet.limiters(MAX_POLL, Duration.ofSeconds(2)).semaphore(name, 3, Duration.ofSeconds(30));
            RedisSemaphore c = fleet.limiters(MAX_POLL, Duration.ofSeconds(2)).semaphore(name, 3, Duration.ofSeconds(30));
            List<String> held = fleet.takeAll(b, 30_000);
            List<Future<RedisPermit>> waits = queueWaiters(fleet, b, c);
            fleet.release(b, held, "nobody-listens-here");   // the notice is lost
            assertAllComplete(waits, 15_000);
            assertThat(fleet.used(b)).isZero();
        }
    }

    /**
     * Without notices, a waiter is asked for again at the nearest lease expiry its last refusal
     * reported (within maxPoll). A later refusal that reports a nearer one moves the poll
     * earlier: here the 30 s lease ahead of the waiter is released unheard and a lease of 1 s
     * takes its place; the notice of a third party makes the head ask, and its refusal must
     * bring the poll from 30 s down to that second.
     */
    @Test
    void aRefusalThatReportsANearerExpiryMovesThePollEarlier(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 1)) {
            RedisSemaphore s = fleet.limiters(Duration.ofSeconds(60), Duration.ofSeconds(2))
                    .semaphore("nearer-" + System.nanoTime(), 1, Duration.ofSeconds(30));
            List<String> first = fleet.takeAll(s, 30_000);
            Future<RedisPermit> waiting = s.acquire(fleet.loops.next(), 1);   // refused: the poll in 30 s
            Poll.assertEventually("queued", Duration.ofSeconds(5), () -> s.statistics().queued() == 1);
            fleet.release(s, first, "nobody-listens-here");
            fleet.takeAll(s, 1_000);                                          // expires in 1 s, unheard
            long t0 = System.nanoTime();
            fleet.admin().publish(s.channel(), "0");                          // the head asks: refused, 1 s
            RedisPermit p = waiting.get(10, TimeUnit.SECONDS);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
                    .as("asked again at the nearer expiry, not at the first one 30 s away").isLessThan(5_000);
            p.release();
            assertThat(p.lease().get(10, TimeUnit.SECONDS)).isNull();
            assertThat(fleet.used(s)).isZero();
        }
    }

    /**
     * A refusal that crossed a release asks again at once instead of sleeping until its poll:
     * the call is held in the server (CLIENT PAUSE WRITE) with the permit taken, a release that
     * nobody hears is held behind it, and something happens while it is out. Three such things:
     * a notice reaches a direct call (the pub/sub connection is killed: its resubscription counts
     * as one); the head's own wait is cancelled (the next waiter must ask); a notice reaches the
     * head's attempt. Each time the refused or next waiter is granted at once, not a minute later.
     */
    @Test
    void aRefusalThatCrossedANoticeOrACancelAsksAgainAtOnce(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 1);
             StatefulRedisConnection<String, String> other = fleet.client().connect()) {
            EventLoop loop = fleet.loops.next();
            RedisSemaphore s = fleet.limiters(Duration.ofSeconds(60), Duration.ofSeconds(10))
                    .semaphore("crossed-" + System.nanoTime(), 1, Duration.ofSeconds(30));

            // a direct call, refused while a notice came
            List<String> held = fleet.takeAll(s, 60_000);
            fleet.pauseWrites();
            Future<RedisPermit> direct = s.acquire(loop, 1);                 // nobody queued: straight to Redis
            heldBehind(fleet, other, s, held, 1);
            renotify(fleet, s);
            fleet.unpause();
            RedisPermit a = direct.get(10, TimeUnit.SECONDS);
            a.release();
            assertThat(a.lease().get(10, TimeUnit.SECONDS)).isNull();

            // the head's attempt refused after its wait was cancelled: the next waiter asks
            held = fleet.takeAll(s, 60_000);
            Future<RedisPermit> head = s.acquire(loop, 1);                   // refused straight away, queued
            Poll.assertEventually("queued: 1", Duration.ofSeconds(5), () -> s.statistics().queued() == 1);
            fleet.pauseWrites();
            Future<RedisPermit> next = s.acquire(loop, 1);                   // queues, and sends the head's attempt
            heldBehind(fleet, other, s, held, 1);
            assertThat(head.cancel(false)).isTrue();
            fleet.unpause();
            RedisPermit b = next.get(10, TimeUnit.SECONDS);

            // the head's attempt refused while a notice came
            b.release();
            assertThat(b.lease().get(10, TimeUnit.SECONDS)).isNull();
            held = fleet.takeAll(s, 60_000);
            Future<RedisPermit> asking = s.acquire(loop, 1);                 // refused straight away, queued
            Poll.assertEventually("queued: 1", Duration.ofSeconds(5), () -> s.statistics().queued() == 1);
            fleet.pauseWrites();
            Future<RedisPermit> behind = s.acquire(loop, 1);                 // sends the attempt of the one asking
            heldBehind(fleet, other, s, held, 1);
            renotify(fleet, s);
            fleet.unpause();
            asking.get(10, TimeUnit.SECONDS).release();
            behind.get(10, TimeUnit.SECONDS).release();
        }
    }

    /**
     * Waits until {@code held} calls are held by the pause (the semaphore's), then releases the
     * raw leases {@code leases} from {@code other}, unheard: held behind them, it runs after them.
     */
    private static void heldBehind(TestFleet fleet, StatefulRedisConnection<String, String> other, RedisSemaphore s,
                                   List<String> leases, int held) throws InterruptedException {
        Poll.assertEventually("the semaphore's call is held", Duration.ofSeconds(5), () -> fleet.blockedClients() == held);
        for (String id : leases) {
            other.async().eval(Fleet.RELEASE.text(), io.lettuce.core.ScriptOutputType.INTEGER, s.keys(), id, "nobody-listens-here");
        }
        Poll.assertEventually("the release is held behind it", Duration.ofSeconds(5),
                () -> fleet.blockedClients() == held + 1);
    }

    /** Kills the pub/sub connections; each one's resubscription is a notice for its semaphores. */
    private static void renotify(TestFleet fleet, RedisSemaphore s) throws InterruptedException {
        fleet.admin().clientKill(io.lettuce.core.KillArgs.Builder.typePubsub());
        Poll.assertEventually("resubscribed", Duration.ofSeconds(5),
                () -> fleet.admin().pubsubNumsub(s.channel()).get(s.channel()) == 1L);
        Thread.sleep(500);                                                   // its confirmation heard
    }

    @Test
    void killedSubscriptionsDelayButNeverStrandWaiters(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 2)) {
            String name = "killed-" + System.nanoTime();
            RedisSemaphore b = fleet.limiters(MAX_POLL, Duration.ofSeconds(2)).semaphore(name, 3, Duration.ofSeconds(30));
            RedisSemaphore c = fleet.limiters(MAX_POLL, Duration.ofSeconds(2)).semaphore(name, 3, Duration.ofSeconds(30));
            List<String> held = fleet.takeAll(b, 30_000);
            List<Future<RedisPermit>> waits = queueWaiters(fleet, b, c);
            Long killed = fleet.admin().clientKill(io.lettuce.core.KillArgs.Builder.typePubsub());
            assertThat(killed).as("pub/sub connections killed").isGreaterThanOrEqualTo(2L);
            fleet.release(b, held, b.channel());             // published while nobody is subscribed
            assertAllComplete(waits, 15_000);
            assertThat(fleet.used(b)).isZero();
        }
    }

    @Test
    void aServerRestartWithWaitersQueuedStrandsNobody(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 2)) {
            String name = "restart-" + System.nanoTime();
            RedisLimiters la = fleet.limiters(MAX_POLL, Duration.ofSeconds(1));
            RedisLimiters lb = fleet.limiters(MAX_POLL, Duration.ofSeconds(1));
            RedisLimiters lc = fleet.limiters(MAX_POLL, Duration.ofSeconds(1));
            RedisSemaphore a = la.semaphore(name, 3, Duration.ofSeconds(3));
            RedisSemaphore b = lb.semaphore(name, 3, Duration.ofSeconds(3));
            RedisSemaphore c = lc.semaphore(name, 3, Duration.ofSeconds(3));
            RedisPermit holder = a.acquire(fleet.loops.next(), 3).get(10, TimeUnit.SECONDS);
            List<Future<RedisPermit>> waits = queueWaiters(fleet, b, c);

            server.restart();                                     // an empty server: every lease is gone

            // The waiters queued when the connection dropped end at once, saying why (Redis
            // could not serve them while it was gone); none is left waiting for a notice.
            for (Future<RedisPermit> w : waits) {
                assertThat(w.await(5, TimeUnit.SECONDS)).as("waiter %d ended", waits.indexOf(w)).isTrue();
                assertThat(w.cause()).isInstanceOf(RedisUnavailableException.class);
            }
            // Lettuce's own reconnection may park one of its I/O threads for a moment (seen now
            // and then in its endpoint's locking while it replays buffered commands; not a wait of
            // ours, and not every run). Such calls are Lettuce's: tolerate them here, and only
            // here, but any blocking call on another thread still fails the test.
            assertThat(dev.nettysync.testing.BlockHoundSessionListener.drainBlockingCalls())
                    .as("blocking calls outside Lettuce's own I/O threads")
                    .allMatch(call -> call.contains(" on lettuce-nioEventLoop-"));
            // the old holder learns that its lease is gone (renewal finds nothing)
            assertThat(holder.lease().await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(holder.lease().cause()).isInstanceOf(LeaseLostException.class);

            // After the restart, both replicas are subscribed again: a release on the new server
            // wakes the waiters queued there, multi-permit ones included.
            Poll.until(Duration.ofSeconds(10), () -> la.isConnected() && lb.isConnected() && lc.isConnected());
            List<String> held = fleet.takeAll(b, 30_000);
            List<Future<RedisPermit>> after = queueWaiters(fleet, b, c);
            fleet.release(b, held, b.channel());
            assertAllComplete(after, 15_000);
            holder.release();                                     // unknown to the new server: no change
            assertThat(fleet.used(b)).isZero();
        }
    }
}
