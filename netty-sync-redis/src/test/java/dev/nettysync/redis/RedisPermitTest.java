package dev.nettysync.redis;

import dev.nettysync.limit.Permit;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

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
        assertThat(s.statistics().inUse()).as("the forgotten permit no longer counts as held here").isEqualTo(1);
        again.release();
        assertThat(((RedisPermit) again).lease().get(10, TimeUnit.SECONDS)).isNull();
        assertThat(s.statistics().inUse()).isZero();
        assertThat(fleet.used(s)).isZero();
    }
}
