package dev.nettysync.internal;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.concurrent.RejectedExecutionException;

/** Small promise helpers shared by the primitives and the limiters. Not API. */
public final class Promises {

    private Promises() {
    }

    /** Completes {@code to} as {@code from} completed: the same value, cancellation or cause. */
    @SuppressWarnings("unchecked")
    public static <T> void propagate(Future<?> from, Promise<T> to) {
        if (from.isSuccess()) {
            to.trySuccess((T) from.getNow());
        } else if (from.isCancelled()) {
            to.cancel(false);
        } else {
            to.tryFailure(from.cause());
        }
    }

    /**
     * A future failed with a {@link RejectedExecutionException} if {@code executor} has shut down,
     * else {@code null}. A shut-down executor never runs a listener, so whatever a wait or a
     * with-block took for one could never be given back: callers check before taking anything.
     * {@code what} completes the message: "... is shut down: it could never run {what}"; a caller
     * on a hot path whose {@code what} must be built checks {@code isShutdown()} itself and
     * builds it only then, with {@link #shutDown}.
     */
    public static <T> Future<T> failedIfShutDown(EventExecutor executor, String what) {
        if (!executor.isShutdown()) {
            return null;
        }
        return executor.newFailedFuture(shutDown(executor, what));
    }

    /**
     * The refusal of an executor already shutting down to time something: it would accept the
     * timer and cancel it at the next turn of its shutdown loop. "{executor} is shutting down: it
     * cancels its timers, so it could never {what}".
     */
    public static RejectedExecutionException shuttingDown(EventExecutor executor, String what) {
        return new RejectedExecutionException(executor + " is shutting down: it cancels its timers, so it could never "
                + what);
    }

    /**
     * The failure of a wait whose executor refused the task that would run {@code what}, caused by
     * that refusal: {@link #shutDown}'s if the executor has shut down, else "{executor} refused the
     * task that would run {what}" (a full task queue, whatever its rejection policy threw).
     */
    public static RejectedExecutionException refused(EventExecutor executor, String what, Throwable refusal) {
        return new RejectedExecutionException(refusedMessage(executor, what), refusal);
    }

    /** {@link #refused}'s message, for a failure of a type of its own. */
    public static String refusedMessage(EventExecutor executor, String what) {
        return executor.isShutdown() ? shutDownMessage(executor, what)
                : executor + " refused the task that would run " + what;
    }

    /** The refusal of a shut-down executor: "{executor} is shut down: it could never run {what}". */
    public static RejectedExecutionException shutDown(EventExecutor executor, String what) {
        return new RejectedExecutionException(shutDownMessage(executor, what));
    }

    private static String shutDownMessage(EventExecutor executor, String what) {
        return executor + " is shut down: it could never run " + what;
    }
}
