package dev.nettysync.testing;

import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Executors that a stress test shuts down while waits on them are queued: {@link #current()}
 * is the one to wait on now, {@link #replace()} shuts it down (gracefully, no quiet period,
 * without waiting) and puts a fresh one in its place. A wait on one of them may never have its
 * listeners run, so the test tracks such waits as {@link Tracked} values and settles them at
 * the end, from their futures' state, after {@link #shutdownAllAndAwait}.
 *
 * <p>Thread-safety: {@code current}, {@code replace} and {@code shutdowns} from any thread;
 * {@code shutdownAllAndAwait} blocks and belongs to the test thread.
 */
public final class DoomedExecutors implements AfterEachCallback {
    private final Queue<DefaultEventExecutor> made = new ConcurrentLinkedQueue<>();   // every one, any thread
    private final AtomicReference<DefaultEventExecutor> current = new AtomicReference<>(make());
    private final AtomicLong shutdowns = new AtomicLong();
    // Netty logs every listener notification it cannot submit to a shut-down executor, with a
    // stack trace: expected here, by the thousand. Silenced while the test runs (strong
    // reference: java.util.logging holds its loggers weakly), restored after it.
    private final Logger rejectedNotifications = Logger.getLogger(DefaultPromise.class.getName() + ".rejectedExecution");
    private final Level rejectedNotificationsLevel = rejectedNotifications.getLevel();

    {
        rejectedNotifications.setLevel(Level.OFF);
    }

    private DefaultEventExecutor make() {
        DefaultEventExecutor e = new DefaultEventExecutor();
        made.add(e);
        return e;
    }

    /** The executor to wait on now (it may shut down at any time). */
    public EventExecutor current() {
        return current.get();
    }

    /**
     * Shuts the current executor down, without waiting, and puts a fresh one in its place. Does
     * nothing on an event loop's thread: the shutdown offers a wake-up task to a blocking queue,
     * whose lock BlockHound rightly reports when contended.
     */
    public void replace() {
        if (Thread.currentThread() instanceof FastThreadLocalThread) {
            return;
        }
        DefaultEventExecutor old = current.getAndSet(make());
        old.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        shutdowns.incrementAndGet();
    }

    /** How many executors {@link #replace()} shut down. */
    public long shutdowns() {
        return shutdowns.get();
    }

    /** Shuts every executor down and waits until all have terminated. Test thread only. */
    public void shutdownAllAndAwait(Duration timeout) throws InterruptedException {
        for (DefaultEventExecutor e : made) {
            e.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
        for (DefaultEventExecutor e : made) {
            assertThat(e.terminationFuture().await(timeout.toMillis())).as("%s terminated", e).isTrue();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws InterruptedException {
        try {
            shutdownAllAndAwait(Duration.ofSeconds(10));
        } finally {
            rejectedNotifications.setLevel(rejectedNotificationsLevel);
        }
    }

    /**
     * A wait on a doomed executor and whatever it was granted ({@code permits}). Whoever sees
     * the grant first {@linkplain #claim() claims} it and then owns what was granted: the wait's
     * listener, the caller that finds the returned future already succeeded (the fast path on an
     * executor already shut down, which runs no listener), or the test's final settling (a
     * grant whose listener never ran).
     */
    public static final class Tracked<T> {
        public final Future<T> future;
        public final int permits;
        private final AtomicBoolean claimed = new AtomicBoolean();

        public Tracked(Future<T> future, int permits) {
            this.future = future;
            this.permits = permits;
        }

        /** True exactly once: for whoever takes charge of the grant. */
        public boolean claim() {
            return claimed.compareAndSet(false, true);
        }

        /**
         * Whether the wait was ended by its executor's shutdown through its timeout: the
         * executor cancelled the wait's timer (or was shutting down when it would have been
         * armed), so the timed wait ended then instead of staying queued.
         */
        public boolean endedByItsTimersCancellation() {
            Throwable c = future.cause();
            return c instanceof java.util.concurrent.RejectedExecutionException && c.getMessage() != null
                    && c.getMessage().contains("the timeout of its wait");
        }

        /**
         * Settles a wait still queued after its executor terminated: cancels it, and says whether
         * that succeeded (it was still queued; a wait granted but not yet completed is not).
         */
        public boolean cancelIfStillQueued() {
            return future.cancel(false);
        }

        /** Whether the wait failed with a refusal of its shut-down executor at the grant. */
        public boolean refusedAtGrant() {
            Throwable c = future.cause();
            return c instanceof java.util.concurrent.RejectedExecutionException && c.getMessage() != null
                    && c.getMessage().contains("went on to the next waiter");
        }
    }
}
