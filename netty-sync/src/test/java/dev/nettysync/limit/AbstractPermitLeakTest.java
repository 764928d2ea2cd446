package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.testing.LeakReports;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.internal.logging.InternalLoggerFactory;
import io.netty.util.internal.logging.JdkLoggerFactory;
import io.netty.util.internal.logging.Slf4JLoggerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Leak reports at PARANOID: a permit dropped without being ended is reported through Netty's
 * {@link ResourceLeakDetector}, in Netty's log, with the place it was acquired; permits that
 * were ended are not, though they became unreachable in the same window.
 */
class AbstractPermitLeakTest {
    private static final Logger NETTY_LEAK_LOG = Logger.getLogger(ResourceLeakDetector.class.getName());

    private final List<String> logged = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            logged.add(String.valueOf(record.getMessage()) + ' ' + java.util.Arrays.toString(record.getParameters()));
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    private ResourceLeakDetector.Level level;

    @BeforeEach
    void paranoid() {
        level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        NETTY_LEAK_LOG.addHandler(capture);
    }

    @AfterEach
    void restore() {
        NETTY_LEAK_LOG.removeHandler(capture);
        ResourceLeakDetector.setLevel(level);
    }

    @Test
    void aDroppedPermitIsReportedWithItsAcquireSiteAndEndedOnesAreNot() throws Exception {
        // Netty logs to java.util.logging here either directly or, as in this module's test JVM
        // (an SLF4J binding keeps Lincheck cheap: docs/testing.md), through SLF4J bound to it.
        boolean direct = InternalLoggerFactory.getDefaultFactory() instanceof JdkLoggerFactory;
        boolean viaSlf4j = InternalLoggerFactory.getDefaultFactory() instanceof Slf4JLoggerFactory
                && org.slf4j.LoggerFactory.getILoggerFactory().getClass().getName().equals("org.slf4j.jul.JDK14LoggerFactory");
        assertThat(direct || viaSlf4j)
                .as("Netty logs through java.util.logging in this test JVM, not " + InternalLoggerFactory.getDefaultFactory())
                .isTrue();
        AsyncSemaphore sem = new AsyncSemaphore(100);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        long before = AbstractPermit.leaksReported();

        acquireAndEnd(limiter);                           // ended: must never be reported
        acquireAndDrop(limiter);                          // the leak

        LeakReports.await(before);
        assertThat(AbstractPermit.leaksReported()).as("leaks reported").isEqualTo(before + 1);
        assertThat(logged).as("one LEAK record").hasSize(1);
        String report = logged.get(0);
        assertThat(report).contains("LEAK").contains(AbstractPermit.class.getSimpleName())
                .as("the acquire site").contains("acquireAndDrop")
                .doesNotContain("acquireAndEnd");
        assertThat(sem.availablePermits()).as("a leaked permit is lost, as a leaked buffer is").isEqualTo(99);
    }

    @Test
    void aLeakedKeyedPermitIsReportedOnceAsTheKeyedPermitNotAlsoAsTheInnerOne() throws Exception {
        AsyncSemaphore sem = new AsyncSemaphore(100);
        KeyedLimiter<String> perKey = KeyedLimiter.builder((String k) -> AsyncLimiter.of(sem)).build();
        long before = AbstractPermit.leaksReported();

        dropKeyedPermit(perKey);

        LeakReports.await(before);
        assertThat(AbstractPermit.leaksReported()).as("one leak, one report").isEqualTo(before + 1);
        assertThat(logged).as("one LEAK record").hasSize(1);
        assertThat(logged.get(0)).as("the keyed permit's, the one the application held")
                .contains("dropKeyedPermit").contains("KeyedPermit");
        assertThat(perKey.refs("k")).as("a leaked permit pins its key").isEqualTo(1);
    }

    @Test
    void aLeakedCompositePermitOverAKeyIsReportedOnceAsTheCompositePermit() throws Exception {
        AsyncSemaphore global = new AsyncSemaphore(100);
        KeyedLimiter<String> perKey = KeyedLimiter.builder((String k) -> AsyncLimiter.of(new AsyncSemaphore(4))).build();
        AsyncLimiter both = AsyncLimiter.all(perKey.forKey("k"), AsyncLimiter.of(global));
        long before = AbstractPermit.leaksReported();

        dropCompositePermit(both);

        LeakReports.await(before);
        assertThat(AbstractPermit.leaksReported())
                .as("one leak, one report (not also the keyed permit, its inner permit and the global permit)")
                .isEqualTo(before + 1);
        assertThat(logged).as("one LEAK record").hasSize(1);
        assertThat(logged.get(0)).as("the composite permit's")
                .contains("dropCompositePermit").contains("CompositeLimiter.newPermit");
        assertThat(global.availablePermits()).as("still held: a leak is not given back").isEqualTo(99);
    }

    @Test
    void aLeakedCompositeOverAKeyedPermitThatWasNotSampledIsReportedOnceNotAlsoAsTheKeysInnerPermit() throws Exception {
        // At SIMPLE and ADVANCED a keyed permit may go unsampled while the composite holding it is
        // sampled: the composite then takes the tracking over from the key's own (inner) permit.
        // The levels are switched as the parts are acquired to get exactly that, deterministically.
        AsyncSemaphore global = new AsyncSemaphore(100);
        KeyedLimiter<String> perKey = KeyedLimiter.builder((String k) -> new ForwardingLimiter(AsyncLimiter.of(new AsyncSemaphore(4))) {
            @Override
            protected Permit map(Permit inner) {                         // inner: sampled
                ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
                return inner;                                           // the keyed permit: not sampled
            }
        }).build();
        AsyncLimiter globalView = new ForwardingLimiter(AsyncLimiter.of(global)) {
            @Override
            protected Permit map(Permit inner) {
                ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
                return inner;                                           // the composite: sampled
            }
        };
        AsyncLimiter both = AsyncLimiter.all(perKey.forKey("k"), globalView);
        long before = AbstractPermit.leaksReported();

        dropCompositePermit(both);

        LeakReports.await(before);
        assertThat(AbstractPermit.leaksReported()).as("one leak, one report (not also the key's inner permit)")
                .isEqualTo(before + 1);
        assertThat(logged).hasSize(1);
        assertThat(logged.get(0)).contains("dropCompositePermit").contains("CompositeLimiter.newPermit");
    }

    @Test
    void anAccessRecordedWithTouchIsInTheLeakReport() throws Exception {
        long before = AbstractPermit.leaksReported();

        dropTouchedPermit();

        LeakReports.await(before);
        assertThat(logged).hasSize(1);
        assertThat(logged.get(0)).contains("dropTouchedPermit").contains("request 42 handed to the backend");
    }

    private static void dropTouchedPermit() {
        AbstractPermit permit = new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
            }
        };
        permit.touch("request 42 handed to the backend");
    }

    @Test
    void aPartLeakedByItselfIsStillReportedAfterItsWrappersHaveEnded() throws Exception {
        AsyncSemaphore sem = new AsyncSemaphore(100);
        AsyncLimiter part = AsyncLimiter.of(sem);
        AsyncLimiter both = AsyncLimiter.all(part, AsyncLimiter.of(new AsyncSemaphore(100)));
        for (int i = 0; i < 10; i++) {                    // wrapped and ended: never reported
            both.tryAcquire().release();
        }
        long before = AbstractPermit.leaksReported();

        dropPartPermit(part);

        LeakReports.await(before);
        assertThat(AbstractPermit.leaksReported()).as("the part handed out directly").isEqualTo(before + 1);
        assertThat(logged).hasSize(1);
        assertThat(logged.get(0)).contains("dropPartPermit");
    }

    @Test
    void permitsThatHoldNothingAreNotTracked() throws Exception {
        AsyncLimiter tracked = AsyncLimiter.of(new AsyncSemaphore(100));
        long before = AbstractPermit.leaksReported();

        dropPermitsHoldingNothing();                      // a rate limiter's, Permit.holdingNothing()'s
        acquireAndDrop(tracked);                          // the one leak, so that the wait ends

        LeakReports.await(before);
        assertThat(AbstractPermit.leaksReported()).as("only the semaphore's permit").isEqualTo(before + 1);
        assertThat(logged).hasSize(1);
        assertThat(logged.get(0)).contains("acquireAndDrop");
    }

    private static void dropPermitsHoldingNothing() {
        AsyncRateLimiter rate = AsyncRateLimiter.builder(1000, java.time.Duration.ofSeconds(1)).burst(100).build();
        for (int i = 0; i < 10; i++) {
            assertThat(rate.tryAcquire()).isNotNull();
            assertThat(Permit.holdingNothing()).isNotNull();
        }
    }

    private static void dropKeyedPermit(KeyedLimiter<String> perKey) {
        assertThat(perKey.tryAcquire("k")).isNotNull();
    }

    private static void dropCompositePermit(AsyncLimiter limiter) {
        assertThat(limiter.tryAcquire()).isNotNull();
    }

    private static void dropPartPermit(AsyncLimiter limiter) {
        assertThat(limiter.tryAcquire()).isNotNull();
    }

    private static void acquireAndDrop(AsyncLimiter limiter) {
        assertThat(limiter.tryAcquire()).isNotNull();
    }

    private static void acquireAndEnd(AsyncLimiter limiter) {
        for (int i = 0; i < 10; i++) {
            Permit p = limiter.tryAcquire();
            switch (i % 3) {
                case 0 -> p.release();
                case 1 -> p.releaseDropped();
                default -> p.releaseIgnored();
            }
        }
    }

    /** A permit whose subclass constructor fails once tracking has started: it closes the tracker first. */
    private static final class FailsToConstruct extends AbstractPermit {
        FailsToConstruct(boolean fail) {
            abandonConstruction();
            if (fail) {
                throw new IllegalStateException("the resource behind the permit could not be taken");
            }
        }

        @Override
        protected void onEnd(Outcome outcome) {
            throw new AssertionError("an abandoned permit is never ended");
        }
    }

    @Test
    void aPermitAbandonedByItsFailingConstructorIsNotReportedAndCannotBeEnded() throws Exception {
        FailsToConstruct abandoned = new FailsToConstruct(false);
        assertThat(abandoned.isReleased()).isTrue();
        assertThat(abandoned.release()).as("onEnd never runs").isFalse();

        AsyncSemaphore sem = new AsyncSemaphore(100);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        long before = AbstractPermit.leaksReported();
        for (int i = 0; i < 3; i++) {
            try {
                new FailsToConstruct(true);
            } catch (IllegalStateException expected) {
                // never handed out
            }
        }
        acquireAndDrop(limiter);                          // a real leak, the control

        LeakReports.await(before);                    // and what was collected with the control
        assertThat(AbstractPermit.leaksReported()).as("the control leak only").isEqualTo(before + 1);
        assertThat(logged).hasSize(1);
        assertThat(logged.get(0)).contains("acquireAndDrop").doesNotContain("FailsToConstruct");
    }
}
