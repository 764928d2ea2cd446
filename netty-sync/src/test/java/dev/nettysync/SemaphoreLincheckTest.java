package dev.nettysync;

import dev.nettysync.testing.SweptTimersExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.Validate;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lincheck checks that every concurrent execution of these operations on an
 * {@link AsyncSemaphore} matches some sequential order of them, by model checking (all
 * interleavings of small scenarios, with a switch point at every shared access, inside Netty's
 * promise code too) and by stress.
 *
 * <p>One thread (the {@code waiter} group) queues acquires and cancels its oldest one, so the
 * harness' list of waiters is in the semaphore's queue order; other threads release and
 * tryAcquire at the same time, which races grants against cancels, the bug class this library
 * exists to get right. Waiters complete on {@link ImmediateEventExecutor}. After every scenario
 * {@link #permitsAreConserved} checks that available + held == initial + releases - reductions
 * ({@code reducePermits}, the live resize, is among the operations), that the total counts
 * no more as held than is held ({@code totalPermits()} is an operation too, so its answers must
 * match some sequential order), that exactly
 * the waiters not completed are queued, and that the head waiter is not left waiting while the
 * permits it wants are free.
 *
 * <p>Some acquires are timed, on an executor whose timers never fire by themselves; the
 * {@code executorCancelsOldestTimer} operation cancels one as a shutting-down executor does,
 * which must end that wait (if still queued) as a timeout would, racing grants and cancels
 * without losing or duplicating a permit.
 */
@Param(name = "n", gen = IntGen.class, conf = "1:2")
public class SemaphoreLincheckTest extends AbstractLincheckTest {
    private static final int PERMITS = 1;

    private final AsyncSemaphore sem = newSemaphore(PERMITS);
    private final AtomicInteger takenByTry = new AtomicInteger();
    private final AtomicInteger released = new AtomicInteger();      // accepted releases
    private final AtomicInteger reduced = new AtomicInteger();
    private final List<Future<Void>> acquires = new ArrayList<>();   // waiter thread only
    private final List<Integer> sizes = new ArrayList<>();           // permits of each acquire
    private int cancelled;                                           // acquires[0..cancelled) had cancel called
    private final SweptTimersExecutor timers = new SweptTimersExecutor();

    @Operation
    public boolean tryAcquire(@Param(name = "n") int n) {
        if (sem.tryAcquire(n)) {
            takenByTry.addAndGet(n);
            return true;
        }
        return false;
    }

    /** The semaphore under test; a subclass checks the bounded one. */
    AsyncSemaphore newSemaphore(int permits) {
        return new AsyncSemaphore(permits);
    }

    /** Releases one permit: true if accepted (a bounded semaphore refuses an over-release). */
    @Operation
    public boolean release() {
        try {
            sem.release();
        } catch (IllegalStateException overRelease) {
            return false;
        }
        released.incrementAndGet();
        return true;
    }

    /** Shrinks the limit by one, live, as an adaptive limit does. */
    @Operation
    public void reducePermits() {
        sem.reducePermits(1);
        reduced.incrementAndGet();
    }

    /**
     * Queues an acquire. It returns nothing: whether it was granted is decided at the enqueue
     * but could only be read later, after concurrent releases; the validation checks it instead.
     */
    @Operation(nonParallelGroup = "waiter")
    public void acquire(@Param(name = "n") int n) {
        acquires.add(sem.acquire(ImmediateEventExecutor.INSTANCE, n));
        sizes.add(n);
    }

    /** Queues an acquire with a timeout its executor never fires (see executorCancelsOldestTimer). */
    @Operation(nonParallelGroup = "waiter")
    public void acquireTimed(@Param(name = "n") int n) {
        acquires.add(sem.acquire(timers, n, 1, TimeUnit.HOURS));
        sizes.add(n);
    }

    /**
     * What a shutting-down executor does to each of its timers ({@code cancelScheduledTasks}):
     * cancels the oldest timer not cancelled yet, on this thread, notifying its listener inline.
     */
    @Operation(nonParallelGroup = "sweeper")   // an executor sweeps its timers on its one thread
    public void executorCancelsOldestTimer() {
        timers.cancelOldestTimer();
    }

    /** Cancels the oldest acquire not cancelled yet (granted or not): true if the cancel won. */
    @Operation(nonParallelGroup = "waiter")
    public boolean cancelOldest() {
        if (cancelled == acquires.size()) {
            return false;
        }
        return acquires.get(cancelled++).cancel(false);
    }

    @Operation
    public int availablePermits() {
        return sem.availablePermits();
    }

    /** Held + available as the semaphore counts them: grows with releases above it, shrinks with reductions. */
    @Operation
    public int totalPermits() {
        return sem.totalPermits();
    }

    @Validate
    public void permitsAreConserved() {
        checkInvariants(sem);
        int held = takenByTry.get();
        int pending = 0;
        int headWants = -1;
        for (int i = 0; i < acquires.size(); i++) {
            Future<Void> f = acquires.get(i);
            if (f.isSuccess()) {
                held += sizes.get(i);
            } else if (!f.isDone()) {
                pending++;
                if (headWants < 0) {
                    headWants = sizes.get(i);
                }
            }
        }
        int available = sem.availablePermits();
        check(available + held == PERMITS + released.get() - reduced.get(),
                "available " + available + " + held " + held + " != " + PERMITS + " + released " + released.get()
                        + " - reduced " + reduced.get());
        int total = sem.totalPermits();
        check(total >= available && total - available <= held,
                "total " + total + " not between available " + available + " and available + held " + held);
        check(sem.queueLength() == pending, "queueLength " + sem.queueLength() + " but " + pending + " pending");
        check(headWants < 0 || available < headWants,
                "the head waiter wants " + headWants + " and " + available + " are free");
    }

    @Override
    protected int modelCheckingIterations() {
        return 25;
    }

    @Override
    protected int modelCheckingInvocations() {
        return 500;
    }

    @Override
    protected int stressActorsPerThread() {
        return 4;
    }
}
