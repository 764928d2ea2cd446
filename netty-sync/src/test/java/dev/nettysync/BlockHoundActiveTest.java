package dev.nettysync;

import dev.nettysync.testing.BlockHoundProbe;
import dev.nettysync.testing.BlockHoundSessionListener;
import dev.nettysync.testing.ClassEventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.blockhound.BlockingOperationError;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The guard for the whole suite: blocking on an event loop must fail, not pass silently, also
 * where the error is swallowed (a listener's exception is only logged by Netty).
 */
class BlockHoundActiveTest {
    @RegisterExtension
    static final ClassEventLoop loop = new ClassEventLoop();

    @Test
    void sleepingOnAnEventLoopIsReported() throws Exception {
        BlockHoundProbe.assertBlockingIsCaughtOn(loop);
    }

    @Test
    void monitorWaitOnAnEventLoopIsReported() throws Exception {
        Future<?> f = loop.submit(() -> {
            Object monitor = new Object();
            synchronized (monitor) {
                monitor.wait(1);
            }
            return null;
        });
        f.await(10, TimeUnit.SECONDS);
        assertThat(f.cause()).isInstanceOf(BlockingOperationError.class);
        assertThat(BlockHoundSessionListener.drainBlockingCalls()).singleElement().asString().contains("wait");
    }

    @Test
    void blockingInsideAListenerIsRecordedThoughNettySwallowsTheError() throws Exception {
        AsyncEvent event = new AsyncEvent();
        loop.submit(() -> event.await(loop).addListener(x -> Thread.sleep(1))).sync();
        event.set();
        loop.submit(() -> { }).sync();
        assertThat(BlockHoundSessionListener.drainBlockingCalls()).singleElement().asString().contains("sleep");
    }

    @Test
    void blockingOnTheTestThreadIsAllowed() throws Exception {
        Thread.sleep(1);
        ImmediateEventExecutor.INSTANCE.newSucceededFuture(null).sync();
        assertThat(BlockHoundSessionListener.drainBlockingCalls()).isEmpty();
    }
}
