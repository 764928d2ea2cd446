package dev.nettysync;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lincheck for {@link AsyncBarrier} with {@value #PARTIES} parties: arrivals from every thread,
 * one thread (the {@code waiter} group) also arriving and cancelling its oldest arrival, and
 * resets. Arrivals return nothing (whether one trips depends on arrivals that may come later);
 * after every scenario the checks are: each trip (counted by the action) handed out every
 * index {@code 0..PARTIES-1} exactly once, so index {@code i} was returned exactly {@code trips}
 * times; the parties still waiting are exactly the pending futures; and every other future was
 * cancelled or failed with {@link BrokenBarrierException} by a reset. See
 * {@link SemaphoreLincheckTest} for the harness design.
 */
public class BarrierLincheckTest extends AbstractLincheckTest {
    private static final int PARTIES = 2;

    private final AtomicInteger trips = new AtomicInteger();
    private final AsyncBarrier barrier = new AsyncBarrier(PARTIES, trips::incrementAndGet);
    private final ConcurrentLinkedQueue<Future<Integer>> all = new ConcurrentLinkedQueue<>();
    private final List<Future<Integer>> mine = new ArrayList<>();     // waiter thread only
    private int cancelled;

    @Operation
    public void await() {
        all.add(barrier.await(ImmediateEventExecutor.INSTANCE));
    }

    @Operation
    public void reset() {
        barrier.reset();
    }

    @Operation
    public int parties() {
        return barrier.parties();
    }

    @Operation(nonParallelGroup = "waiter")
    public void awaitMine() {
        Future<Integer> f = barrier.await(ImmediateEventExecutor.INSTANCE);
        mine.add(f);
        all.add(f);
    }

    /** Returns nothing: whether the cancel wins depends on arrivals that may come later. */
    @Operation(nonParallelGroup = "waiter")
    public void cancelOldest() {
        if (cancelled < mine.size()) {
            mine.get(cancelled++).cancel(false);
        }
    }

    @Validate
    public void indexesAreUniquePerCycleAndWaitingIsThePending() {
        checkInvariants(barrier);
        int[] perIndex = new int[PARTIES];
        int pending = 0;
        for (Future<Integer> f : all) {
            if (!f.isDone()) {
                pending++;
            } else if (f.isSuccess()) {
                int i = f.getNow();
                check(i >= 0 && i < PARTIES, "index " + i);
                perIndex[i]++;
            } else if (!f.isCancelled()) {
                check(f.cause() instanceof BrokenBarrierException, "failed with " + f.cause());
            }
        }
        for (int i = 0; i < PARTIES; i++) {
            check(perIndex[i] == trips.get(), "index " + i + " returned " + perIndex[i] + " times in " + trips.get() + " trips");
        }
        check(barrier.waiting() == pending, "waiting() " + barrier.waiting() + " but " + pending + " pending");
        check(pending < PARTIES, pending + " parties pending: the barrier should have tripped");
        check(!barrier.isBroken(), "broken without abort");
    }
}
