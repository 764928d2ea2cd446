package dev.nettysync.limit;

import dev.nettysync.AbstractLincheckTest;
import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.testing.NoLeakTracking;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Lincheck for the permit handle's exactly-once end: threads race {@code release},
 * {@code releaseDropped}, {@code releaseIgnored} and {@code isReleased} on three semaphore permits
 * (picked by a parameter, so that later operations of a thread race too, not only its first) and
 * on one composite permit (two semaphores). Every history must match a sequential one, in which
 * the first end of a permit returns {@code true} and every later one {@code false}; the
 * semaphores are bounded, so a second give-back would throw and show up as an exception in the
 * history. After every scenario each semaphore holds exactly what the permits' states say.
 *
 * <p>Leak tracking is off here ({@link NoLeakTracking}: Lincheck and Netty's tracker do not mix);
 * the tracker is tested in {@link AbstractPermitLeakTest}.
 */
@Param(name = "k", gen = IntGen.class, conf = "0:2")
@ExtendWith(NoLeakTracking.class)
public class PermitLincheckTest extends AbstractLincheckTest {

    private final AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(3);
    private final AsyncBoundedSemaphore first = new AsyncBoundedSemaphore(1);
    private final AsyncBoundedSemaphore second = new AsyncBoundedSemaphore(1);
    private final Permit[] permits;
    private final Permit composite = AsyncLimiter.all(AsyncLimiter.of(first), AsyncLimiter.of(second)).tryAcquire();

    public PermitLincheckTest() {
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        permits = new Permit[] {limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()};
    }

    @Operation
    public boolean release(@Param(name = "k") int k) {
        return permits[k].release();
    }

    @Operation
    public boolean releaseDropped(@Param(name = "k") int k) {
        return permits[k].releaseDropped();
    }

    @Operation
    public boolean releaseIgnored(@Param(name = "k") int k) {
        return permits[k].releaseIgnored();
    }

    @Operation
    public boolean isReleased(@Param(name = "k") int k) {
        return permits[k].isReleased();
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
        int ended = 0;
        for (Permit p : permits) {
            ended += p.isReleased() ? 1 : 0;
        }
        check(sem.availablePermits() == ended, "semaphore " + sem + " with " + ended + " permit(s) ended");
        int expected = composite.isReleased() ? 1 : 0;
        check(first.availablePermits() == expected && second.availablePermits() == expected,
                "composite parts " + first + ", " + second + " for " + composite);
    }


    /*
     * Small on purpose (the state is one CAS per permit): it finds a check-then-act end (two ends
     * of one permit both returning true) in this budget; a version with one permit and two actors
     * per thread did not.
     */
    @Override
    protected int modelCheckingInvocations() {
        return 200;
    }

    @Override
    protected int modelCheckingThreads() {
        return 2;
    }
}
