package dev.nettysync.micrometer;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.testing.LogCapture;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.LogRecord;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link MeterClaims} through the binders: what a claim holds, for how long, and what it logs. */
class MeterClaimsTest {

    private final MeterRegistry registry = new SimpleMeterRegistry();

    /** Collects garbage until {@code ref} is cleared or 10 s have passed; whether it was cleared. */
    private static boolean collected(WeakReference<?> ref) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ref.get() != null && System.nanoTime() - deadline < 0) {
            System.gc();
            Thread.sleep(10);
        }
        return ref.get() == null;
    }

    /** Binds a limiter under {@code name}, removes its meters, and returns a weak reference to it. */
    private WeakReference<AsyncLimiter> boundThenRemoved(String name, boolean metered) {
        AsyncLimiter limiter = AsyncLimiter.of(new AsyncSemaphore(3));
        MeteredLimiter wrapper = metered ? new MeteredLimiter(limiter, name) : null;
        if (metered) {
            wrapper.bindTo(registry);
            wrapper.tryAcquire().release();
        } else {
            new LimiterMetrics(limiter, name).bindTo(registry);
        }
        for (Meter m : registry.getMeters()) {
            if (name.equals(m.getId().getTag("limiter"))) {
                registry.remove(m);
            }
        }
        return new WeakReference<>(metered ? wrapper : limiter);
    }

    @Test
    void aLimiterWhoseMetersWereRemovedIsNotKeptAliveByItsClaims() throws Exception {
        // e.g. a limiter per tenant, bound when the tenant comes and its meters removed when it goes
        WeakReference<AsyncLimiter> gauged = boundThenRemoved("tenant-1", false);
        WeakReference<AsyncLimiter> metered = boundThenRemoved("tenant-2", true);
        assertThat(collected(gauged)).as("a LimiterMetrics' limiter, once its gauges are removed").isTrue();
        assertThat(collected(metered)).as("a MeteredLimiter, once its meters are removed").isTrue();
        // the names are free: another limiter may take them
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(5)), "tenant-1").bindTo(registry);
        new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(5)), "tenant-2").bindTo(registry);
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "tenant-2").gauge().value()).isEqualTo(5);
    }

    @Test
    void aRegistryDroppedByItsOwnerIsNotKeptAliveByTheClaims() throws Exception {
        MeteredLimiter kept = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(3)), "kept");
        WeakReference<MeterRegistry> dropped = bindToATemporaryRegistry(kept);
        assertThat(collected(dropped)).as("the registry, though the limiter bound to it lives on").isTrue();
        assertThat(kept.tryAcquire()).isNotNull();
    }

    private static WeakReference<MeterRegistry> bindToATemporaryRegistry(MeteredLimiter limiter) {
        MeterRegistry temporary = new SimpleMeterRegistry();
        limiter.bindTo(temporary);
        new LimiterMetrics(limiter.delegate(), "gauges only").bindTo(temporary);
        return new WeakReference<>(temporary);
    }

    @Test
    void bindingSeveralLimitersOrOneLimiterAgainLogsNoDoubleRegistration() {
        AsyncLimiter pool = AsyncLimiter.of(new AsyncSemaphore(3));
        try (LogCapture log = LogCapture.of(MeterRegistry.class)) {   // a WARN once per JVM, then DEBUG
            new LimiterMetrics(pool, "pool").bindTo(registry);
            new LimiterMetrics(pool, "pool").bindTo(registry);                 // the same limiter again
            MeteredLimiter backend = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(2)), "backend");
            backend.bindTo(registry);                                           // a second limiter: the leak counter again
            backend.bindTo(registry);
            new MeteredLimiter(pool, "pool").bindTo(registry);                 // gauges of a limiter already bound
            assertThat(log.records()).extracting(LogRecord::getMessage)
                    .filteredOn(m -> m != null && m.contains("already registered"))
                    .as("Micrometer's 'already registered, the registration will be ignored'").isEmpty();
        }
        assertThat(registry.find(LimiterMetrics.LEAKS).functionCounters()).hasSize(1);
    }

    @Test
    void aLimitersOwnToStringRunsWithNoClaimHeld() {
        MeterRegistry other = new SimpleMeterRegistry();
        AsyncLimiter chatty = new AsyncLimiter() {
            private final AsyncLimiter inner = AsyncLimiter.of(new AsyncSemaphore(1));

            @Override
            public Future<Permit> acquire(EventExecutor executor) {
                return inner.acquire(executor);
            }

            @Override
            public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
                return inner.acquire(executor, timeout, unit);
            }

            @Override
            public Permit tryAcquire() {
                return inner.tryAcquire();
            }

            @Override
            public LimiterStatistics statistics() {
                return inner.statistics();
            }

            /** User code: binds another limiter from another thread, and waits for it. */
            @Override
            public String toString() {
                try {
                    CompletableFuture.runAsync(() -> new LimiterMetrics(inner, "elsewhere").bindTo(other))
                            .get(5, TimeUnit.SECONDS);
                    return "chatty";
                } catch (Exception e) {
                    return "chatty, whose toString could not bind: " + e;
                }
            }
        };
        new LimiterMetrics(chatty, "shared").bindTo(registry);
        assertThatThrownBy(() -> new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(2)), "shared").bindTo(registry))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(chatty)");
    }

    @Test
    void twoLimitersBoundUnderOneNameAtTheSameTimeOneWinsWhole() throws Exception {
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            for (int i = 0; i < 200; i++) {
                MeterRegistry r = new SimpleMeterRegistry();
                java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
                List<java.util.concurrent.Future<Integer>> results = new ArrayList<>();
                for (int limit : new int[] {3, 7}) {
                    results.add(threads.submit(() -> {
                        MeteredLimiter l = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(limit)), "race");
                        start.await();
                        try {
                            l.bindTo(r);
                            return limit;
                        } catch (IllegalArgumentException refused) {
                            return 0;
                        }
                    }));
                }
                int a = results.get(0).get(5, TimeUnit.SECONDS);
                int b = results.get(1).get(5, TimeUnit.SECONDS);
                assertThat(a == 0 ^ b == 0).as("exactly one binding refused: " + a + ", " + b).isTrue();
                assertThat(r.get(LimiterMetrics.LIMIT).tag("limiter", "race").gauge().value()).isEqualTo(a + b);
                assertThat(r.find(MeteredLimiter.WAIT).timers()).hasSize(1);
            }
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void aBindingTheRegistryFailsPartWayLeavesNoMeterBehindForAnotherLimiterToShare() {
        java.util.concurrent.atomic.AtomicBoolean refuseOnce = new java.util.concurrent.atomic.AtomicBoolean(true);
        registry.config().meterFilter(new io.micrometer.core.instrument.config.MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                if (id.getName().equals(LimiterMetrics.QUEUED) && refuseOnce.getAndSet(false)) {
                    throw new IllegalStateException("the registry refused " + id.getName());
                }
                return id;
            }
        });
        MeteredLimiter first = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(3)), "partial");
        assertThatThrownBy(() -> first.bindTo(registry)).isInstanceOf(IllegalStateException.class);
        assertThat(registry.getMeters()).as("what it registered before the failure is removed").isEmpty();

        MeteredLimiter second = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(5)), "partial");
        second.bindTo(registry);
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "partial").gauge().value())
                .as("the second limiter's own gauge, not the first one's left behind").isEqualTo(5);
        first.tryAcquire().release();
        assertThat(registry.get(MeteredLimiter.REFUSED).tags("limiter", "partial", "reason", "unavailable").counter().count())
                .as("the first limiter (never bound) counts nothing there").isZero();
    }

    @Test
    void aRegistryThatAlsoFailsToRemoveTheMetersOfAFailedBindingRethrowsItsFirstFailureWithTheOthersInIt() {
        MeterRegistry failing = new SimpleMeterRegistry() {
            @Override
            public Meter remove(Meter meter) {
                throw new IllegalStateException("cannot remove " + meter.getId().getName());
            }
        };
        failing.config().meterFilter(new io.micrometer.core.instrument.config.MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                if (id.getName().equals(LimiterMetrics.QUEUED)) {
                    throw new IllegalStateException("the registry refused " + id.getName());
                }
                return id;
            }
        });
        assertThatThrownBy(() -> new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(3)), "stuck").bindTo(failing))
                .hasMessage("the registry refused " + LimiterMetrics.QUEUED)
                .satisfies(e -> assertThat(e.getSuppressed()).extracting(Throwable::getMessage).containsExactly(
                        "cannot remove " + LimiterMetrics.LIMIT, "cannot remove " + LimiterMetrics.IN_USE,
                        "cannot remove " + LimiterMetrics.AVAILABLE));
    }

    @Test
    void aNameWhoseMetersAFilterDeniesHoldsNoClaimSoAnotherLimiterMayUseIt() {
        registry.config().meterFilter(io.micrometer.core.instrument.config.MeterFilter.denyNameStartsWith("nettysync.limiter"));
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(3)), "muted").bindTo(registry);
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(5)), "muted").bindTo(registry);   // nothing exported to mix
        assertThat(registry.find(LimiterMetrics.LIMIT).meters()).isEmpty();
    }

    // --- meters this module did not register: a composite's, the application's ---------------

    private static double unavailable(MeterRegistry r, String limiter) {
        return r.get(MeteredLimiter.REFUSED).tags("limiter", limiter, "reason", "unavailable").counter().count();
    }

    @Test
    void aLimiterBoundThroughACompositeAndToItsMemberIsRefusedThereRatherThanCountedTwice() {
        // A composite registers its meters in each member: bound to both, the limiter used to
        // count each event twice in the member, once through the composite and once directly
        CompositeMeterRegistry composite = new CompositeMeterRegistry();
        composite.add(registry);
        MeteredLimiter backend = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(0)), "backend");
        backend.bindTo(composite);
        assertThatThrownBy(() -> backend.bindTo(registry)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(MeteredLimiter.WAIT + "{limiter=backend}")
                .hasMessageContaining("not registered by this binding");
        assertThat(backend.tryAcquire()).isNull();
        assertThat(unavailable(registry, "backend")).as("once, through the composite").isEqualTo(1);
        composite.getMeters().forEach(composite::remove);   // removed from the members too
        assertThat(registry.getMeters()).isEmpty();
        backend.bindTo(composite);                          // so it may be bound again
        assertThat(backend.tryAcquire()).isNull();
        assertThat(unavailable(registry, "backend")).isEqualTo(1);

        // the other way round: bound to the member first, then to the composite
        SimpleMeterRegistry member = new SimpleMeterRegistry();
        CompositeMeterRegistry later = new CompositeMeterRegistry();
        later.add(member);
        MeteredLimiter other = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(0)), "other");
        other.bindTo(member);
        assertThatThrownBy(() -> other.bindTo(later)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a member of this composite");
        assertThat(later.getMeters()).as("nothing of the refused binding stays").isEmpty();
        assertThat(other.tryAcquire()).isNull();
        assertThat(unavailable(member, "other")).isEqualTo(1);
    }

    @Test
    void anotherLimiterUnderTheSameNameOnAMemberOfACompositeIsRefusedAndADistinctOneIsNot() {
        CompositeMeterRegistry composite = new CompositeMeterRegistry();
        composite.add(registry);
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(3)), "pool").bindTo(composite);
        // used to be accepted, its gauges showing the first limiter (3) instead of its own (5)
        assertThatThrownBy(() -> new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(5)), "pool").bindTo(registry))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(LimiterMetrics.LIMIT + "{limiter=pool}");
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "pool").gauge().value()).isEqualTo(3);
        // a distinct name is fine, although the composite put the shared leak counter there
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(5)), "other").bindTo(registry);
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "other").gauge().value()).isEqualTo(5);
        assertThat(registry.find(LimiterMetrics.LEAKS).functionCounters()).hasSize(1);
    }

    @Test
    void theSameLimiterBoundToACompositeAgainGetsItsOwnMetersBackThoughTheMemberHoldsThem() {
        CompositeMeterRegistry composite = new CompositeMeterRegistry();
        composite.add(registry);
        LimiterMetrics pool = new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(3)), "pool");
        pool.bindTo(composite);
        pool.bindTo(composite);                              // the member holds what the composite put there
        assertThat(registry.find(LimiterMetrics.LIMIT).gauges()).singleElement()
                .satisfies(g -> assertThat(g.value()).isEqualTo(3));
    }

    @Test
    void aLimiterUnderTheSameNameOnAMemberOfACompositeInsideTheCompositeIsRefusedToo() {
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(3)), "pool").bindTo(registry);
        CompositeMeterRegistry inner = new CompositeMeterRegistry();
        inner.add(registry);
        CompositeMeterRegistry outer = new CompositeMeterRegistry();
        outer.add(inner);
        assertThatThrownBy(() -> new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(5)), "pool").bindTo(outer))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a member of this composite");
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "pool").gauge().value()).isEqualTo(3);
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(5)), "other").bindTo(outer);
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "other").gauge().value()).isEqualTo(5);
    }

    @Test
    void aMeterTheApplicationRegisteredUnderALimitersNameIsRefusedAndKept() {
        Counter app = Counter.builder(MeteredLimiter.REFUSED).tags("limiter", "backend", "reason", "unavailable")
                .register(registry);
        MeteredLimiter backend = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(0)), "backend");
        assertThatThrownBy(() -> backend.bindTo(registry)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("reason=unavailable");
        assertThat(registry.getMeters()).as("the application's counter stays, nothing of the binding does")
                .containsExactly(app);
        assertThat(backend.tryAcquire()).isNull();
        assertThat(app.count()).as("the limiter's refusals never reach the application's counter").isZero();
    }
}
