package dev.nettysync.micrometer;

import dev.nettysync.testing.BlockHoundProbe;
import org.junit.jupiter.api.Test;

/**
 * BlockHound is installed for this module's test run too (through the library's test-jar):
 * blocking on an event loop fails, and is recorded so that the shared extension fails the test
 * even where the error is swallowed.
 */
class BlockHoundActiveTest {

    @Test
    void sleepingOnAnEventLoopFailsAndIsRecorded() throws Exception {
        BlockHoundProbe.assertActive();
    }
}
