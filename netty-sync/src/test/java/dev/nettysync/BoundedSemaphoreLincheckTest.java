package dev.nettysync;

/**
 * {@link SemaphoreLincheckTest} on an {@link AsyncBoundedSemaphore}: releases may be refused as
 * over-releases, and {@code reducePermits} lowers the bound under the RESIZING flag, so a release
 * racing a resize must be accepted or refused exactly as in some sequential order.
 */
public class BoundedSemaphoreLincheckTest extends SemaphoreLincheckTest {
    @Override
    AsyncSemaphore newSemaphore(int permits) {
        return new AsyncBoundedSemaphore(permits);
    }

    @Override
    protected int modelCheckingIterations() {
        return 12;             // the unbounded class covers the rest of the operations' races
    }
}
