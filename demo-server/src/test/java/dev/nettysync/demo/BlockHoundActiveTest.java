package dev.nettysync.demo;

import dev.nettysync.testing.BlockHoundProbe;
import dev.nettysync.testing.BlockHoundSessionListener;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * BlockHound is installed for the whole run: blocking on an event loop fails, and is recorded so
 * that {@code NoBlockingCallsExtension} fails the test even where the error is swallowed.
 */
class BlockHoundActiveTest {

    @Test
    void sleepingOnAnEventLoopFailsAndIsRecorded() throws Exception {
        BlockHoundProbe.assertActive();
    }

    @Test
    void blockingOnTheTestThreadIsAllowed() throws Exception {
        Thread.sleep(1);    // the JUnit thread is not an event loop
        assertThat(BlockHoundSessionListener.drainBlockingCalls()).isEmpty();
    }
}
