package dev.nettysync.redis;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;

/**
 * A rate limiter's refusal: admitting the request would need a longer wait than the caller
 * accepts (or any wait, for a now-or-never acquire). {@link #retryAfter()} says when the same
 * request could be admitted, as seen by the server at the moment of refusal, so that an HTTP
 * server can answer {@code 429} with a {@code Retry-After} header.
 *
 * <p>Refusals are frequent under overload, so the exception carries no stack trace.
 */
public class RateLimitedException extends RejectedExecutionException {

    private static final long serialVersionUID = 1L;

    private final transient Duration retryAfter;

    public RateLimitedException(String message, Duration retryAfter) {
        super(message);
        this.retryAfter = Objects.requireNonNull(retryAfter, "retryAfter");
    }

    /** How long after the refusal the same request could be admitted (never negative). */
    public Duration retryAfter() {
        return retryAfter;
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
