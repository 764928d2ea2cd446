package dev.nettysync;

/**
 * An {@link AsyncSemaphore} that refuses to hold more permits than it started with, in the shape
 * of Python's {@code asyncio.BoundedSemaphore}: a {@link #release()} that would raise the
 * available permits above the initial count throws {@link IllegalStateException} (asyncio's
 * {@code ValueError}) and changes nothing. This catches "released twice" bugs at the second
 * release instead of silently raising the limit.
 *
 * <p>Everything else (thread-safety, executors, FIFO fairness, cancellation, timeouts, close,
 * memory consistency) is as documented on {@link AsyncSemaphore}. An {@code acquire} of more
 * permits than the bound can never succeed and throws {@link IllegalArgumentException}.
 *
 * <p><b>{@link #reducePermits(int)} lowers the bound with the count</b>: the bound is always
 * "the permits this semaphore manages" (initial count minus reductions, which is also its
 * {@link #totalPermits()}), so a release with nothing held for it is still caught after a
 * resize. A bounded semaphore therefore only
 * shrinks; a limit that must also grow (by {@code release(n)}) belongs on a plain
 * {@link AsyncSemaphore}.
 */
public class AsyncBoundedSemaphore extends AsyncSemaphore {

    /**
     * Creates a bounded semaphore with {@code permits} permits, which is also its bound.
     *
     * @throws IllegalArgumentException if {@code permits} is negative
     */
    public AsyncBoundedSemaphore(int permits) {
        this(permits, Integer.MAX_VALUE);
    }

    /**
     * As {@link #AsyncBoundedSemaphore(int)}, queueing at most {@code maxPending} waiters.
     *
     * @throws IllegalArgumentException if either argument is negative
     */
    public AsyncBoundedSemaphore(int permits, int maxPending) {
        super(permits, maxPending, true);
    }
}
