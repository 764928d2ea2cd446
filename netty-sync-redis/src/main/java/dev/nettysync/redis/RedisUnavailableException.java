package dev.nettysync.redis;

import io.lettuce.core.RedisException;

/**
 * A limiter could not get an answer from Redis, so it could not decide: the connection was down
 * when the call was made (Lettuce reconnects by itself), it dropped while the call was out, or
 * no reply came within {@link RedisLimiters.Builder#commandTimeout the command timeout}. The
 * caller holds nothing: no permit, no place in a queue. A lease that the unanswered call may
 * still take on the server is released by its id when the connection is back, or expires.
 *
 * <p>A subclass of Lettuce's {@link RedisException}: code that handled Lettuce's exceptions from
 * these limiters keeps working. Errors the server itself answered (a script error, {@code OOM},
 * {@code READONLY}) are passed on as Lettuce's own exceptions, not as this one.
 *
 * <p>Carries no stack trace (every request fails with one while Redis is down); the message and
 * the cause say what happened.
 */
public class RedisUnavailableException extends RedisException {

    private static final long serialVersionUID = 1L;

    public RedisUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }

    /** No stack trace: see the class comment. */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
