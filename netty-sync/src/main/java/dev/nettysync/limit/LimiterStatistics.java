package dev.nettysync.limit;

/**
 * A snapshot of an {@link AsyncLimiter}'s state, for monitoring (the Micrometer binder exports
 * it as gauges). The fields are read without a common lock, so under concurrent use they need
 * not add up exactly; each is a value that held at some instant during the call.
 *
 * @param limit     the current limit ({@link #UNLIMITED} when there is none): permits for a
 *                  concurrency limit, the burst for a rate limit
 * @param inUse     permits granted and not yet released (0 for a rate limit, whose permits
 *                  give nothing back)
 * @param available permits that could be granted now if nobody were queued; for a rate limit,
 *                  the whole tokens in the bucket now
 * @param queued    waiters in the queue now
 */
public record LimiterStatistics(long limit, long inUse, long available, int queued) {

    /** The {@link #limit()} of a limiter that has none. */
    public static final long UNLIMITED = Long.MAX_VALUE;

    /** Whether {@link #limit()} is {@link #UNLIMITED}. */
    public boolean unlimited() {
        return limit == UNLIMITED;
    }
}
