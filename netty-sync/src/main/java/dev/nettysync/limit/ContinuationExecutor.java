package dev.nettysync.limit;

import dev.nettysync.internal.ExecutorCache;
import io.netty.util.concurrent.AbstractEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.concurrent.Ticker;

import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The executor a limiter that waits on other limiters (a composite's parts, a key's limiter)
 * passes to them instead of its caller's: it <em>is</em> the caller's executor (same thread,
 * same timers, same shutdown state, same {@code toString()}), except that a task the caller's
 * executor refuses ({@link RejectedExecutionException}: it has shut down) runs on the refusing
 * thread instead, through {@link ImmediateEventExecutor} (which queues a task submitted while
 * one of its tasks runs, so a cascade of refusals is a loop, not a recursion).
 *
 * <p>Why: the inner futures' listeners are the outer limiter's own continuation (take the next
 * part, let the key go). On the caller's executor they never run once it shuts down, and
 * whatever the outer wait held (the permits of the parts already acquired, the key's reference)
 * would be kept for ever. Netty runs a promise's listeners inline on its executor's thread and
 * submits them through {@code execute} from any other: the one refusal it would only log now
 * runs them, on the thread that completed the inner future (a granter, which completes outside
 * its monitor, or a cancelling thread). The inner limiters see no other difference: they still
 * see the executor shut down (so they refuse to grant it, as for any waiter) and schedule their
 * timers on it.
 *
 * <p>The outer limiter completes its caller's future itself, with {@link #completeOn}: on the
 * caller's executor, or not at all if it has shut down (the outer limiter then ends what it
 * holds). Thread-safe and immutable (it holds nothing but the delegate): one instance, from
 * {@link #of}, serves every wait on its executor.
 */
final class ContinuationExecutor extends AbstractEventExecutor {
    // One instance per executor as far as the cache keeps it: the instances are immutable, so
    // one may serve every wait on its executor, and a stable identity keeps the primitives'
    // shared succeeded future for it cached instead of allocating one on every acquire.
    private static final ExecutorCache<ContinuationExecutor> CACHE = new ExecutorCache<>(ContinuationExecutor::new);

    private final EventExecutor delegate;

    private ContinuationExecutor(EventExecutor delegate) {
        this.delegate = delegate;
    }

    /** The continuation executor of {@code executor}. */
    static ContinuationExecutor of(EventExecutor executor) {
        return CACHE.get(executor);
    }

    /**
     * Runs {@code completion} on {@code executor}: inline if this thread is its own (as Netty's
     * promise would notify), else as a task. Returns {@code false}, without running it, if the
     * executor refused the task (it has shut down): nobody could ever see the completion there,
     * so the caller must end what it would have handed over.
     */
    static boolean completeOn(EventExecutor executor, Runnable completion) {
        if (executor.inEventLoop()) {
            completion.run();
            return true;
        }
        try {
            executor.execute(completion);
            return true;
        } catch (RejectedExecutionException shutDown) {
            return false;
        }
    }

    @Override
    public void execute(Runnable task) {
        try {
            delegate.execute(task);
        } catch (RejectedExecutionException shutDown) {
            ImmediateEventExecutor.INSTANCE.execute(task);   // trampolined: see the class comment
        }
    }

    @Override
    public boolean inEventLoop(Thread thread) {
        return delegate.inEventLoop(thread);
    }

    @Override
    public EventExecutorGroup parent() {
        return delegate.parent();
    }

    @Override
    public Ticker ticker() {
        return delegate.ticker();
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        return delegate.schedule(command, delay, unit);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        return delegate.schedule(callable, delay, unit);
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        return delegate.scheduleAtFixedRate(command, initialDelay, period, unit);
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        return delegate.scheduleWithFixedDelay(command, initialDelay, delay, unit);
    }

    @Override
    public boolean isShuttingDown() {
        return delegate.isShuttingDown();
    }

    @Override
    public boolean isShutdown() {
        return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
        return delegate.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return delegate.awaitTermination(timeout, unit);
    }

    @Override
    public Future<?> shutdownGracefully(long quietPeriod, long timeout, TimeUnit unit) {
        return delegate.shutdownGracefully(quietPeriod, timeout, unit);
    }

    @Override
    public Future<?> terminationFuture() {
        return delegate.terminationFuture();
    }

    @Override
    @Deprecated
    public void shutdown() {
        delegate.shutdown();
    }

    @Override
    public String toString() {
        return delegate.toString();
    }
}
