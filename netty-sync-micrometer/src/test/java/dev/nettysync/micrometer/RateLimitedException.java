package dev.nettysync.micrometer;

/** Stands for a rate limiter's refusal (matched by class name by {@link MeteredLimiter.Reason}). */
class RateLimitedException extends java.util.concurrent.RejectedExecutionException {
    RateLimitedException() {
        super("rate exceeded");
    }
}
