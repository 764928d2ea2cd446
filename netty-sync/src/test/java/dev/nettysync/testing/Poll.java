package dev.nettysync.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Waiting, on a test thread, for what other threads do: {@code condition} is polled every
 * millisecond until it holds or {@code timeout} has passed. Never call it on an event loop (it
 * sleeps, which BlockHound reports there).
 */
public final class Poll {

    private Poll() {
    }

    /**
     * Whether {@code condition} held within {@code timeout}: for a test that then asserts the
     * state itself, with a message that shows it.
     */
    public static boolean until(Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    /** Fails with "timed out after {timeout} waiting until {what}" unless {@code condition} holds within {@code timeout}. */
    public static void assertEventually(String what, Duration timeout, BooleanSupplier condition)
            throws InterruptedException {
        if (!until(timeout, condition)) {
            throw new AssertionError("timed out after " + timeout + " waiting until " + what);
        }
    }
}
