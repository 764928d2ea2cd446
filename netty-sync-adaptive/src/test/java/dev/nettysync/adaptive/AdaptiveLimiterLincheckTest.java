package dev.nettysync.adaptive;

import dev.nettysync.AbstractLincheckTest;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.testing.NoLeakTracking;
import dev.nettysync.testing.SweptTimersExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lincheck for {@link AdaptiveLimiter}: the limit moves underneath queued waiters. The algorithm
 * is scripted (every sample moves the limit one step round 1, 2, 3; {@code setLimit} moves it
 * by itself, as an algorithm with a timer does), with no sample window, between
 * {@code minLimit} 1 and {@code maxLimit} {@value #MAX_LIMIT}. Threads race {@code tryAcquire},
 * limit moves, cancels of the oldest wait and a shutting-down executor's sweep of timers against
 * one thread (the {@code waiter} group) that queues untimed and timed waits and ends permits
 * with each of the three outcomes (a release samples, and so resizes from inside the end,
 * granting waiters on the ending thread). Granted permits go to a shared pile the ends take from.
 *
 * <p>After every scenario {@link #permitsAreConservedAcrossResizes} checks: permits held never
 * exceeded the largest limit; the statistics count what is held and pending, and the free
 * permits are the limit in force minus those held; nobody waits while a permit is free; and,
 * once the test cancels what is pending and ends what is held, nothing is in use or queued and
 * the limiter admits exactly its limit.
 *
 * <p>The operations return nothing: a limit moved by itself is applied by the next acquire or
 * end, or, when another thread is applying one at that moment, by that thread a moment later (as
 * the class comment says). So a {@code tryAcquire} right after a move may not see it yet, and a
 * cancel may win over a waiter the move will serve: both legal, neither one sequential order
 * (this test found such histories). What is checked is the validation above.
 */
@Param(name = "limit", gen = IntGen.class, conf = "1:3")
@Param(name = "outcome", gen = IntGen.class, conf = "0:2")
@ExtendWith(NoLeakTracking.class)
public class AdaptiveLimiterLincheckTest extends AbstractLincheckTest {
    private static final int MAX_LIMIT = 3;

    private final ScriptedLimit algorithm = new ScriptedLimit(2).onEachSample(l -> l % MAX_LIMIT + 1);
    private final AdaptiveLimiter limiter = AdaptiveLimiter.builder().limit(algorithm)
            .minLimit(1).maxLimit(MAX_LIMIT).sampleWindow(Duration.ZERO).nanoClock(() -> 0).build();
    private final Queue<Permit> held = new ConcurrentLinkedQueue<>();      // granted, not ended by the test
    private final AtomicInteger holding = new AtomicInteger();             // permits granted and not ended
    private final AtomicInteger maxHolding = new AtomicInteger();
    private final SweptTimersExecutor timers = new SweptTimersExecutor();
    private final List<Future<Permit>> acquires = new ArrayList<>();       // waiter thread only
    private final Queue<Future<Permit>> toCancel = new ConcurrentLinkedQueue<>();   // waits cancelOldest has not taken yet

    @Operation
    public void tryAcquire() {
        Permit p = limiter.tryAcquire();
        if (p != null) {
            hold(p);
        }
    }

    /** The algorithm moves the limit by itself. */
    @Operation
    public void setLimit(@Param(name = "limit") int limit) {
        algorithm.set(limit);
    }

    /** Ends a permit held, if any: 0 release (a sample), 1 releaseDropped (a sample), 2 releaseIgnored. */
    @Operation(nonParallelGroup = "waiter")
    public void end(@Param(name = "outcome") int outcome) {
        Permit p = held.poll();
        if (p == null) {
            return;
        }
        holding.decrementAndGet();                  // leaves before giving back
        boolean first = switch (outcome) {
            case 0 -> p.release();
            case 1 -> p.releaseDropped();
            default -> p.releaseIgnored();
        };
        if (!first) {
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
     * What a shutting-down executor does to each of its timers: cancels the oldest, inline. On one
     * thread (the {@code sweeper} group): two sweeps are not one step (the second can find no
     * timer left while the first has not yet ended the wait it took), which no sequential order
     * explains; a sweep still races grants, cancels and the waiter.
     */
    @Operation(nonParallelGroup = "sweeper")
    public void executorCancelsOldestTimer() {
        timers.cancelOldestTimer();
    }

    /** Cancels the oldest wait not cancelled yet (granted or not). */
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

    private void hold(Permit p) {
        maxHolding.accumulateAndGet(holding.incrementAndGet(), Math::max);
        held.add(p);
    }

    @Validate
    public void permitsAreConservedAcrossResizes() {
        check(maxHolding.get() <= MAX_LIMIT, maxHolding.get() + " permits held at once, above " + MAX_LIMIT);
        int pending = 0;
        for (Future<Permit> f : acquires) {
            if (!f.isDone()) {
                pending++;
            }
        }
        LimiterStatistics s = limiter.statistics();
        check(s.inUse() == holding.get() && s.queued() == pending,
                s + " for " + holding.get() + " held, " + pending + " pending");
        check(s.available() == Math.max(0, s.limit() - s.inUse()), s + ": free permits are not the limit minus those in use");
        check(pending == 0 || s.available() == 0, s + ": " + pending + " waiting while a permit is free");
        check(s.limit() >= 1 && s.limit() <= MAX_LIMIT, s + " outside [1, " + MAX_LIMIT + "]");

        // Quiescence: nothing pending, nothing held; then the limiter admits exactly its limit.
        for (Future<Permit> f : acquires) {
            f.cancel(false);
        }
        for (Permit p; (p = held.poll()) != null; ) {
            holding.decrementAndGet();
            check(p.releaseIgnored(), p + " refused its first end");
        }
        List<Permit> all = new ArrayList<>();
        for (Permit p; (p = limiter.tryAcquire()) != null; ) {
            all.add(p);
        }
        LimiterStatistics full = limiter.statistics();
        check(all.size() == full.limit() && full.inUse() == all.size() && full.queued() == 0,
                "after quiescence " + all.size() + " admitted by " + full);
        for (Permit p : all) {
            p.releaseIgnored();
        }
        check(limiter.statistics().equals(new LimiterStatistics(full.limit(), 0, full.limit(), 0)),
                "after quiescence " + limiter.statistics());
    }

    /* Small: each invocation runs the semaphore's queue, the resize drain and Netty's promises under full instrumentation. */
    @Override
    protected int modelCheckingIterations() {
        return 12;
    }

    @Override
    protected int modelCheckingInvocations() {
        return 25;
    }

    @Override
    protected int stressInvocations() {
        return Integer.getInteger("nettysync.lincheck.stress.invocations", 40);
    }
}
