package dev.nettysync.testing;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;

import java.util.concurrent.TimeUnit;

/**
 * The lifecycle of a test executor that never shuts down, for any executor base class:
 * {@link TestEventExecutor} on {@code AbstractEventExecutor}, and executors that need another
 * base (a manual timer queue on {@code AbstractScheduledEventExecutor}) implement it directly.
 * Only {@code shutdown()} is left to the class, because {@code AbstractEventExecutor} declares it
 * abstract (a class's declaration wins over an interface's default).
 */
public interface NeverShutsDown extends EventExecutor {

    @Override
    default boolean isShuttingDown() {
        return false;
    }

    @Override
    default Future<?> shutdownGracefully(long quietPeriod, long timeout, TimeUnit unit) {
        return ImmediateEventExecutor.INSTANCE.newSucceededFuture(null);
    }

    @Override
    default Future<?> terminationFuture() {
        return ImmediateEventExecutor.INSTANCE.newSucceededFuture(null);
    }

    @Override
    default boolean isShutdown() {
        return false;
    }

    @Override
    default boolean isTerminated() {
        return false;
    }

    @Override
    default boolean awaitTermination(long timeout, TimeUnit unit) {
        return true;
    }
}
