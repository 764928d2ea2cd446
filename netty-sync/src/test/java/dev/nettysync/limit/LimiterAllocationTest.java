package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.testing.AllocationMeter;
import dev.nettysync.testing.AllocationMeter.Round;
import dev.nettysync.testing.ClassEventLoop;
import dev.nettysync.testing.NoLeakTracking;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The allocation guard of the limiters' hot paths, as {@code dev.nettysync.AllocationTest} is the
 * primitives': bytes allocated per operation by the test thread ({@link AllocationMeter}),
 * asserted against the figures bench/README.md and its limiter run
 * (bench/results/jmh-20261126T200718Z) report. Each bound is the value measured when the guard
 * was written, so any growth fails; change a bound only together with the figure it guards.
 *
 * <p>Netty's leak detection is off while a figure is taken: at its default level it tracks one
 * permit in 128, chosen at random, which would make the count random too. The figures are
 * therefore those of the permit itself; a sampled permit costs its tracker on top.
 */
@ExtendWith(NoLeakTracking.class)
class LimiterAllocationTest {

    static final int OPS = 10_000;

    @RegisterExtension
    static final ClassEventLoop loop = new ClassEventLoop();

    // ---------------------------------------------------------------- a primitive's view

    @Test
    void aPermitHandleIsOneObject() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        AllocationMeter.assertAtMost("AsyncLimiter.of(semaphore).acquire(loop) + permit.release(), uncontended", 32,
                "the permit, which is its own completed future (PrimitivePermit, 32 B; bench/README.md:"
                        + " PermitHandleBenchmark handle 32 B)", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        releaseGrantedAtOnce(limiter.acquire(loop));
                    }
                });
        AllocationMeter.assertAtMost("AsyncLimiter.of(semaphore).tryAcquire() + release(), uncontended", 32,
                "the permit (PrimitivePermit, 32 B)", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        Permit p = limiter.tryAcquire();
                        if (p == null || !p.release()) {
                            throw new AssertionError("uncontended tryAcquire failed: " + p);
                        }
                    }
                });
        assertThat(sem.availablePermits()).isOne();
    }

    @Test
    void aQueuedAcquireThroughAHandleAllocatesTheWaiterAndItsMapping() {
        AllocationMeter.assertAtMost("AsyncLimiter.of(semaphore).acquire(loop) that queues", 88,
                "the semaphore's waiter (48 B) and the wait the caller holds, which listens to it"
                        + " (PrimitiveAcquire: a promise with its source and limiter, 40 B)", OPS, new Round() {
                    AsyncLimiter limiter;

                    @Override
                    public void setUp() {
                        limiter = AsyncLimiter.of(new AsyncSemaphore(0));
                    }

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            limiter.acquire(loop);
                        }
                    }
                });
    }

    @Test
    void aCompositeOfThreeAllocatesItsPermitsAndOneComposite() {
        AsyncLimiter all = AsyncLimiter.all(AsyncLimiter.of(new AsyncSemaphore(1)),
                AsyncLimiter.of(new AsyncSemaphore(1)), AsyncLimiter.of(new AsyncSemaphore(1)));
        AllocationMeter.assertAtMost("AsyncLimiter.all(3 views of semaphores).acquire(loop) + permit.release(), uncontended",
                184, "bench/README.md: composite3 184 B (three permits and the composite's)", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        releaseGrantedAtOnce(all.acquire(loop));
                    }
                });
    }

    // ---------------------------------------------------------------- rate limiter

    @Test
    void aRateLimitersAdmissionWithoutAPermitAllocatesNothing() {
        AsyncRateLimiter admitting = AsyncRateLimiter.perSecond(1_000_000_000, 1_000_000_000);
        AllocationMeter.assertAtMost("AsyncRateLimiter.tryAcquireNanos(1), admitted", 0,
                "one CAS on the state word (bench/README.md: 0 B)", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        if (admitting.tryAcquireNanos(1) != 0) {
                            throw new AssertionError("refused by a limiter of 10^9 permits per second");
                        }
                    }
                });
        AsyncRateLimiter refusing = AsyncRateLimiter.builder(1, Duration.ofDays(1)).build();
        assertThat(refusing.tryAcquireNanos(1)).isZero();
        AllocationMeter.assertAtMost("AsyncRateLimiter.tryAcquireNanos(1), refused", 0,
                "a read of the state word; the answer is a long (bench/README.md: 0 B)", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        if (refusing.tryAcquireNanos(1) == 0) {
                            throw new AssertionError("admitted by a limiter of 1 permit a day, already taken");
                        }
                    }
                });
        AllocationMeter.assertAtMost("AsyncRateLimiter.tryAcquire(), refused", 0,
                "null, no permit", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        if (refusing.tryAcquire() != null) {
                            throw new AssertionError("admitted by a limiter of 1 permit a day, already taken");
                        }
                    }
                });
    }

    @Test
    void aRateLimitersPermitIsOneObject() {
        AsyncRateLimiter limiter = AsyncRateLimiter.perSecond(1_000_000_000, 1_000_000_000);
        AllocationMeter.assertAtMost("AsyncRateLimiter.tryAcquire() + release(), admitted", 24,
                "the permit (RatePermit, 24 B; bench/results/jmh-20261126T200718Z: nettysyncPermit 24 B)", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        Permit p = limiter.tryAcquire();
                        if (p == null || !p.release()) {
                            throw new AssertionError("refused by a limiter of 10^9 permits per second: " + p);
                        }
                    }
                });
        AllocationMeter.assertAtMost("AsyncRateLimiter.acquire(ImmediateEventExecutor) + release(), admitted", 48,
                "the permit and its succeeded future (bench/results/jmh-20261126T200718Z: global acquireRelease 48 B)",
                OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        releaseGrantedAtOnce(limiter.acquire(ImmediateEventExecutor.INSTANCE));
                    }
                });
    }

    // ---------------------------------------------------------------- keyed limiter

    @Test
    void aKeyedAdmissionAllocatesThePermitsAndNothingPerKeyOnceTheKeyIsLive() {
        String[] keys = new String[10];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = "10.0.0." + i;
        }
        KeyedLimiter<String> keyed = KeyedLimiter.<String>builder(
                        k -> AsyncRateLimiter.perSecond(1_000_000_000, 1_000_000_000))
                .maxKeys(2 * keys.length).idleTime(Duration.ofHours(1)).build();
        for (String k : keys) {
            keyed.tryAcquire(k).release();
        }
        AllocationMeter.assertAtMost("KeyedLimiter.tryAcquire(key) + release(), 10 live keys", 56,
                "the key's rate permit and the keyed permit around it (bench/results/jmh-20261126T200718Z:"
                        + " keyed tryAcquireRelease 56 B)", OPS, new Round() {
                    int next;

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            Permit p = keyed.tryAcquire(keys[next]);
                            if (p == null || !p.release()) {
                                throw new AssertionError("refused " + keys[next] + ": " + p);
                            }
                            next = next + 1 == keys.length ? 0 : next + 1;
                        }
                    }
                });
        AllocationMeter.assertAtMost("KeyedLimiter.acquire(key, ImmediateEventExecutor) + release(), 10 live keys", 104,
                "the key's permit and its future, the keyed permit and its future"
                        + " (bench/results/jmh-20261126T200718Z: keyed acquireRelease 104 B)", OPS, new Round() {
                    int next;

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            releaseGrantedAtOnce(keyed.acquire(keys[next], ImmediateEventExecutor.INSTANCE));
                            next = next + 1 == keys.length ? 0 : next + 1;
                        }
                    }
                });
        assertThat(keyed.liveKeys()).isEqualTo(keys.length);
    }

    private static void releaseGrantedAtOnce(Future<Permit> f) {
        if (!f.isSuccess() || !f.getNow().release()) {
            throw new AssertionError("an uncontended acquire did not succeed at once: " + f);
        }
    }
}
