package dev.nettysync.demo;

/**
 * The server could not start (today: the address could not be bound). Its message is one line
 * for an operator, e.g. {@code cannot listen on 0.0.0.0:8080: Address already in use}; what the
 * server had started (event loops) is stopped before it is thrown.
 */
public final class ServerStartException extends RuntimeException {

    public ServerStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
