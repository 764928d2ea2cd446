package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.testing.BlockHoundSessionListener;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;

import java.util.List;
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
            Future<?> f = group.next().submit(() -> {
                Thread.sleep(1);
                return null;
            });
            assertThat(f.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(f.cause()).isInstanceOf(BlockingOperationError.class);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        List<String> recorded = BlockHoundSessionListener.drainBlockingCalls();  // so this test does not fail for it
        assertThat(recorded).singleElement().asString().contains("sleep").contains("loop-1");
    }
}
