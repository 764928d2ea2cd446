package dev.nettysync.micrometer;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.Permit;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link MeterClaims} on a real {@link PrometheusMeterRegistry}, the registry with the strictest
 * rules per meter name: what it accepts (other tag keys under one name) and what it refuses (a
 * name taken by a meter of another type, or by another name with the same Prometheus name),
 * whether it throws or, by default, only reports the refusal to its listeners.
 */
class MeterClaimsPrometheusTest {

    @Test
    void limitersWithOtherTagKeysUnderOneNameAreBothExported() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        MeteredLimiter a = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(3)), "a");
        MeteredLimiter b = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(5)), "b", Tags.of("zone", "z"));
        a.bindTo(registry);
        b.bindTo(registry);
        b.acquire(ImmediateEventExecutor.INSTANCE).getNow().release();   // a granted acquire: one wait
        String scrape = registry.scrape();
        assertThat(scrape).contains("nettysync_limiter_limit{limiter=\"a\"} 3.0")
                .contains("nettysync_limiter_limit{limiter=\"b\",zone=\"z\"} 5.0")
                .contains("nettysync_limiter_wait_seconds_count{limiter=\"b\",zone=\"z\"} 1");
    }

    /** A meter of the application's that takes the name of the limiters' queued gauge, in two ways. */
    private static Consumer<MeterRegistry> conflict(String kind) {
        return switch (kind) {
            // Prometheus: one type per name
            case "counter" -> r -> r.counter(LimiterMetrics.QUEUED, "app", "x");
            // another Micrometer name with the same Prometheus name
            case "same-prometheus-name" -> r -> r.gauge("nettysync_limiter_queued", Tags.of("app", "x"), 7);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"counter", "same-prometheus-name"})
    void aMeterTheRegistryRefusesWithoutThrowingFailsTheBindingAndLeavesNothingBehind(String kind) throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);  // refusals only logged
        conflict(kind).accept(registry);
        Meter app = registry.getMeters().get(0);
        MeteredLimiter backend = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(2)), "backend");

        assertThatThrownBy(() -> backend.bindTo(registry))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the registry refused meter " + LimiterMetrics.QUEUED + "{limiter=backend}")
                .hasMessageContaining("nettysync_limiter_queued")
                .hasMessageContaining("nothing of this binding stays registered");
        assertThatThrownBy(() -> new LimiterMetrics(backend, "backend").bindTo(registry))
                .isInstanceOf(IllegalArgumentException.class);
        assertOnly(registry, app);

        // the limiter works, unmetered
        Permit p = backend.acquire(ImmediateEventExecutor.INSTANCE).getNow();
        assertThat(p).isNotNull();
        assertThat(backend.tryAcquire()).isNotNull().satisfies(Permit::release);
        p.release();
        assertThat(backend.statistics().available()).isEqualTo(2);
        assertOnly(registry, app);

        // nothing stays claimed: once the name is free, the same limiter binds and is exported
        registry.remove(app);
        backend.bindTo(registry);
        backend.acquire(ImmediateEventExecutor.INSTANCE).getNow().release();
        assertThat(registry.scrape()).contains("nettysync_limiter_queued{limiter=\"backend\"} 0.0")
                .contains("nettysync_limiter_wait_seconds_count{limiter=\"backend\"} 1");
    }

    @Test
    void aRegistryThatThrowsOnARefusalHasTheBindingRolledBack() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)
                .throwExceptionOnRegistrationFailure();
        conflict("counter").accept(registry);
        Meter app = registry.getMeters().get(0);
        MeteredLimiter backend = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(2)), "backend");

        assertThatThrownBy(() -> backend.bindTo(registry))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("same type");
        assertOnly(registry, app);
        assertThat(backend.tryAcquire()).isNotNull().satisfies(Permit::release);

        registry.remove(app);
        backend.bindTo(registry);
        assertThat(registry.scrape()).contains("nettysync_limiter_queued{limiter=\"backend\"} 0.0");
    }

    /** The registry holds {@code app} alone and exports none of the limiter's meters. */
    private static void assertOnly(PrometheusMeterRegistry registry, Meter app) {
        assertThat(registry.getMeters()).as("no meter of the failed binding left").containsExactly(app);
        assertThat(registry.scrape()).doesNotContain("backend").doesNotContain("nettysync_limiter_wait")
                .doesNotContain("nettysync_permit_leaks")
                .as("the application's meter still exported").contains("app=\"x\"");
    }
}
