package dev.nettysync.limit;

import dev.nettysync.internal.Promises;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/** The body of {@link AsyncLimiter#withPermit}: one place for every limiter. */
final class Permits {

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
                permit.release();
                result.tryFailure(t);
                return;
            }
            // The action's own future decides when the permit ends; cancelling `result` does not
            // touch it (the action's code may still be running).
            running.addListener(done -> {
                end(permit, done);          // before completing, so result's listeners can re-acquire
                Promises.propagate(done, result);
            });
        });
        return result;
    }

    private static void end(Permit permit, Future<?> done) {
        if (done.isSuccess()) {
            permit.release();
        } else if (done.isCancelled()) {
            permit.releaseIgnored();
        } else if (done.cause() instanceof TimeoutException || done.cause() instanceof RejectedExecutionException) {
            permit.releaseDropped();
        } else {
            permit.release();
        }
    }

    /** Ends {@code permit} with {@code outcome}; whether this call ended it. */
    static boolean end(Permit permit, Permit.Outcome outcome) {
        switch (outcome) {
            case SUCCESS:
                return permit.release();
            case DROPPED:
                return permit.releaseDropped();
            case IGNORED:
                return permit.releaseIgnored();
            default:
                throw new IllegalArgumentException("unknown outcome " + outcome);
        }
    }

}
