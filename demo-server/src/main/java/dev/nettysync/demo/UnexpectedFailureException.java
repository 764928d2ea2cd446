package dev.nettysync.demo;

/**
 * A failure the server did not expect while answering a request: a bug in the gateway, or a part
 * breaking its contract (a {@link Backend} whose {@code fetch} throws or returns {@code null}
 * instead of a failed future, a backend answer without a body, an exception from another handler
 * of the pipeline). {@link HttpErrors} answers it 500 "internal server error" and closes the
 * connection, whose state can no longer be trusted; the {@link GatewayHandler} logs its cause
 * once, at WARN. The other connections are not affected.
 */
final class UnexpectedFailureException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    UnexpectedFailureException(String where, Throwable cause) {
        super(where + ": " + cause, cause);
    }
}
