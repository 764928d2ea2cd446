package dev.nettysync.micrometer;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AbstractPermit;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.testing.AnsweringLimiter;
import dev.nettysync.testing.BlockHoundProbe;
import dev.nettysync.testing.ClassEventLoop;
import dev.nettysync.testing.LeakReports;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link MeteredLimiter} and {@link LimiterMetrics} against a {@link SimpleMeterRegistry}. */
class MeteredLimiterTest {
    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;
    @RegisterExtension
    static final ClassEventLoop loop = new ClassEventLoop();

    private final MeterRegistry registry = new SimpleMeterRegistry();
    private final AsyncSemaphore sem = new AsyncSemaphore(2, 1);
    private final MeteredLimiter limiter = new MeteredLimiter(AsyncLimiter.of(sem), "backend", Tags.of("zone", "a"));

    private double gauge(String name) {
        return registry.get(name).tags("limiter", "backend", "zone", "a").gauge().value();
    }

    private double refused(String reason) {
        Counter c = registry.get(MeteredLimiter.REFUSED).tags("limiter", "backend", "reason", reason).counter();
        return c.count();
    }

    @Test
    void gaugesFollowTheLimitersStatistics() {
        limiter.bindTo(registry);
        assertThat(gauge(LimiterMetrics.LIMIT)).isEqualTo(2);
        assertThat(gauge(LimiterMetrics.AVAILABLE)).isEqualTo(2);
        Permit a = limiter.tryAcquire();
        Permit b = limiter.tryAcquire();
        Future<Permit> queued = limiter.acquire(NOW);
        assertThat(gauge(LimiterMetrics.IN_USE)).isEqualTo(2);
        assertThat(gauge(LimiterMetrics.AVAILABLE)).isZero();
        assertThat(gauge(LimiterMetrics.QUEUED)).isEqualTo(1);
        a.release();
        b.release();
        queued.getNow().release();
        assertThat(gauge(LimiterMetrics.IN_USE)).isZero();
        assertThat(gauge(LimiterMetrics.QUEUED)).isZero();
    }

    @Test
    void anUnlimitedLimiterExportsPlusInfinity() {
        AsyncLimiter unlimited = new AsyncLimiter() {
            @Override
            public Future<Permit> acquire(EventExecutor executor) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Permit tryAcquire() {
                throw new UnsupportedOperationException();
            }

            @Override
            public LimiterStatistics statistics() {
                return new LimiterStatistics(LimiterStatistics.UNLIMITED, 5, LimiterStatistics.UNLIMITED, 0);
            }
        };
        new LimiterMetrics(unlimited, "open").bindTo(registry);
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "open").gauge().value()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(registry.get(LimiterMetrics.AVAILABLE).tag("limiter", "open").gauge().value()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(registry.get(LimiterMetrics.IN_USE).tag("limiter", "open").gauge().value()).isEqualTo(5);
    }

    @Test
    void waitsAreTimedWithAPercentileHistogram() throws Exception {
        java.util.concurrent.atomic.AtomicReference<io.micrometer.core.instrument.distribution.DistributionStatisticConfig> config =
                new java.util.concurrent.atomic.AtomicReference<>();
        registry.config().meterFilter(new io.micrometer.core.instrument.config.MeterFilter() {
            @Override
            public io.micrometer.core.instrument.distribution.DistributionStatisticConfig configure(
                    io.micrometer.core.instrument.Meter.Id id,
                    io.micrometer.core.instrument.distribution.DistributionStatisticConfig c) {
                if (id.getName().equals(MeteredLimiter.WAIT)) {
                    config.set(c);
                }
                return c;
            }
        });
        limiter.bindTo(registry);
        assertThat(config.get().isPercentileHistogram()).as("a percentile histogram is asked for").isTrue();
        Permit a = limiter.tryAcquire();
        Permit b = limiter.tryAcquire();
        Future<Permit> queued = limiter.acquire(loop);
        loop.schedule(a::release, 50, TimeUnit.MILLISECONDS);
        // Listeners run in the order added: once ours has run, the recording one has too.
        java.util.concurrent.CountDownLatch recorded = new java.util.concurrent.CountDownLatch(1);
        queued.addListener(x -> recorded.countDown());
        assertThat(recorded.await(5, TimeUnit.SECONDS)).isTrue();
        Permit c = queued.getNow();
        Timer wait = registry.get(MeteredLimiter.WAIT).tags("limiter", "backend", "zone", "a").timer();
        assertThat(wait.count()).isEqualTo(1);
        assertThat(wait.max(TimeUnit.MILLISECONDS)).isGreaterThanOrEqualTo(40);
        b.release();
        Permit d = limiter.acquire(NOW).getNow();         // admitted at once: recorded too, at ~0
        assertThat(wait.count()).isEqualTo(2);
        c.release();
        d.release();
    }

    @Test
    void refusalsAreCountedByReason() throws Exception {
        limiter.bindTo(registry);
        Permit a = limiter.tryAcquire();
        Permit b = limiter.tryAcquire();
        assertThat(limiter.tryAcquire()).isNull();                                   // unavailable
        Future<Permit> timed = limiter.acquire(loop, 10, TimeUnit.MILLISECONDS);     // timeout
        java.util.concurrent.CountDownLatch recorded = new java.util.concurrent.CountDownLatch(1);
        timed.addListener(x -> recorded.countDown());
        assertThat(recorded.await(5, TimeUnit.SECONDS)).isTrue();
        Future<Permit> queued = limiter.acquire(NOW);
        assertThat(limiter.acquire(NOW).isSuccess()).isFalse();                      // queue full (maxPending 1)
        queued.cancel(false);                                                        // cancelled
        sem.close();
        assertThat(limiter.acquire(NOW).isSuccess()).isFalse();                      // closed

        MeteredLimiter rated = new MeteredLimiter(failing(new dev.nettysync.limit.RateLimitedException("over the rate", 1_000_000L)), "rated");
        rated.bindTo(registry);
        rated.acquire(NOW);
        MeteredLimiter odd = new MeteredLimiter(failing(new IllegalStateException("odd")), "odd");
        odd.bindTo(registry);
        odd.acquire(NOW);

        assertThat(refused("unavailable")).isEqualTo(1);
        assertThat(refused("timeout")).isEqualTo(1);
        assertThat(refused("queue_full")).isEqualTo(1);
        assertThat(refused("cancelled")).isEqualTo(1);
        assertThat(refused("closed")).isEqualTo(1);
        assertThat(registry.get(MeteredLimiter.REFUSED).tags("limiter", "rated", "reason", "rate").counter().count()).isEqualTo(1);
        assertThat(registry.get(MeteredLimiter.REFUSED).tags("limiter", "odd", "reason", "other").counter().count()).isEqualTo(1);
        assertThat(registry.get(MeteredLimiter.WAIT).tags("limiter", "backend", "zone", "a").timer().count())
                .as("a refused, timed-out or cancelled wait is counted once, as a refusal, and not timed").isZero();
        a.release();
        b.release();
    }

    @Test
    void leaksAreExportedFromTheDetectorsCount() throws Exception {
        limiter.bindTo(registry);
        if (AbstractPermit.leaksReported() == 0) {           // none yet in this JVM: leak one, so the count is not 0
            ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
            try {
                dropAPermit();
                LeakReports.await(0);
            } finally {
                ResourceLeakDetector.setLevel(level);
            }
        }
        assertThat(AbstractPermit.leaksReported()).as("a leak reported").isPositive();
        assertThat(registry.get(LimiterMetrics.LEAKS).functionCounter().count()).isEqualTo(AbstractPermit.leaksReported());
    }

    private static void dropAPermit() {
        assertThat(AsyncLimiter.of(new AsyncSemaphore(1)).tryAcquire()).isNotNull();   // never ended
    }

    @Test
    void eventsGoToEveryRegistryBound() {
        MeterRegistry other = new SimpleMeterRegistry();
        limiter.bindTo(registry);
        limiter.bindTo(other);
        Permit a = limiter.tryAcquire();
        Permit b = limiter.tryAcquire();
        limiter.tryAcquire();
        assertThat(refused("unavailable")).isEqualTo(1);
        assertThat(other.get(MeteredLimiter.REFUSED).tags("reason", "unavailable").counter().count()).isEqualTo(1);
        a.release();
        b.release();
    }

    @Test
    void bindingTwiceToOneRegistryCountsEachEventOnce() throws Exception {
        // e.g. bound by hand as the class comment shows, and again by a framework that binds
        // every MeterBinder it finds: the registry hands back the same meters both times
        limiter.bindTo(registry);
        limiter.bindTo(registry);
        Permit a = limiter.tryAcquire();
        Permit b = limiter.tryAcquire();
        assertThat(limiter.tryAcquire()).isNull();
        assertThat(refused("unavailable")).isEqualTo(1);
        Timer wait = registry.get(MeteredLimiter.WAIT).tags("limiter", "backend", "zone", "a").timer();
        a.release();
        limiter.acquire(NOW).getNow().release();
        assertThat(wait.count()).isEqualTo(1);
        b.release();
    }

    @Test
    void twoLimitersUnderOneNameAndTagsOnOneRegistryAreRefusedNotMixed() {
        limiter.bindTo(registry);
        MeteredLimiter other = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(5)), "backend", Tags.of("zone", "a"));
        int meters = registry.getMeters().size();
        assertThatThrownBy(() -> other.bindTo(registry))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(MeteredLimiter.WAIT)
                .hasMessageContaining("limiter=backend")
                .as("names the limiter that holds it").hasMessageContaining("to another limiter (MeteredLimiter(backend, ")
                .hasMessageContaining("distinct");
        assertThat(registry.getMeters()).as("a refused binding registers nothing").hasSize(meters);

        // nothing of the other one is counted under the first one's meters
        other.tryAcquire();
        assertThat(registry.get(LimiterMetrics.LIMIT).tags("limiter", "backend", "zone", "a").gauge().value()).isEqualTo(2);
        assertThat(registry.get(MeteredLimiter.WAIT).tags("limiter", "backend", "zone", "a").timer().count()).isZero();

        // distinct tags (as Micrometer's own binders ask): both are exported, apart
        MeteredLimiter zoneB = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(5)), "backend", Tags.of("zone", "b"));
        zoneB.bindTo(registry);
        assertThat(registry.get(LimiterMetrics.LIMIT).tags("limiter", "backend", "zone", "b").gauge().value()).isEqualTo(5);
        assertThat(registry.get(LimiterMetrics.LIMIT).tags("limiter", "backend", "zone", "a").gauge().value()).isEqualTo(2);
    }

    @Test
    void twoMeteredWrappersOfOneLimiterUnderOneNameAreRefusedToo() {
        AsyncLimiter shared = AsyncLimiter.of(new AsyncSemaphore(3));
        new MeteredLimiter(shared, "shared").bindTo(registry);
        MeteredLimiter second = new MeteredLimiter(shared, "shared");
        assertThatThrownBy(() -> second.bindTo(registry))
                .as("their wait timers and refusal counters would mix")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(MeteredLimiter.WAIT);
    }

    @Test
    void limiterMetricsOfTwoLimitersUnderOneNameAreRefusedOfOneLimiterAccepted() {
        AsyncLimiter first = AsyncLimiter.of(new AsyncSemaphore(3));
        new LimiterMetrics(first, "pool").bindTo(registry);
        new LimiterMetrics(first, "pool").bindTo(registry);            // the same limiter again: the same gauges
        assertThatThrownBy(() -> new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(7)), "pool").bindTo(registry))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(LimiterMetrics.LIMIT).hasMessageContaining("limiter=pool");
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "pool").gauge().value()).isEqualTo(3);
        // a MeteredLimiter over the same limiter may add its timer and counters beside the gauges
        new MeteredLimiter(first, "pool").bindTo(registry);
        // and another registry is another namespace
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(7)), "pool").bindTo(new SimpleMeterRegistry());
    }

    @Test
    void aNameFreedByRemovingItsMetersCanBeBoundAgain() {
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(3)), "pool").bindTo(registry);
        registry.clear();
        new LimiterMetrics(AsyncLimiter.of(new AsyncSemaphore(7)), "pool").bindTo(registry);
        assertThat(registry.get(LimiterMetrics.LIMIT).tag("limiter", "pool").gauge().value()).isEqualTo(7);
    }

    @Test
    void boundAgainAfterSomeOfItsMetersWereRemovedEachEventIsCountedOnce() {
        limiter.bindTo(registry);
        registry.remove(registry.get(MeteredLimiter.WAIT).tags("limiter", "backend", "zone", "a").timer());
        limiter.bindTo(registry);                 // a new timer, the same refusal counters
        Permit a = limiter.tryAcquire();
        Permit b = limiter.tryAcquire();
        assertThat(limiter.tryAcquire()).isNull();
        assertThat(refused("unavailable")).isEqualTo(1);
        a.release();
        limiter.acquire(NOW).getNow().release();
        assertThat(registry.get(MeteredLimiter.WAIT).tags("limiter", "backend", "zone", "a").timer().count()).isEqualTo(1);
        b.release();
    }

    @Test
    void gaugesOfAMeteredLimiterAndOfItsDelegateAreTheSameLimiters() {
        // the README's "binding the same limiter again (a second LimiterMetrics, or a MeteredLimiter
        // over it) is allowed", whichever of the two a LimiterMetrics is given
        limiter.bindTo(registry);
        new LimiterMetrics(limiter, "backend", Tags.of("zone", "a")).bindTo(registry);
        new LimiterMetrics(limiter.delegate(), "backend", Tags.of("zone", "a")).bindTo(registry);
        MeterRegistry other = new SimpleMeterRegistry();
        new LimiterMetrics(limiter, "backend").bindTo(other);
        new MeteredLimiter(limiter, "backend").bindTo(other);       // a wrapper of the wrapper: its gauges are the same too
        assertThat(gauge(LimiterMetrics.LIMIT)).isEqualTo(2);
        assertThat(other.get(LimiterMetrics.LIMIT).tag("limiter", "backend").gauge().value()).isEqualTo(2);
    }

    @Test
    void aWaitThatFailsWithACancellationIsCountedAsCancelled() {
        // a composite with a part bound to a channel whose client has gone: the part's wait is
        // cancelled at once, and the composite fails with a CancellationException (it was not
        // cancelled itself: its caller did not cancel it)
        limiter.bindTo(registry);
        io.netty.channel.embedded.EmbeddedChannel client = new io.netty.channel.embedded.EmbeddedChannel();
        MeteredLimiter composite = new MeteredLimiter(AsyncLimiter.all(
                AsyncLimiter.of(new AsyncSemaphore(1)),
                dev.nettysync.channel.ChannelLimits.forChannel(limiter.delegate(), client)), "composite");
        composite.bindTo(registry);
        client.close();
        Future<Permit> refused = composite.acquire(client.eventLoop());
        assertThat(refused.isCancelled()).isFalse();
        assertThat(refused.cause()).isInstanceOf(java.util.concurrent.CancellationException.class);
        assertThat(registry.get(MeteredLimiter.REFUSED).tags("limiter", "composite", "reason", "cancelled").counter().count())
                .isEqualTo(1);
        assertThat(registry.get(MeteredLimiter.REFUSED).tags("limiter", "composite", "reason", "other").counter().count())
                .isZero();
        assertThat(sem.availablePermits()).isEqualTo(2);
    }

    @Test
    void blockHoundGuardsThisModulesTestsToo() throws Exception {
        BlockHoundProbe.assertBlockingIsCaughtOn(loop);
    }

    /** A limiter that refuses every acquire with {@code cause}. */
    private static AsyncLimiter failing(Throwable cause) {
        return new AnsweringLimiter(executor -> executor.newFailedFuture(cause), () -> new LimiterStatistics(0, 0, 0, 0));
    }
}
