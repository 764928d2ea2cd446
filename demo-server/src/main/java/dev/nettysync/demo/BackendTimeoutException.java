package dev.nettysync.demo;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * A backend call that took longer than {@code --backend-timeout}; answered 504. A
 * {@link TimeoutException}, so that a limiter's {@code withPermit} ends the permit as dropped
 * (an overload sample for the adaptive limit). No stack trace: it is an expected outcome.
 */
public final class BackendTimeoutException extends TimeoutException {
    private static final long serialVersionUID = 1L;

    public BackendTimeoutException(Duration timeout) {
        super("backend did not answer within " + DurationConverter.format(timeout));
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
