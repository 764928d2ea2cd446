package dev.nettysync.limit;

import dev.nettysync.AsyncBoundedSemaphore;
import io.netty.util.ResourceLeakDetector;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Lincheck for the permit handle's exactly-once end: threads race {@code release},
 * {@code releaseDropped}, {@code releaseIgnored} and {@code isReleased} on one semaphore permit
 * and on one composite permit (two semaphores). Every history must match a sequential one, in
 * which the first end returns {@code true} and every later one {@code false}; the semaphores are
 * bounded, so a second give-back would throw and show up as an exception in the history. After
 * every scenario each semaphore holds exactly what the permit's state says.
 *
 * <p>Leak tracking is off here: Lincheck makes {@code System.identityHashCode} deterministic, which
 * trips an assertion in Netty's tracker (it compares the hash at track and at close). The
 * tracker is tested in {@link AbstractPermitLeakTest}.
 */
public class PermitLincheckTest {
    private static ResourceLeakDetector.Level level;

    @BeforeAll
    static void noLeakTracking() {
        level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
    }

    @AfterAll
    static void restoreLeakTracking() {
        ResourceLeakDetector.setLevel(level);
    }

    private final AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(1);
    private final AsyncBoundedSemaphore first = new AsyncBoundedSemaphore(1);
    private final AsyncBoundedSemaphore second = new AsyncBoundedSemaphore(1);
    private final Permit permit = AsyncLimiter.of(sem).tryAcquire();
    private final Permit composite = AsyncLimiter.all(AsyncLimiter.of(first), AsyncLimiter.of(second)).tryAcquire();

    @Operation
    public boolean release() {
        return permit.release();
    }

    @Operation
    public boolean releaseDropped() {
        return permit.releaseDropped();
    }

    @Operation
    public boolean releaseIgnored() {
        return permit.releaseIgnored();
    }

    @Operation
    public boolean isReleased() {
        return permit.isReleased();
    }

    @Operation
    public boolean compositeRelease() {
        return composite.release();
    }

    @Operation
    public boolean compositeReleaseIgnored() {
        return composite.releaseIgnored();
    }

    @Validate
    public void givenBackExactlyOnce() {
        check(sem.availablePermits() == (permit.isReleased() ? 1 : 0), "semaphore " + sem + " for " + permit);
        int expected = composite.isReleased() ? 1 : 0;
        check(first.availablePermits() == expected && second.availablePermits() == expected,
                "composite parts " + first + ", " + second + " for " + composite);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new AssertionError(message);
        }
    }

    /** Small on purpose (the state is one CAS per permit): about 30 s on a loaded 2-core machine. */
    @Test
    void modelChecking() {
        new ModelCheckingOptions()
                .iterations(12)
                .invocationsPerIteration(200)
                .threads(3)
                .actorsPerThread(2)
                .check(getClass());
    }
}
