package dev.nettysync.limit;

import dev.nettysync.AsyncBoundedSemaphore;
import org.jetbrains.lincheck.datastructures.Operation;

import java.util.concurrent.CancellationException;

/**
 * Lincheck for {@link AsyncLimiter#failOpen}: over a one-permit bounded semaphore, admitting on
 * every failure of a wait (a timed wait whose timer a shutting-down executor cancels fails), so
 * that the inner wait's failure, its grant and the caller's cancel race. Threads race
 * {@code tryAcquire}, cancels of the oldest wait and the executor's sweep of timers against one
 * thread (the {@code waiter} group) that queues untimed and timed waits and ends the permits
 * held (the scaffold is {@link AbstractLimiterLincheckTest}'s).
 *
 * <p>Every history must match a sequential one (of {@code tryAcquire}; a cancel's outcome is
 * checked against its own wait, see {@link #cancelOldest}), and after every scenario the
 * validation checks: the semaphore's free permit is there exactly when no backed permit is held
 * (an unbacked one, admitted on a failure, holds nothing); nobody waits while it is free; a
 * cancel that won left nothing granted; and, once the test cancels what is pending and ends what
 * is held, the permit is back and nobody queued (bounded: a permit given back twice throws,
 * which fails the history).
 */
public class FailOpenLimiterLincheckTest extends AbstractLimiterLincheckTest {
    private final AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(1);
    private final AsyncLimiter limiter = AsyncLimiter.failOpen(AsyncLimiter.of(sem),
            cause -> !(cause instanceof CancellationException));

    @Override
    protected AsyncLimiter limiter() {
        return limiter;
    }

    @Operation
    public boolean tryAcquire() {
        return hold(limiter.tryAcquire());
    }

    /** Ends a permit held, if any. */
    @Operation(nonParallelGroup = WAITER)
    public void release() {
        endHeld(Permit::release);
    }

    /** Yes: a {@code tryAcquire}'s result shows which waits a cancel took out. */
    @Override
    protected boolean cancelsPickAtomically() {
        return true;
    }

    /**
     * Backed permits first: ending one frees the semaphore, which a later {@code tryAcquire}'s
     * result shows, and an unbacked permit admitted on a timer sweep can join the pile after a
     * backed one granted later by an end on another thread (model checking found that history
     * when the oldest went first).
     */
    @Override
    protected boolean endsFirst(Permit p) {
        return !(p instanceof FailOpenLimiter.UnbackedPermit);
    }

    @Override
    protected void checkScenario(int pending) {
        checkInvariants(sem);
        int backed = 0;
        for (Permit p : heldPermits()) {
            backed += p instanceof FailOpenLimiter.UnbackedPermit ? 0 : 1;
        }
        check(backed <= 1 && sem.availablePermits() == 1 - backed,
                sem + " with " + backed + " backed permit(s) held of " + heldPermits());
        check(sem.queueLength() == pending, sem + " for " + pending + " pending");
        check(pending == 0 || sem.availablePermits() == 0, pending + " waiting while " + sem + " is free");
    }

    @Override
    protected void checkQuiescent() {
        check(sem.availablePermits() == 1 && sem.queueLength() == 0, "after quiescence " + sem);
    }

    /* Small: a mapping over one semaphore's queue, under full instrumentation. */
    @Override
    protected int modelCheckingIterations() {
        return 6;
    }

    @Override
    protected int modelCheckingInvocations() {
        return 50;
    }
}
