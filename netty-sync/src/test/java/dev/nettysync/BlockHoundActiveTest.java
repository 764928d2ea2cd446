package dev.nettysync;

import io.netty.channel.DefaultEventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The guard for the whole suite: blocking on an event loop must fail, not pass silently. */
class BlockHoundActiveTest {
    private static DefaultEventLoop loop;

    @BeforeAll
    static void start() {
        loop = new DefaultEventLoop();
    }

    @AfterAll
    static void stop() {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    @Test
    void sleepingOnAnEventLoopIsReported() throws Exception {
        Future<?> f = loop.submit(() -> {
            Thread.sleep(1);
            return null;
        });
        f.await(10, TimeUnit.SECONDS);
        assertThat(f.cause()).isInstanceOf(BlockingOperationError.class);
    }

    @Test
    void waitingOnAPromiseOnAnEventLoopIsReported() throws Exception {
        Future<?> f = loop.submit(() -> {
            Object monitor = new Object();
            synchronized (monitor) {
                monitor.wait(1);
            }
            return null;
        });
        f.await(10, TimeUnit.SECONDS);
        assertThat(f.cause()).isInstanceOf(BlockingOperationError.class);
    }
}
