package dev.nettysync;

import dev.nettysync.testing.SweptTimersExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Lincheck for {@link AsyncCondition}, with a harness that keeps lock discipline: every
 * operation takes the lock with {@code tryLock} (doing nothing if it is busy), and whoever gets
 * it gives it back: {@code signal}/{@code signalAll} unlock at once, a wait's listener unlocks
 * when the wait completes, however it completes (the lock is held again then). One thread (the
 * {@code waiter} group) waits and cancels its oldest wait, so cancels race signals and the
 * re-acquiring of the lock. All operations return nothing: their effects depend on what other
 * threads do later, so they are checked by {@link #validate()} after every scenario:
 * <ul>
 *   <li>the lock was never held by two parties (a counter the holders bump), every completed
 *       wait's listener ran holding it, and at the end it is free with nobody queued for it;</li>
 *   <li>the condition queues exactly the waits not completed;</li>
 *   <li>no signal was lost: every party holding the lock takes a ticket, so tickets order the
 *       waits' enqueues, the signals and the resumptions. If a wait {@code p} is still queued at
 *       the end, no {@code signalAll} came after it, and each {@code signal} after it woke an
 *       older wait (FIFO) that resumed successfully after {@code p} was queued, or whose cancel
 *       passed the signal on to another such wait; so there are at least as many of those
 *       resumptions as signals after {@code p}.</li>
 * </ul>
 * Waits complete on {@link ImmediateEventExecutor}, so the listener of a wait that gets the
 * lock back runs inside the unlock that hands it over, on whichever thread unlocked; some are
 * timed, on an executor that runs inline too and whose timers never fire but are cancelled by
 * {@code executorCancelsOldestTimer}, as a shutting-down executor cancels them: such a wait
 * ends (RejectedExecutionException) holding the lock again, as every end does. See
 * {@link SemaphoreLincheckTest} for the harness design.
 */
public class ConditionLincheckTest extends AbstractLincheckTest {
    private final AsyncCondition cond = new AsyncCondition();
    private final AsyncLock lock = cond.lock();
    private final AtomicInteger tickets = new AtomicInteger();       // taken only holding the lock
    private final AtomicInteger holders = new AtomicInteger();
    private final AtomicReference<String> violation = new AtomicReference<>();
    private final ConcurrentLinkedQueue<Integer> signals = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Integer> signalAlls = new ConcurrentLinkedQueue<>();
    private final List<Wait> waits = new ArrayList<>();               // waiter thread only
    private int cancelled;
    private final SweptTimersExecutor timers = new SweptTimersExecutor();

    private static final class Wait {
        final int ticket;                     // when it was queued
        Future<Void> future;
        volatile int resumedAt = -1;          // ticket when its listener ran, holding the lock

        Wait(int ticket) {
            this.ticket = ticket;
        }
    }

    private boolean enter() {
        if (!lock.tryLock()) {
            return false;
        }
        held();
        return true;
    }

    private void held() {
        int h = holders.incrementAndGet();
        if (h != 1 || !lock.isLocked()) {
            violation.compareAndSet(null, h + " holders, isLocked=" + lock.isLocked());
        }
    }

    private void leave() {
        holders.decrementAndGet();            // before unlock: the unlock may hand it on at once
        lock.unlock();
    }

    @Operation
    public void signal() {
        if (enter()) {
            signals.add(tickets.getAndIncrement());
            cond.signal();
            leave();
        }
    }

    @Operation
    public void signalAll() {
        if (enter()) {
            signalAlls.add(tickets.getAndIncrement());
            cond.signalAll();
            leave();
        }
    }

    @Operation(nonParallelGroup = "waiter")
    public void await() {
        await0(false);
    }

    /** A wait with a timeout its executor never fires (see executorCancelsOldestTimer). */
    @Operation(nonParallelGroup = "waiter")
    public void awaitTimed() {
        await0(true);
    }

    /** What a shutting-down executor does to each of its timers: cancels the oldest one, inline. */
    @Operation(nonParallelGroup = "sweeper")   // an executor sweeps its timers on its one thread
    public void executorCancelsOldestTimer() {
        timers.cancelOldestTimer();
    }

    private void await0(boolean timed) {
        if (!enter()) {
            return;
        }
        Wait w = new Wait(tickets.getAndIncrement());
        waits.add(w);
        holders.decrementAndGet();            // await releases the lock
        w.future = timed ? cond.await(timers, 1, TimeUnit.HOURS) : cond.await(ImmediateEventExecutor.INSTANCE);
        w.future.addListener(f -> {
            held();
            w.resumedAt = tickets.getAndIncrement();
            leave();
        });
    }

    @Operation(nonParallelGroup = "waiter")
    public void cancelOldest() {
        if (cancelled < waits.size()) {
            waits.get(cancelled++).future.cancel(false);
        }
    }

    @Validate
    public void validate() {
        checkInvariants(cond);
        check(violation.get() == null, violation.get());
        check(holders.get() == 0 && !lock.isLocked() && lock.queueLength() == 0,
                "at the end: holders " + holders.get() + ", " + lock);
        Wait oldestPending = null;
        int pending = 0;
        for (Wait w : waits) {
            if (!w.future.isDone()) {
                pending++;
                if (oldestPending == null) {
                    oldestPending = w;
                }
            } else {
                check(w.resumedAt >= 0, "wait " + w.ticket + " completed but its listener did not run");
                check(w.future.isSuccess() || w.future.isCancelled()
                        || w.future.cause() instanceof RejectedExecutionException, "wait failed: " + w.future.cause());
            }
        }
        check(cond.queueLength() == pending, "queueLength " + cond.queueLength() + " but " + pending + " pending");
        if (oldestPending != null) {
            int p = oldestPending.ticket;
            check(signalAlls.stream().noneMatch(t -> t > p), "wait " + p + " missed a signalAll");
            long signalsAfter = signals.stream().filter(t -> t > p).count();
            long absorbed = waits.stream().filter(w -> w.ticket < p && w.future.isSuccess() && w.resumedAt > p).count();
            check(signalsAfter <= absorbed, "wait " + p + " still queued after " + signalsAfter
                    + " signals, which only " + absorbed + " older waits absorbed: a signal was lost");
        }
    }

    /**
     * Random scenarios rarely line this up, so it is always checked: two waits queued, then a
     * signal (whose unlock hands the lock to the oldest wait, completing it on the signalling
     * thread) races a cancel of that wait. Whichever way it goes, the second wait must not be
     * left queued with the signal lost.
     */
    private static ExecutionScenario cancelRacesTheRelockOfASignalledWait() {
        try {
            Class<ConditionLincheckTest> c = ConditionLincheckTest.class;
            Actor await = new Actor(c.getMethod("await"), List.of());
            return new ExecutionScenario(
                    List.of(await, await),
                    List.of(List.of(new Actor(c.getMethod("cancelOldest"), List.of())),
                            List.of(new Actor(c.getMethod("signal"), List.of()))),
                    List.of(),
                    new Actor(c.getMethod("validate"), List.of()));
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    protected int modelCheckingIterations() {
        return 6;
    }

    @Override
    protected ModelCheckingOptions customize(ModelCheckingOptions options) {
        return options.addCustomScenario(cancelRacesTheRelockOfASignalledWait());
    }
}
