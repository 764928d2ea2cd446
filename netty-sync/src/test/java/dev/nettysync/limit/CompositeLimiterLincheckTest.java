package dev.nettysync.limit;

import dev.nettysync.AsyncBoundedSemaphore;
import org.jetbrains.lincheck.datastructures.Operation;

/**
 * Lincheck for {@link AsyncLimiter#all}'s walk: a composite of two bounded semaphores, {@code a}
 * (two permits) then {@code b} (one), so that a composite wait queues on {@code b} while it
 * holds one of {@code a}'s permits, or on {@code a} behind two others. Threads race the
 * composite's {@code tryAcquire}, cancels of the oldest wait and a shutting-down executor's
 * sweep of timers against one thread (the {@code waiter} group) that queues untimed and timed
 * composite waits and ends the composite permit held, which hands the parts to the waits (the
 * scaffold is {@link AbstractLimiterLincheckTest}'s).
 *
 * <p>No operation returns a result: the composite is granted when its last part's grant
 * reaches the walk, later than that part's own grant, and a cancel in between wins and gives
 * the part back, as documented, while a timer sweep in between finds the part's timer already
 * removed; no sequential order has both, so neither a cancel's outcome nor whether a
 * {@code tryAcquire} or an end found a permit is one. After every scenario the validation
 * checks: never two composite permits held at once (b has one permit); the
 * composite's statistics count its held permit and its pending waits; the parts count what is
 * held; nobody waits while what it waits for is free (with a wait pending, the composite permit
 * is held and {@code a} is exhausted: a wait holding {@code a} waits only while {@code b} is
 * taken, one waiting for {@code a} only while none is free); and, once the test cancels what is
 * pending and ends what is held, both semaphores have all their permits back and nobody queued
 * (bounded: a part given back twice throws, which fails the history).
 *
 * <p>No one uses {@code b} alone here: a composite permit ends its parts one after another
 * (b, then a, as documented), and a user of {@code b} alone can take it between the two,
 * ahead of a composite wait that the end of {@code a} then lets in: a legal order, but not one
 * step, so such histories are not linearizable. {@link CompositeLimiterStressTest} mixes users
 * of single parts in.
 */
public class CompositeLimiterLincheckTest extends AbstractLimiterLincheckTest {
    private static final int A_PERMITS = 2;

    private final AsyncBoundedSemaphore a = new AsyncBoundedSemaphore(A_PERMITS);
    private final AsyncBoundedSemaphore b = new AsyncBoundedSemaphore(1);
    private final AsyncLimiter both = AsyncLimiter.all(AsyncLimiter.of(a), AsyncLimiter.of(b));

    @Override
    protected AsyncLimiter limiter() {
        return both;
    }

    /**
     * Takes the composite permit now or never. Returns nothing, as {@link #release} does: a
     * composite wait is granted when its last part's grant reaches the walk, a moment after
     * that part's grant, and a cancel in between wins and gives the part back (as documented),
     * so whether a permit was free here is not a result any sequential order explains (with 16
     * model-checking iterations: a release hands b to the second wait, a cancel takes it back
     * before the walk completes, and a later {@code tryAcquire} succeeds where every sequential
     * order has the wait granted). The validation checks what is held.
     */
    @Operation
    public void tryAcquire() {
        hold(both.tryAcquire());
    }

    /**
     * Ends the held composite permit, if any. Returns nothing: whether one is held is not a
     * result, since a grant that an end hands over reaches the pile through the wait's listener,
     * a moment after the grant; a {@code true}/{@code false} here was compared with a sequential
     * order in which the grant and its arrival are one step, and failed at larger budgets. The
     * validation checks what is held instead.
     */
    @Operation(nonParallelGroup = WAITER)
    public void release() {
        endHeld(Permit::release);
    }

    @Override
    protected void checkScenario(int pending) {
        check(mostHeldAtOnce() <= 1, mostHeldAtOnce() + " composite permits held at once, but b has one");
        checkInvariants(a);
        checkInvariants(b);
        int composite = heldCount();
        check(b.availablePermits() == 1 - composite && a.availablePermits() <= A_PERMITS - composite,
                "a " + a + ", b " + b + " with " + composite + " composite holder(s)");
        LimiterStatistics s = both.statistics();
        check(s.inUse() == composite && s.queued() == pending, s + " for " + composite + " held, " + pending + " pending");
        check(pending == 0 || (composite == 1 && a.availablePermits() == 0),
                pending + " composite wait(s) while what one waits for is free: a " + a + ", b " + b
                        + ", composite held " + composite);
    }

    @Override
    protected void checkQuiescent() {
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
        return 8;
    }

    @Override
    protected int modelCheckingInvocations() {
        return 40;
    }
}
