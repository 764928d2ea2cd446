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
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Lincheck for {@link AsyncLimiter#all}'s walk: a composite of two bounded semaphores, {@code a}
 * (two permits) then {@code b} (one), so that a composite wait queues on {@code b} while it
 * holds one of {@code a}'s permits, or on {@code a} behind two others. Threads race the
 * composite's {@code tryAcquire}, cancels of the oldest wait and a shutting-down executor's
 * sweep of timers against one thread (the {@code waiter} group) that queues untimed and timed
 * composite waits and ends the composite permit held, which hands the parts to the waits. A
 * granted wait's permit goes to the holder slot, as a {@code tryAcquire}'s does. (Ends are on
 * one thread: two threads ending "the permit held" would race on the test's slot, not on the
 * limiter: the second could look between the end and the grant it causes.)
 *
 * <p>Every history must match a sequential one (of {@code tryAcquire} and {@code release}; see
 * {@link #cancelOldest} for why a cancel's outcome is not a result), and after every scenario
 * {@link #partsAreHandedBackExactlyOnce} checks: never two composite holders (b has one
 * permit); the composite's statistics count its held permit and its pending waits; the parts
 * count what is held; nobody waits while what it waits for is free (with a wait pending, the
 * composite permit is held and {@code a} is exhausted: a wait holding {@code a} waits only while
 * {@code b} is taken, one waiting for {@code a} only while none is free); and, once the test
 * cancels what is pending and ends what is held, both semaphores have all their permits back and
 * nobody queued (bounded: a part given back twice throws, which fails the history).
 *
 * <p>No one uses {@code b} alone here: a composite permit ends its parts one after another
 * (b, then a, as documented), and a user of {@code b} alone can take it between the two,
 * ahead of a composite wait that the end of {@code a} then lets in: a legal order, but not one
 * step, so such histories are not linearizable. {@link CompositeLimiterStressTest} mixes users
 * of single parts in.
 */
@ExtendWith(NoLeakTracking.class)
public class CompositeLimiterLincheckTest extends AbstractLincheckTest {
    private static final int A_PERMITS = 2;

    private final AsyncBoundedSemaphore a = new AsyncBoundedSemaphore(A_PERMITS);
    private final AsyncBoundedSemaphore b = new AsyncBoundedSemaphore(1);
    private final AsyncLimiter both = AsyncLimiter.all(AsyncLimiter.of(a), AsyncLimiter.of(b));
    private final AtomicReference<Permit> holder = new AtomicReference<>();   // the composite permit held; an ended one counts as none
    private final AtomicReference<String> secondHolder = new AtomicReference<>();
    private final SweptTimersExecutor timers = new SweptTimersExecutor();
    private final List<Future<Permit>> acquires = new ArrayList<>();   // waiter thread only
    private final Queue<Future<Permit>> toCancel = new ConcurrentLinkedQueue<>();   // waits cancelOldest has not taken yet

    @Operation
    public boolean tryAcquire() {
        return hold(both.tryAcquire());
    }

    /** Ends the held composite permit, if any: true if this ended it. */
    @Operation(nonParallelGroup = "waiter")
    public boolean release() {
        Permit p = holder.get();
        if (p == null || !p.release()) {
            return false;
        }
        holder.compareAndSet(p, null);              // unless the end granted a wait, which took the slot
        return true;
    }

    @Operation(nonParallelGroup = "waiter")
    public void acquire() {
        follow(both.acquire(ImmediateEventExecutor.INSTANCE));
    }

    /** A timed wait whose timers never fire by themselves (see executorCancelsOldestTimer). */
    @Operation(nonParallelGroup = "waiter")
    public void acquireTimed() {
        follow(both.acquire(timers, 1, TimeUnit.HOURS));
    }

    /**
     * What a shutting-down executor does to each of its timers: cancels the oldest, inline. On one
     * thread (the {@code sweeper} group): two sweeps are not one step (the second can find no
     * timer left while the first has not yet ended the wait it took), which no sequential order
     * explains; a sweep still races grants, cancels and the waiter.
     */
    @Operation(nonParallelGroup = "sweeper")
    public void executorCancelsOldestTimer() {
        timers.cancelOldestTimer();
    }

    /**
     * Cancels the oldest composite wait not cancelled yet (granted or not). Its outcome is not a
     * result: the composite is granted when its last part's grant reaches the walk, later than
     * that part's own grant, and a cancel in between wins and gives the part back (as
     * documented); a timer sweep in between finds the part's timer already removed, and no
     * sequential order has both. The validation checks what such a cancel leaves.
     */
    @Operation
    public void cancelOldest() {
        Future<Permit> f = toCancel.poll();
        if (f != null) {
            f.cancel(false);
        }
    }

    private void follow(Future<Permit> f) {
        acquires.add(f);
        toCancel.add(f);
        f.addListener(done -> {
            if (done.isSuccess()) {
                hold((Permit) done.getNow());
            }
        });
    }

    /** Puts {@code p} in the holder slot; an ended permit there counts as none. */
    private boolean hold(Permit p) {
        if (p == null) {
            return false;
        }
        for (;;) {
            Permit current = holder.get();
            if (current != null && !current.isReleased()) {
                secondHolder.compareAndSet(null, p + " granted while " + current + " held it");
                return true;
            }
            if (holder.compareAndSet(current, p)) {
                return true;
            }
        }
    }

    /** The composite permit held, or null. */
    private Permit live() {
        Permit p = holder.get();
        return p == null || p.isReleased() ? null : p;
    }

    @Validate
    public void partsAreHandedBackExactlyOnce() {
        check(secondHolder.get() == null, String.valueOf(secondHolder.get()));
        checkInvariants(a);
        checkInvariants(b);
        int pending = 0;
        for (Future<Permit> f : acquires) {
            if (!f.isDone()) {
                pending++;
            } else if (f.isSuccess()) {
                check(holder.get() == f.getNow() || f.getNow().isReleased(),
                        "granted " + f.getNow() + " is neither held nor ended");
            }
        }
        int composite = live() != null ? 1 : 0;
        check(b.availablePermits() == 1 - composite && a.availablePermits() <= A_PERMITS - composite,
                "a " + a + ", b " + b + " with " + composite + " composite holder(s)");
        LimiterStatistics s = both.statistics();
        check(s.inUse() == composite && s.queued() == pending, s + " for " + composite + " held, " + pending + " pending");
        check(pending == 0 || (composite == 1 && a.availablePermits() == 0),
                pending + " composite wait(s) while what one waits for is free: a " + a + ", b " + b
                        + ", composite held " + composite);

        // Quiescence: nothing pending, nothing held; then both parts have their permit back.
        for (Future<Permit> f : acquires) {
            f.cancel(false);
        }
        release();
        check(live() == null, "a cancelled composite wait was granted");
        check(a.availablePermits() == A_PERMITS && a.queueLength() == 0 && b.availablePermits() == 1
                && b.queueLength() == 0, "after quiescence a " + a + ", b " + b);
        check(both.statistics().equals(new LimiterStatistics(1, 0, 1, 0)), "after quiescence " + both.statistics());
    }

    /*
     * Small: each invocation runs the walk, two wait queues and Netty's promises under full
     * instrumentation. This budget fails, in both modes, on a walk that does not give back the
     * parts it holds when a part's wait fails or is cancelled (put in on purpose).
     */
    @Override
    protected int modelCheckingIterations() {
        return 4;
    }

    @Override
    protected int modelCheckingInvocations() {
        return 40;
    }

    @Override
    protected int stressInvocations() {
        return Integer.getInteger("nettysync.lincheck.stress.invocations", 40);
    }
}
