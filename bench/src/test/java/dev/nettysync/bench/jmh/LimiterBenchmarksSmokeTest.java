package dev.nettysync.bench.jmh;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs the rate, keyed and adaptive limiter benchmarks' bodies a few times outside JMH: every peer admits
 * in the {@code admit} scenario and refuses in the {@code refuse} one (so each measures what it
 * says), and keyed acquire + release never refuses nor evicts (10^6 keys: KeyedLimiterStressTest
 * in netty-sync drives that size; here it would cost ~30 s of set-up).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LimiterBenchmarksSmokeTest {

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
            "nettysync, admit", "nettysyncPermit, admit", "resilience4j, admit", "bucket4j, admit",
            "nettysync, refuse", "nettysyncPermit, refuse", "resilience4j, refuse", "bucket4j, refuse",
    })
    void rateLimiter(String impl, String scenario) {
        RateLimiterBenchmark b = new RateLimiterBenchmark();
        b.impl = impl;
        b.scenario = scenario;
        b.setUp();
        boolean admit = scenario.equals("admit");
        b.admit();                                   // the refuse scenario's only admission
        for (int i = 0; i < 10_000; i++) {
            assertThat(b.tryAcquire()).as("%s %s call %d", impl, scenario, i).isEqualTo(admit);
            assertThat(b.tryAcquireContended()).isEqualTo(admit);
        }
    }

    @ParameterizedTest(name = "{0} keys={1}")
    @CsvSource({"keyed, 10", "keyed, 10000", "global, 10", "global, 10000"})
    void keyedLimiter(String impl, int keys) {
        KeyedLimiterBenchmark b = new KeyedLimiterBenchmark();
        b.impl = impl;
        b.keys = keys;
        b.setUp();
        for (int i = 0; i < 20_000; i++) {
            assertThat(b.tryAcquireRelease()).isTrue();
            assertThat(b.acquireRelease()).isTrue();
        }
        assertThat(b.liveKeys()).isEqualTo(impl.equals("keyed") ? keys : 0);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"nettysync", "netflix"})
    void adaptiveLimiter(String impl) {
        AdaptiveLimiterBenchmark b = new AdaptiveLimiterBenchmark();
        b.impl = impl;
        b.setUp();
        assertThat(b.limit()).isEqualTo(AdaptiveLimiterBenchmark.INITIAL_LIMIT);
        for (int i = 0; i < 20_000; i++) {
            assertThat(b.tryAcquireRelease()).as("%s call %d", impl, i).isTrue();
            assertThat(b.tryAcquireReleaseContended()).isTrue();
        }
        assertThat(b.inUse()).as("every admission ended").isZero();
        assertThat(b.limit()).as("still an adaptive limit within its bounds").isBetween(1, AdaptiveLimiterBenchmark.MAX_LIMIT);
    }
}
