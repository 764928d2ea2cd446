package dev.nettysync.adaptive;

import dev.nettysync.limit.AbstractLimiterLincheckTest;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Lincheck for {@link AdaptiveLimiter}: the limit moves underneath queued waiters. The algorithm
 * is scripted (every sample moves the limit one step round 1, 2, 3; {@code setLimit} moves it
 * by itself, as an algorithm with a timer does), with no sample window, between
 * {@code minLimit} 1 and {@code maxLimit} {@value #MAX_LIMIT}. Threads race {@code tryAcquire},
 * limit moves, cancels of the oldest wait and a shutting-down executor's sweep of timers against
 * one thread (the {@code waiter} group) that queues untimed and timed waits and ends permits
 * with each of the three outcomes (a release samples, and so resizes from inside the end,
 * granting waiters on the ending thread). Granted permits go to a shared pile the ends take from
 * (the scaffold is {@link AbstractLimiterLincheckTest}'s).
 *
 * <p>After every scenario the validation checks: permits held never exceeded the largest
 * limit; the statistics count what is held and pending, and the free permits are the limit in
 * force minus those held; nobody waits while a permit is free; and, once the test cancels what
 * is pending and ends what is held, nothing is in use or queued and the limiter admits exactly
 * its limit.
 *
 * <p>The operations return nothing: a limit moved by itself is applied by the next acquire or
 * end, or, when another thread is applying one at that moment, by that thread a moment later (as
 * the class comment says). So a {@code tryAcquire} right after a move may not see it yet, and a
 * cancel may win over a waiter the move will serve: both legal, neither one sequential order
 * (this test found such histories). What is checked is the validation above.
 */
@Param(name = "limit", gen = IntGen.class, conf = "1:3")
@Param(name = "outcome", gen = IntGen.class, conf = "0:2")
public class AdaptiveLimiterLincheckTest extends AbstractLimiterLincheckTest {
    private static final int MAX_LIMIT = 3;

    private final ScriptedLimit algorithm = new ScriptedLimit(2).onEachSample(l -> l % MAX_LIMIT + 1);
    private final AdaptiveLimiter limiter = AdaptiveLimiter.builder().limit(algorithm)
            .minLimit(1).maxLimit(MAX_LIMIT).sampleWindow(Duration.ZERO).nanoClock(() -> 0).build();

    @Override
    protected AsyncLimiter limiter() {
        return limiter;
    }

    @Operation
    public void tryAcquire() {
        hold(limiter.tryAcquire());
    }

    /** The algorithm moves the limit by itself. */
    @Operation
    public void setLimit(@Param(name = "limit") int limit) {
        algorithm.set(limit);
    }

    /** Ends a permit held, if any: 0 release (a sample), 1 releaseDropped (a sample), 2 releaseIgnored. */
    @Operation(nonParallelGroup = WAITER)
    public void end(@Param(name = "outcome") int outcome) {
        Predicate<Permit> end = switch (outcome) {
            case 0 -> Permit::release;
            case 1 -> Permit::releaseDropped;
            default -> Permit::releaseIgnored;
        };
        endHeld(end);
    }

    @Override
    protected void checkScenario(int pending) {
        check(mostHeldAtOnce() <= MAX_LIMIT, mostHeldAtOnce() + " permits held at once, above " + MAX_LIMIT);
        LimiterStatistics s = limiter.statistics();
        check(s.inUse() == heldCount() && s.queued() == pending,
                s + " for " + heldCount() + " held, " + pending + " pending");
        check(s.available() == Math.max(0, s.limit() - s.inUse()), s + ": free permits are not the limit minus those in use");
        check(pending == 0 || s.available() == 0, s + ": " + pending + " waiting while a permit is free");
        check(s.limit() >= 1 && s.limit() <= MAX_LIMIT, s + " outside [1, " + MAX_LIMIT + "]");
    }

    /** Ignored: an end that samples would move the limit while the validation reads it. */
    @Override
    protected boolean endAtQuiescence(Permit p) {
        return p.releaseIgnored();
    }

    /** The limiter admits exactly its limit. */
    @Override
    protected void checkQuiescent() {
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
}
