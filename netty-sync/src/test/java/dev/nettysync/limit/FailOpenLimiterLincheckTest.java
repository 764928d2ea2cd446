package dev.nettysync.limit;

import dev.nettysync.AbstractLincheckTest;
import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.testing.NoLeakTracking;
import dev.nettysync.testing.SweptTimersExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * Lincheck for {@link AsyncLimiter#failOpen}: over a one-permit bounded semaphore, admitting on
 * every failure of a wait (a timed wait whose timer a shutting-down executor cancels fails), so
 * that the inner wait's failure, its grant and the caller's cancel race. Threads race
 * {@code tryAcquire}, cancels of the oldest wait and the executor's sweep of timers against one
 * thread (the {@code waiter} group) that queues untimed and timed waits and ends the permits
 * held (granted ones go to a shared pile).
 *
 * <p>Every history must match a sequential one, and after every scenario
 * {@link #onlyBackedPermitsHoldTheSemaphore} checks: the semaphore's free permit is there
 * exactly when no backed permit is held (an unbacked one, admitted on a failure, holds
 * nothing); nobody waits while it is free; a cancel that won left nothing granted; and, once the
 * test cancels what is pending and ends what is held, the permit is back and nobody queued
 * (bounded: a permit given back twice throws, which fails the history).
 */
@ExtendWith(NoLeakTracking.class)
public class FailOpenLimiterLincheckTest extends AbstractLincheckTest {
    private final AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(1);
    private final AsyncLimiter limiter = AsyncLimiter.failOpen(AsyncLimiter.of(sem),
            cause -> !(cause instanceof CancellationException));
    private final Queue<Permit> held = new ConcurrentLinkedQueue<>();       // granted, not ended by the test
    private final SweptTimersExecutor timers = new SweptTimersExecutor();
    private final List<Future<Permit>> acquires = new ArrayList<>();        // waiter thread only
    private final Queue<Future<Permit>> toCancel = new ConcurrentLinkedQueue<>();   // waits cancelOldest has not taken yet

    @Operation
    public boolean tryAcquire() {
        Permit p = limiter.tryAcquire();
        if (p == null) {
            return false;
        }
        held.add(p);
        return true;
    }

    /** Ends a permit held, if any; a permit that refuses its first end fails the run. */
    @Operation(nonParallelGroup = "waiter")
    public void release() {
        Permit p = held.poll();
        if (p != null && !p.release()) {
            throw new IllegalStateException(p + " refused its first end");
        }
    }

    @Operation(nonParallelGroup = "waiter")
    public void acquire() {
        follow(limiter.acquire(ImmediateEventExecutor.INSTANCE));
    }

    /** A timed wait whose timer never fires by itself (see executorCancelsOldestTimer). */
    @Operation(nonParallelGroup = "waiter")
    public void acquireTimed() {
        follow(limiter.acquire(timers, 1, TimeUnit.HOURS));
    }

    /**
     * What a shutting-down executor does to each of its timers: cancels the oldest, inline (the
     * wait fails). On one thread (the {@code sweeper} group): two sweeps are not one step (the
     * second can find no timer left while the first has not yet ended the wait it took), which no
     * sequential order explains; a sweep still races grants, cancels and the waiter.
     */
    @Operation(nonParallelGroup = "sweeper")
    public void executorCancelsOldestTimer() {
        timers.cancelOldestTimer();
    }

    /** Cancels the oldest wait not cancelled yet (granted or not): true if the cancel won. */
    @Operation
    public boolean cancelOldest() {
        Future<Permit> f = toCancel.poll();
        return f != null && f.cancel(false);
    }

    private void follow(Future<Permit> f) {
        acquires.add(f);
        toCancel.add(f);
        f.addListener(done -> {
            if (done.isSuccess()) {
                held.add((Permit) done.getNow());
            }
        });
    }

    @Validate
    public void onlyBackedPermitsHoldTheSemaphore() {
        checkInvariants(sem);
        int backed = 0;
        for (Permit p : held) {
            backed += p instanceof FailOpenLimiter.UnbackedPermit ? 0 : 1;
        }
        int pending = 0;
        for (Future<Permit> f : acquires) {
            if (!f.isDone()) {
                pending++;
            } else if (f.isCancelled()) {
                check(f.getNow() == null, "a cancelled wait carries " + f.getNow());
            }
        }
        check(backed <= 1 && sem.availablePermits() == 1 - backed,
                sem + " with " + backed + " backed permit(s) held of " + held);
        check(sem.queueLength() == pending, sem + " for " + pending + " pending");
        check(pending == 0 || sem.availablePermits() == 0, pending + " waiting while " + sem + " is free");

        // Quiescence: nothing pending, nothing held; then the permit is back.
        for (Future<Permit> f : acquires) {
            f.cancel(false);
        }
        for (Permit p; (p = held.poll()) != null; ) {
            check(p.release(), p + " refused its first end");
        }
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

    @Override
    protected int stressInvocations() {
        return Integer.getInteger("nettysync.lincheck.stress.invocations", 40);
    }
}
