package dev.nettysync.limit;

import dev.nettysync.AbstractLincheckTest;
import dev.nettysync.testing.SweptTimersExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Ticker;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.Validate;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Lincheck checks that every concurrent execution of these operations on an
 * {@link AsyncRateLimiter} matches some sequential order of them, by model checking and by
 * stress. Time is a counter the {@code advance} operation moves by one interval; timers never
 * fire by themselves: the {@code tick} operation plays every timer (a grant pass, as a head or
 * timeout timer runs it), so grants race tryAcquire, cancels and enqueues on the limiter's own
 * state. One thread (the {@code waiter} group) queues acquires and cancels its oldest one.
 *
 * <p>After every scenario {@link #rateIsKept} checks the limiter's invariants (queue links,
 * QUEUED flag, armed head timer, bucket never overdrawn), that exactly the waiters not
 * completed are queued, and the rate: every admission (tryAcquire or grant) fits in
 * {@code burst + now / T}.
 */
@Param(name = "n", gen = IntGen.class, conf = "1:2")
public class RateLimiterLincheckTest extends AbstractLincheckTest {
    private static final long T = 100;                 // ns per permit
    private static final int BURST = 2;

    private final AtomicLong time = new AtomicLong();
    private final AsyncRateLimiter limiter = AsyncRateLimiter.builder(1, Duration.ofNanos(T))
            .burst(BURST).ticker(new CounterTicker(time)).build();
    private final SweptTimersExecutor timers = new SweptTimersExecutor();   // inline; its timers never fire (tick() plays them)
    private final AtomicLong admittedByTry = new AtomicLong();
    private final List<Future<Permit>> acquires = new ArrayList<>();   // waiter thread only
    private final List<Integer> sizes = new ArrayList<>();
    private int cancelled;                                              // waiter thread only

    @Operation
    public boolean tryAcquire(@Param(name = "n") int n) {
        if (limiter.tryAcquire(n) != null) {
            admittedByTry.addAndGet(n);
            return true;
        }
        return false;
    }

    @Operation
    public void advance() {
        time.addAndGet(T);
    }

    /** Every timer firing: a grant pass. */
    @Operation
    public void tick() {
        limiter.grantDue();
    }

    @Operation(nonParallelGroup = "waiter")
    public void acquire(@Param(name = "n") int n) {
        acquires.add(limiter.acquire(timers, n));
        sizes.add(n);
    }

    @Operation(nonParallelGroup = "waiter")
    public boolean cancelOldest() {
        if (cancelled == acquires.size()) {
            return false;
        }
        return acquires.get(cancelled++).cancel(false);
    }

    @Validate
    public void rateIsKept() {
        long admitted = admittedByTry.get();
        int pending = 0;
        for (int i = 0; i < acquires.size(); i++) {
            Future<Permit> f = acquires.get(i);
            if (f.isSuccess()) {
                admitted += sizes.get(i);
            } else if (!f.isDone()) {
                pending++;
            }
        }
        check(limiter.brokenInvariant() == null, String.valueOf(limiter.brokenInvariant()));
        check(limiter.queueLength() == pending, "queueLength " + limiter.queueLength() + " but " + pending + " pending");
        check(admitted * T <= time.get() + BURST * T, admitted + " admitted by time " + time.get());
        check(admitted * T <= limiter.tatNanos(), "tat " + limiter.tatNanos() + " below " + admitted + " admissions");
    }


    @Override
    protected int modelCheckingIterations() {
        return 8;
    }

    @Override
    protected int modelCheckingInvocations() {
        return 250;
    }

    /** A ticker reading a counter the test moves. */
    static final class CounterTicker implements Ticker {
        private final AtomicLong time;

        CounterTicker(AtomicLong time) {
            this.time = time;
        }

        @Override
        public long initialNanoTime() {
            return 0;
        }

        @Override
        public long nanoTime() {
            return time.get();
        }

        @Override
        public void sleep(long delay, TimeUnit unit) {
            throw new UnsupportedOperationException();
        }
    }
}
