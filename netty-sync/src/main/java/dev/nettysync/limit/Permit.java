package dev.nettysync.limit;

/**
 * One admission granted by an {@link AsyncLimiter}: a handle that is ended exactly once.
 *
 * <p>The first of {@link #release()}, {@link #releaseDropped()}, {@link #releaseIgnored()} (or
 * {@link #close()}, which is {@code release()}) ends the permit and tells the limiter how the
 * admitted work went; every later call is a no-op that returns {@code false}. A double release
 * therefore can never raise a limit above its configured value, which the raw
 * {@code AsyncSemaphore.release()} cannot promise.
 *
 * <p>The three endings matter to limiters that learn from outcomes (an adaptive limit takes a
 * latency sample from {@code release()}, shrinks on {@code releaseDropped()} and ignores
 * {@code releaseIgnored()}); limiters that do not learn treat them alike. Use:
 * <ul>
 *   <li>{@link #release()} when the work finished (successfully, or with an error that says
 *       nothing about overload, e.g. a 404 from the backend);</li>
 *   <li>{@link #releaseDropped()} when the work failed because of overload: a timeout, a
 *       refusal by the backend, a 503;</li>
 *   <li>{@link #releaseIgnored()} when the sample is meaningless: the client went away, the
 *       work was cancelled before it ran.</li>
 * </ul>
 *
 * <p>A permit that becomes unreachable without being ended is reported as a leak through Netty's
 * {@link io.netty.util.ResourceLeakDetector} (level {@code -Dio.netty.leakDetection.level}),
 * with the place it was acquired, like a leaked {@code ByteBuf}. What a limiter gives back on
 * release (a semaphore's permit, nothing for a rate, a lease for Redis) is said by that limiter.
 *
 * <p>Thread-safe: any thread may end a permit, concurrent calls included; exactly one wins.
 */
public interface Permit extends AutoCloseable {

    /** How a permit was ended; see the class documentation. */
    enum Outcome {
        /** {@link #release()}: the work finished; a sample for limiters that measure. */
        SUCCESS,
        /** {@link #releaseDropped()}: the work failed from overload. */
        DROPPED,
        /** {@link #releaseIgnored()}: the outcome says nothing about the limit. */
        IGNORED
    }

    /**
     * Ends the permit: the work finished.
     *
     * @return {@code true} if this call ended it, {@code false} if it had already ended
     */
    boolean release();

    /**
     * Ends the permit: the work failed because of overload (timeout, backend refusal).
     *
     * @return {@code true} if this call ended it, {@code false} if it had already ended
     */
    boolean releaseDropped();

    /**
     * Ends the permit without a sample (the client went away, the work never ran).
     *
     * @return {@code true} if this call ended it, {@code false} if it had already ended
     */
    boolean releaseIgnored();

    /** Whether the permit has been ended, by any of the release methods. */
    boolean isReleased();

    /**
     * A new permit that holds nothing: ending it only marks it ended (the first end returns
     * {@code true}, every later one {@code false}), and it is not tracked for leaks, since
     * dropping it loses nothing. For a limiter whose admissions give nothing back, as a rate
     * limiter's do; this library's rate limiters hand out such permits.
     */
    static Permit holdingNothing() {
        return new EmptyPermit();
    }

    /** Same as {@link #release()}, so that a permit works in try-with-resources. */
    @Override
    default void close() {
        release();
    }
}
