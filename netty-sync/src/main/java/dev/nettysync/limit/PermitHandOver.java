package dev.nettysync.limit;

import dev.nettysync.internal.Promises;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;

/**
 * The caller's future of a limiter that waits on other limiters ({@link CompositeLimiter}'s walk
 * over its parts, {@link KeyedLimiter}'s wait on a key's limiter): once the outer permit is in
 * hand, {@link #handOver} gives it to the caller on the caller's executor, or ends it when nobody
 * could ever hold it. Exactly one of the two happens to each permit handed over:
 * <ul>
 *   <li>this future succeeds with it, on its executor: inline if the hand-over runs there (as a
 *       promise notifies), else as a task ({@link ContinuationExecutor#completeOn});</li>
 *   <li>or the permit is ended with {@code releaseIgnored} (the work never ran): when this future
 *       was completed otherwise first (cancelled as the permit arrived), or when the executor
 *       refused the task (it has shut down: nobody could ever see the completion there), in
 *       which case this future fails with the {@link Promises#shutDown} refusal.</li>
 * </ul>
 * Either way nothing is held once it returns (or once the task ran). The refusal's message is
 * built only when refused ({@link #refusedWait()}); the hand-over itself allocates one task
 * (the {@code grant} closure), as each limiter did before it was shared.
 */
abstract class PermitHandOver extends DefaultPromise<Permit> {

    PermitHandOver(EventExecutor executor) {
        super(executor);
    }

    /** Hands {@code permit} to the caller: see the class comment. Call at most once. */
    final void handOver(Permit permit) {
        if (ContinuationExecutor.completeOn(executor(), () -> grant(permit))) {
            return;
        }
        // The caller's executor has shut down: nobody could ever hold the permit.
        try {
            permit.releaseIgnored();
        } finally {                                // a permit whose end throws still fails the caller
            if (tryFailure(Promises.shutDown(executor(), "the listeners of its wait for " + refusedWait()))) {
                handedOver();
            }
        }
    }

    /** On the caller's executor. */
    private void grant(Permit permit) {
        if (trySuccess(permit)) {
            handedOver();
        } else {                                   // completed behind our back (cancelled at the last moment)
            permit.releaseIgnored();
        }
    }

    /**
     * What the refused wait was for, with what was ended, for the refusal's message
     * ("{executor} is shut down: it could never run the listeners of its wait for {this}").
     * Called only when refused.
     */
    abstract String refusedWait();

    /**
     * Called once if the hand-over completed this future (with the permit, or with the refusal),
     * on the thread that did; not when the permit was ended because the future was already done.
     * Does nothing by default.
     */
    void handedOver() {
    }
}
