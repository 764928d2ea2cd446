package dev.nettysync.limit;

import dev.nettysync.LockGivenUpException;
import dev.nettysync.internal.Promises;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/** The body of {@link AsyncLimiter#withPermit}: one place for every limiter. */
final class Permits {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(Permits.class);

    private Permits() {
    }

    /**
     * withPermit's refusals, made before it acquires anything (a refusal after the acquire would
     * strand the permit): {@code null} arguments throw; an executor already shut down, which would
     * never run the action nor the end of the permit, gives a failed future. Else {@code null}.
     */
    static <T> Future<T> refuseBeforeAcquiring(EventExecutor executor, Supplier<?> action) {
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(action, "action");
        return Promises.failedIfShutDown(executor, "the action nor end the permit");
    }

    static <T> Future<T> runHolding(Future<Permit> acquired, EventExecutor executor,
                                    Supplier<? extends Future<T>> action) {
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(action, "action");
        Promise<T> result = executor.newPromise();
        result.addListener(r -> {
            if (r.isCancelled()) {
                acquired.cancel(false);     // leaves the queue; a no-op once granted
            }
        });
        acquired.addListener(a -> {
            if (!a.isSuccess()) {
                if (a.isCancelled()) {
                    result.cancel(false);   // by result's own cancel (a no-op then), or by the limiter
                } else {
                    result.tryFailure(a.cause());
                }
                return;
            }
            Permit permit = (Permit) a.getNow();
            if (result.isDone()) {          // cancelled between the grant and now: never ran
                permit.releaseIgnored();
                return;
            }
            Future<T> running;
            try {
                running = Objects.requireNonNull(action.get(), "action returned a null future");
            } catch (Throwable t) {
                Throwable endFailure = endCatching(permit, Permit.Outcome.SUCCESS, null);
                if (endFailure != null) {
                    t.addSuppressed(endFailure);
                }
                result.tryFailure(t);
                return;
            }
            // The action's own future decides when the permit ends; cancelling `result` does not
            // touch it (the action's code may still be running).
            running.addListener(done -> {
                // Ended before completing, so result's listeners can re-acquire. An end that
                // throws is reported as try-with-resources reports close(): as the failure of
                // an action that succeeded, suppressed in the failure of one that failed.
                Throwable endFailure = endCatching(permit, outcome(done), done.cause());
                if (endFailure == null) {
                    Promises.propagate(done, result);
                } else if (done.isSuccess()) {
                    result.tryFailure(endFailure);
                } else if (done.isCancelled()) {
                    logger.warn("ending {} after its action was cancelled threw", permit, endFailure);
                    result.cancel(false);
                } else {
                    if (done.cause() != endFailure) {
                        done.cause().addSuppressed(endFailure);
                    }
                    result.tryFailure(done.cause());
                }
            });
        });
        return result;
    }

    /** How the permit of an action whose future completed as {@code done} ends (see withPermit). */
    private static Permit.Outcome outcome(Future<?> done) {
        if (done.isSuccess()) {
            return Permit.Outcome.SUCCESS;
        } else if (done.isCancelled()) {
            return Permit.Outcome.IGNORED;
        } else if (done.cause() instanceof TimeoutException || done.cause() instanceof RejectedExecutionException) {
            return Permit.Outcome.DROPPED;
        }
        return Permit.Outcome.SUCCESS;
    }

    /**
     * Ends {@code permit} with {@code outcome} after an action that failed with {@code cause}
     * ({@code null} if it did not); returns what its end threw, else {@code null}.
     */
    private static Throwable endCatching(Permit permit, Permit.Outcome outcome, Throwable cause) {
        try {
            endAfter(permit, outcome, cause);
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    /**
     * Ends {@code permit} with {@code outcome}, after the action it admitted failed with
     * {@code cause} ({@code null}: it did not fail). The one failure that changes how:
     * a {@link LockGivenUpException}, the condition wait of a lock that let the lock go. A
     * permit of that lock ({@code AsyncLimiter.of(lock)}, alone or held by a composite or keyed
     * permit) then ends without unlocking, since the lock may be the next holder's already; the
     * other permits end as usual. Permits of other packages end as usual.
     */
    static void endAfter(Permit permit, Permit.Outcome outcome, Throwable cause) {
        if (!(cause instanceof LockGivenUpException)) {
            end(permit, outcome);
        } else if (permit instanceof PrimitiveLimiter.PrimitivePermit p) {
            p.endAfter(cause);
        } else if (permit instanceof AbstractPermit p) {
            p.endAfter(outcome, cause);
        } else {
            end(permit, outcome);
        }
    }

    /** Ends {@code permit} with {@code outcome} (a no-op if it has ended). */
    static void end(Permit permit, Permit.Outcome outcome) {
        switch (outcome) {
            case SUCCESS -> permit.release();
            case DROPPED -> permit.releaseDropped();
            case IGNORED -> permit.releaseIgnored();
            default -> throw new IllegalArgumentException("unknown outcome " + outcome);
        }
    }

}
