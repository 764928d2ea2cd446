package dev.nettysync.adaptive;

import dev.nettysync.testing.BlockHoundSessionListener;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * BlockHound is installed for this module's test run too (through the library's test-jar):
 * blocking on an event loop fails, and is recorded so that the shared extension fails the test
 * even where the error is swallowed.
 */
class BlockHoundActiveTest {

    @Test
    void sleepingOnAnEventLoopFailsAndIsRecorded() throws Exception {
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
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
        // Taken here, so that the extension does not fail this test for the call it provoked.
        List<String> recorded = BlockHoundSessionListener.drainBlockingCalls();
        assertThat(recorded).singleElement().asString().contains("sleep");
    }
}
