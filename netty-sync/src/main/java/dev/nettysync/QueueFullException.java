package dev.nettysync;

import java.util.concurrent.RejectedExecutionException;

/**
 * A wait was refused at once because the primitive's queue already holds its configured maximum
 * of waiters ({@code maxPending}). Nothing was queued and nothing is held. Servers typically map
 * this to {@code 503 Service Unavailable}.
 *
 * <p>Carries no stack trace: under overload it is thrown at request rate.
 */
public class QueueFullException extends RejectedExecutionException {
    private static final long serialVersionUID = 1L;

    public QueueFullException(String message) {
        super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
