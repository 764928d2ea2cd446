package dev.nettysync;

/**
 * The primitive was closed ({@code close()} / {@code close(cause)}): every waiter queued at the
 * time and every later wait fails with this. The cause given to {@code close(cause)}, if any, is
 * this exception's cause.
 *
 * <p>Carries no stack trace (its cause has the one that matters): during a shutdown it is raised
 * once per refused wait.
 */
public class ClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public ClosedException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
