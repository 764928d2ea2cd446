package dev.nettysync.testing;

import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A real executor whose task queue a test can fill: a {@link DefaultEventExecutor} with a
 * 16-task queue (Netty's minimum) and a rejection policy of its own that throws an
 * {@link IllegalStateException}, not the {@code RejectedExecutionException} of Netty's default.
 * Until {@link #fill()} it runs as any executor; after it, every submission from another thread
 * (a task, a listener notification, a timer's removal on cancel) is refused, though it has not
 * shut down. Its thread is a plain one (BlockHound lets it block, which {@code fill} needs).
 * Test thread only; {@link #close()} unblocks and shuts it down.
 */
public final class FullQueueExecutor implements AutoCloseable {
    private final CountDownLatch unblock = new CountDownLatch(1);
    private final DefaultEventExecutor executor = new DefaultEventExecutor(null,
            (ThreadFactory) r -> new Thread(r, "full-queue"), 16, (task, e) -> {
                throw new IllegalStateException("the task queue of " + e + " is full");
            });

    public EventExecutor executor() {
        return executor;
    }

    /** Blocks the executor's thread in a task and fills its queue behind it. */
    public void fill() throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        executor.execute(() -> {
            started.countDown();
            try {
                unblock.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(started.await(10, SECONDS)).isTrue();
        for (int i = 0; i < 16; i++) {
            executor.execute(() -> { });
        }
        assertThatThrownBy(() -> executor.execute(() -> { })).as("the queue is full")
                .isInstanceOf(IllegalStateException.class);
    }

    @Override
    public void close() {
        unblock.countDown();
        executor.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
    }
}
