package dev.nettysync.micrometer;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.Permit;
import dev.nettysync.testing.AllocationMeter;
import dev.nettysync.testing.ClassEventLoop;
import dev.nettysync.testing.NoLeakTracking;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The class comment's "an acquire that completes at once is recorded inline, with no listener and
 * nothing allocated by this class": a metered uncontended acquire costs what the wrapped one does
 * (the permit, 32 B, as {@code LimiterAllocationTest} guards it), though it records into a timer
 * with a percentile histogram (Micrometer's recording allocates nothing either) and into two
 * registries. Leak detection is off while a figure is taken (it samples permits at random).
 */
@ExtendWith(NoLeakTracking.class)
class MeteredLimiterAllocationTest {

    private static final int OPS = 10_000;

    @RegisterExtension
    static final ClassEventLoop loop = new ClassEventLoop();

    @Test
    void anUncontendedMeteredAcquireAllocatesOnlyThePermit() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        MeteredLimiter limiter = new MeteredLimiter(AsyncLimiter.of(sem), "alloc");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        limiter.bindTo(registry);
        limiter.bindTo(new SimpleMeterRegistry());
        AllocationMeter.assertAtMost("MeteredLimiter(AsyncLimiter.of(semaphore)).acquire(loop) + permit.release(), uncontended",
                32, "the wrapped limiter's permit (PrimitivePermit, 32 B); the wrapper adds nothing", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        Future<Permit> f = limiter.acquire(loop);
                        if (!f.isSuccess() || !f.getNow().release()) {
                            throw new AssertionError("uncontended acquire not granted at once: " + f);
                        }
                    }
                });
        assertThat(registry.get(MeteredLimiter.WAIT).timer().count()).isGreaterThan(OPS);
        assertThat(sem.availablePermits()).isOne();
    }
}
