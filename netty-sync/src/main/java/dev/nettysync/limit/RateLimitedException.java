package dev.nettysync.limit;

import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;

/**
 * A rate limiter refused an admission and says when it could be granted: {@link #retryAfterNanos()}
 * from the moment of the refusal, assuming nobody else takes the capacity meanwhile. Nothing was
 * queued and nothing is held. An HTTP server maps it to {@code 429 Too Many Requests} with
 * {@code Retry-After: }{@link #retryAfterSeconds()}.
 *
 * <p>Carries no stack trace: under overload it is thrown at request rate.
 */
public class RateLimitedException extends RejectedExecutionException {
    private static final long serialVersionUID = 1L;

    private final long retryAfterNanos;

    /**
     * @param message         what was refused
     * @param retryAfterNanos after how long, from now, the admission could be granted (&ge; 1)
     */
    public RateLimitedException(String message, long retryAfterNanos) {
        super(message);
        if (retryAfterNanos < 1) {
            throw new IllegalArgumentException("retryAfterNanos must be >= 1, was " + retryAfterNanos);
        }
        this.retryAfterNanos = retryAfterNanos;
    }

    /** Nanoseconds from the refusal until the admission could be granted; at least 1. */
    public long retryAfterNanos() {
        return retryAfterNanos;
    }

    /** {@link #retryAfterNanos()} as a {@link Duration}. */
    public Duration retryAfter() {
        return Duration.ofNanos(retryAfterNanos);
    }

    /**
     * Whole seconds, rounded up (at least 1), as HTTP's {@code Retry-After} header wants them: a
     * client that waits this long is not refused for lack of capacity.
     */
    public long retryAfterSeconds() {
        return ceilSeconds(retryAfterNanos);
    }

    /**
     * Nanoseconds as whole seconds rounded up, at least 1: the {@code Retry-After} value for a
     * wait of {@code nanos} (e.g. from {@link AsyncRateLimiter#tryAcquireNanos(int)}).
     */
    public static long ceilSeconds(long nanos) {
        long s = nanos / 1_000_000_000L;
        return Math.max(1, nanos % 1_000_000_000L == 0 ? s : s + 1);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
