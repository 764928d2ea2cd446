package dev.nettysync.demo;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A request the gateway itself refuses with a given status and reason: a bad {@code Host}, an
 * unsupported HTTP version or expectation, a body too large, the server shutting down, the
 * database not ready, too many pipelined requests. {@link HttpErrors} maps it to its own status.
 * No stack trace: it is a verdict, not a bug.
 */
final class HttpStatusException extends Exception {

    private final HttpResponseStatus status;
    private final boolean closeConnection;

    HttpStatusException(HttpResponseStatus status, String reason, boolean closeConnection) {
        super(reason, null, false, false);
        this.status = status;
        this.closeConnection = closeConnection;
    }

    static HttpStatusException shuttingDown() {
        return new HttpStatusException(HttpResponseStatus.SERVICE_UNAVAILABLE, "server is shutting down", false);
    }

    static HttpStatusException databaseNotReady() {
        return new HttpStatusException(HttpResponseStatus.SERVICE_UNAVAILABLE, "database not ready", false);
    }

    static HttpStatusException badRequest(String reason) {
        return new HttpStatusException(HttpResponseStatus.BAD_REQUEST, reason, true);
    }

    HttpResponseStatus status() {
        return status;
    }

    /** Whether the connection must close after the answer (the stream cannot be trusted). */
    boolean closeConnection() {
        return closeConnection;
    }
}
