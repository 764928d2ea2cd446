package dev.nettysync;

import java.util.concurrent.TimeoutException;

/**
 * A timed wait ({@code acquire(executor, timeout, unit)}, {@code lock(executor, timeout, unit)},
 * {@code await(executor, timeout, unit)}, ...) ran out of time before it was granted. The waiter
 * has left the queue and holds nothing.
 *
 * <p>Carries no stack trace: timeouts are an expected outcome under load, and filling in a stack
 * for each would make overload more expensive than necessary.
 */
public class WaitTimeoutException extends TimeoutException {
    private static final long serialVersionUID = 1L;

    /** No stack trace: see the class comment. */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }

    public WaitTimeoutException(String message) {
        super(message);
    }
}
