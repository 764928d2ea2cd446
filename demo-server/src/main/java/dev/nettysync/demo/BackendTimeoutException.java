package dev.nettysync.demo;

import java.time.Duration;

/** A backend call that took longer than {@code --backend-timeout}; answered 504. */
public final class BackendTimeoutException extends Exception {

    public BackendTimeoutException(Duration timeout) {
        super("backend did not answer within " + DurationConverter.format(timeout), null, false, false);
    }
}
