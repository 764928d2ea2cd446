package dev.nettysync.testing;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import reactor.blockhound.BlockingOperationError;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The proof that BlockHound guards the test JVM it runs in, for each module's one-line
 * {@code BlockHoundActiveTest}: a {@code Thread.sleep} on an event loop must fail with
 * {@link BlockingOperationError} and be recorded by {@link BlockHoundSessionListener}, so that
 * {@link NoBlockingCallsExtension} fails a test even where the error is swallowed on the loop.
 * The recorded call is taken here, so the extension does not fail the calling test for the call
 * the probe provoked.
 */
public final class BlockHoundProbe {

    private BlockHoundProbe() {
    }

    /** {@link #assertBlockingIsCaughtOn} on a fresh one-thread NIO event loop, shut down after. */
    public static void assertActive() throws InterruptedException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            assertBlockingIsCaughtOn(group.next());
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /**
     * Sleeps on {@code loop} and asserts that the sleep failed with {@link BlockingOperationError}
     * and was recorded (the only blocking call recorded since the last drain).
     *
     * @return the recorded call ({@code "<method> on <thread name>"}, then the caller's frames),
     *         for further checks
     */
    public static String assertBlockingIsCaughtOn(EventExecutor loop) throws InterruptedException {
        Future<?> f = loop.submit(() -> {
            Thread.sleep(1);
            return null;
        });
        assertThat(f.await(30, TimeUnit.SECONDS)).as("the sleeping task ended").isTrue();
        assertThat(f.cause()).isInstanceOf(BlockingOperationError.class);
        List<String> recorded = BlockHoundSessionListener.drainBlockingCalls();
        assertThat(recorded).singleElement().asString().contains("sleep")
                .as("the record names who blocked").contains("at " + BlockHoundProbe.class.getName());
        return recorded.get(0);
    }
}
