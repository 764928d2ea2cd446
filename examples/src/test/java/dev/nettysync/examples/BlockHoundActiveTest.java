package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.testing.BlockHoundProbe;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * BlockHound is installed for this module's test run too (through the library's test-jar): a
 * blocking call on the examples' event loops fails, and is recorded so that the test during which
 * it happened fails even where the error is swallowed on the loop.
 */
class BlockHoundActiveTest {

    @Test
    void sleepingOnAnExampleEventLoopFailsAndIsRecorded() throws Exception {
        EventLoopGroup group = ExampleMain.newGroup(1);
        try {
            assertThat(BlockHoundProbe.assertBlockingIsCaughtOn(group.next())).contains("loop-1");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
