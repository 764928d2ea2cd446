package dev.nettysync.redis;

import dev.nettysync.limit.Permit;
import dev.nettysync.testing.LeakReports;
import dev.nettysync.testing.Poll;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link RedisPermit}: what happens to a lease whose holder forgets it. */
class RedisPermitTest extends AbstractFleetTest {

    /** Acquires a permit and drops every reference to it (the future included). */
    private WeakReference<Permit> acquireAndForget(RedisSemaphore s) throws Exception {
        Future<Permit> f = s.acquire(loop);
        return new WeakReference<>(f.get(10, TimeUnit.SECONDS));
    }

    @Test
    void aPermitDroppedWithoutReleaseIsCollectedAndItsLeaseExpires() throws Exception {
        RedisSemaphore s = limiters.semaphore("forgotten" + System.nanoTime(), 1, Duration.ofMillis(300));
        WeakReference<Permit> forgotten = acquireAndForget(s);
        assertThat(s.statistics().inUse()).isEqualTo(1);

        // the renewal timer must not keep the permit reachable: else the lease is renewed for
        // ever, the fleet never gets the permit back, and the leak detector never sees it
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (forgotten.get() != null && System.nanoTime() - deadline < 0) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(forgotten.get()).as("a permit nobody references is collectable").isNull();

        // no longer renewed, the lease expires (300 ms) and the permit comes back fleet-wide
        Permit again = s.acquire(loop).get(10, TimeUnit.SECONDS);
        // uncounted by the renewal timer finding it gone, or by the cleaner: each may lag the
        // lease's expiry on a busy machine (full collections stop the world, not Redis' clock)
        Poll.assertEventually("the forgotten permit no longer counts as held here", Duration.ofSeconds(5),
                () -> s.statistics().inUse() == 1);
        again.release();
        assertThat(((RedisPermit) again).lease().get(10, TimeUnit.SECONDS)).isNull();
        assertThat(s.statistics().inUse()).isZero();
        assertThat(fleet.used(s)).isZero();
    }

    /** Acquires a permit, makes the server forget its lease, waits until the permit knows, drops it. */
    private WeakReference<RedisPermit> acquireLoseAndForget(RedisSemaphore s) throws Exception {
        RedisPermit p = s.acquire(loop, 1).get(10, TimeUnit.SECONDS);
        fleet.admin().del(s.keys());                         // the server forgets it (restart, fail-over)
        assertThat(p.lease().await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(p.lease().cause()).isInstanceOf(LeaseLostException.class);
        return new WeakReference<>(p);
    }

    @Test
    void aPermitWhoseLeaseWasLostAndThatIsThenForgottenStopsCountingAsHeld() throws Exception {
        RedisSemaphore s = limiters.semaphore("lost-forgotten" + System.nanoTime(), 2, Duration.ofMillis(300));
        WeakReference<RedisPermit> forgotten = acquireLoseAndForget(s);
        assertThat(s.statistics().inUse()).as("held (unreleased) though its lease is lost").isEqualTo(1);

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((forgotten.get() != null || s.statistics().inUse() != 0) && System.nanoTime() - deadline < 0) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(forgotten.get()).as("a permit nobody references is collectable").isNull();
        assertThat(s.statistics().inUse()).as("a collected permit no longer counts as held here").isZero();
    }

    @Test
    void aPermitForgottenAfterItsFleetClosedStopsCountingAsHeld() throws Exception {
        RedisLimiters closing = fleet.limiters();
        RedisSemaphore s = closing.semaphore("closed-forgotten" + System.nanoTime(), 1, Duration.ofMillis(300));
        WeakReference<Permit> forgotten = acquireAndForget(s);
        closing.closeAsync().toCompletableFuture().get(5, TimeUnit.SECONDS);
        Thread.sleep(300);                                   // a renewal period passes: renewal stops

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((forgotten.get() != null || s.statistics().inUse() != 0) && System.nanoTime() - deadline < 0) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(forgotten.get()).isNull();
        assertThat(s.statistics().inUse()).isZero();
    }

    @Test
    void aHolderHearsThatItsLeaseWillLapseWhenItsRedisLimitersCloseUnderIt() throws Exception {
        // close() stops the renewals (a closed client is a dead holder: its leases expire), but a
        // holder in this JVM may still be working. It used to hear nothing: lease() never
        // completed, although the lease lapses within a lease and another replica may then take
        // the permit; "cannot renew for a whole lease" was never reported either
        RedisLimiters closing = fleet.limiters();
        RedisSemaphore s = closing.semaphore("closed-under" + System.nanoTime(), 1, Duration.ofMillis(600));
        RedisPermit p = s.acquire(loop, 1).get(10, TimeUnit.SECONDS);
        closing.closeAsync().toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(p.lease().await(3, TimeUnit.SECONDS)).as("the holder hears it").isTrue();
        assertThat(p.lease().cause()).isInstanceOf(LeaseLostException.class).hasMessageContaining("closed");
        assertThat(p.release()).isTrue();
        assertThat(s.statistics().inUse()).isZero();
    }

    @Test
    void aPermitReleasedAfterItsLeaseWasLostStopsCountingOnce() throws Exception {
        RedisSemaphore s = limiters.semaphore("lost-released" + System.nanoTime(), 2, Duration.ofMillis(300));
        RedisPermit p = acquireLoseAndForget(s).get();
        assertThat(p).isNotNull();
        assertThat(s.statistics().inUse()).isEqualTo(1);
        assertThat(p.release()).isTrue();
        assertThat(p.releaseDropped()).isFalse();
        assertThat(s.statistics().inUse()).isZero();
        System.gc();
        Thread.sleep(400);                                   // a collection after the release uncounts nothing more
        assertThat(s.statistics().inUse()).isZero();
    }

    @Test
    void aGrantThatCannotStartItsRenewalFailsTheWaitAndGivesTheLeaseBack() throws Exception {
        // the application shut Lettuce's computation executor down (which runs the renewals)
        // before closing the limiters: a grant can no longer be renewed, so it must not be handed out
        io.lettuce.core.RedisClient client = fleet.client();
        RedisLimiters early = RedisLimiters.builder(client).connect();
        try {
            TestFleet.shutDownComputationExecutor(client);
            RedisSemaphore s = early.semaphore("no-renewal" + System.nanoTime(), 1, Duration.ofSeconds(5));
            Future<Permit> f = s.acquire(loop, 5, TimeUnit.SECONDS);
            assertThat(f.await(10, TimeUnit.SECONDS)).as("the wait ends").isTrue();
            assertThat(f.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
            assertThat(s.statistics().inUse()).isZero();
            Poll.assertEventually("the lease was given back, not left to expire", Duration.ofSeconds(5),
                    () -> fleet.used(s) == 0);
        } finally {
            TestFleet.close(early);
        }
    }

    @Test
    void aHeldPermitLearnsAtOnceThatItsRenewalStoppedWhenLettucesComputationExecutorShutsDown() throws Exception {
        // Lettuce's computation executor runs the renewals; shutting it down (the client's own
        // resources shut down before the limiters were closed) cancels them: the lease would
        // expire in Redis while lease() said nothing
        io.lettuce.core.RedisClient client = fleet.client();
        RedisLimiters own = RedisLimiters.builder(client).connect();
        try {
            RedisSemaphore s = own.semaphore("renewal-stopped" + System.nanoTime(), 1, Duration.ofSeconds(3));
            RedisPermit p = s.acquire(loop, 1).get(10, TimeUnit.SECONDS);
            TestFleet.shutDownComputationExecutor(client);
            assertThat(p.lease().await(1, TimeUnit.SECONDS)).as("lease() reports it within a second, not never").isTrue();
            assertThat(p.lease().cause()).isInstanceOf(LeaseLostException.class).hasMessageContaining("renew");
            assertThat(p.release()).isTrue();                 // the release is still sent: the lease is freed now
            Poll.assertEventually("the lease is freed in Redis", Duration.ofSeconds(5), () -> fleet.used(s) == 0);
            assertThat(s.statistics().inUse()).isZero();
        } finally {
            TestFleet.close(own);
        }
    }

    @Test
    void aPermitWhoseConstructorFailsIsNeverReportedLeaked() throws Exception {
        // the permit's leak tracking starts in AbstractPermit's constructor, before RedisPermit's
        // can fail (its renewal cannot be scheduled): a permit never handed out, so never
        // released, must not be reported as leaked when it is collected
        io.lettuce.core.RedisClient client = fleet.client();
        RedisLimiters early = RedisLimiters.builder(client).connect();
        ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
        try {
            RedisSemaphore s = early.semaphore("never-handed-out" + System.nanoTime(), 1, Duration.ofSeconds(5));
            TestFleet.shutDownComputationExecutor(client);
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);   // every permit tracked
            long before = LeakReports.settled();
            assertThatThrownBy(() -> new RedisPermit(s, "never-handed-out", 1, loop))
                    .isInstanceOf(RejectedExecutionException.class);
            assertThat(LeakReports.besidesAControlLeak(before)).as("reports besides the control leak").isZero();
        } finally {
            ResourceLeakDetector.setLevel(level);
            TestFleet.close(early);
        }
    }
}
