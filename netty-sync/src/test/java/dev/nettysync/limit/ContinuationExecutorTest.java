package dev.nettysync.limit;

import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import org.junit.jupiter.api.Test;

import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ContinuationExecutor}: it is the caller's executor (same thread, timers, shutdown state,
 * name), except that a task the caller's executor refuses runs on the refusing thread.
 */
class ContinuationExecutorTest {

    @Test
    void itIsTheCallersExecutorInEverythingButARefusedTask() throws Exception {
        DefaultEventLoopGroup group = new DefaultEventLoopGroup(1);
        EventLoop loop = group.next();
        ContinuationExecutor continuation = ContinuationExecutor.of(loop);
        assertThat(continuation.parent()).isSameAs(group);
        assertThat(continuation.toString()).isEqualTo(loop.toString());
        assertThat(continuation.terminationFuture()).isSameAs(loop.terminationFuture());

        Callable<Boolean> onTheLoop = loop::inEventLoop;
        assertThat(continuation.schedule(onTheLoop, 1, TimeUnit.MILLISECONDS).get(5, TimeUnit.SECONDS))
                .as("a timer on the caller's loop").isTrue();
        ScheduledFuture<?> fixedRate = continuation.scheduleAtFixedRate(() -> { }, 1, 1, TimeUnit.HOURS);
        ScheduledFuture<?> fixedDelay = continuation.scheduleWithFixedDelay(() -> { }, 1, 1, TimeUnit.HOURS);
        assertThat(fixedRate.cancel(false) && fixedDelay.cancel(false)).isTrue();

        assertThat(continuation.isTerminated()).isFalse();
        assertThat(continuation.awaitTermination(0, TimeUnit.SECONDS)).isFalse();
        assertThat(continuation.shutdownGracefully(0, 0, TimeUnit.SECONDS)).as("the loop's own shutdown")
                .isSameAs(loop.terminationFuture());
        loop.terminationFuture().syncUninterruptibly();
        assertThat(continuation.isTerminated()).isTrue();
        assertThat(continuation.awaitTermination(0, TimeUnit.SECONDS)).isTrue();

        AtomicReference<Thread> ranOn = new AtomicReference<>();
        continuation.execute(() -> ranOn.set(Thread.currentThread()));
        assertThat(ranOn.get()).as("refused by the loop: run here").isSameAs(Thread.currentThread());
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    @SuppressWarnings("deprecation")
    void itsShutdownIsTheCallersExecutors() {
        DefaultEventExecutor executor = new DefaultEventExecutor();
        ContinuationExecutor.of(executor).shutdown();
        assertThat(executor.isShuttingDown()).isTrue();
        executor.terminationFuture().syncUninterruptibly();
    }
}
