package dev.nettysync.limit;

import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Scenario tests on a clock the test moves ({@link MockTicker}) and executors that run their
 * tasks and timers only when told ({@link ManualScheduledExecutor}), so every reserved time and
 * every completion is exact. Rate 10/s (one permit per 100 ms) unless said otherwise.
 */
class AsyncRateLimiterTest {
    private static final long MS = 1_000_000L;

    private final MockTicker clock = Ticker.newMockTicker();
    private final ManualScheduledExecutor loopA = new ManualScheduledExecutor(clock);
    private final ManualScheduledExecutor loopB = new ManualScheduledExecutor(clock);
    private final List<AsyncRateLimiter> checked = new ArrayList<>();

    @AfterEach
    void invariantsHold() {
        for (AsyncRateLimiter l : checked) {
            assertThat(l.brokenInvariant()).as("%s", l).isNull();
        }
    }

    private AsyncRateLimiter limiter(int perSecond, int burst) {
        AsyncRateLimiter l = AsyncRateLimiter.builder(perSecond, Duration.ofSeconds(1))
                .burst(burst).ticker(clock).build();
        checked.add(l);
        return l;
    }

    private void advanceMs(long ms) {
        clock.advance(ms, MILLISECONDS);
    }

    private void runAll() {
        while (loopA.runPending() + loopB.runPending() > 0) {
            // until both are quiet
        }
    }

    private void emptyBucket(AsyncRateLimiter l) {
        while (l.tryAcquire() != null) {
            // drain
        }
    }

    // ------------------------------------------------------------ executors that shut down

    @Test
    void aHeadWhoseLoopShutsDownAfterItsTimerWasArmedDoesNotStallTheWaitersBehind() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        io.netty.channel.DefaultEventLoop dying = new io.netty.channel.DefaultEventLoop();
        Future<Permit> dead = l.acquire(dying);             // the head: its timer is armed on `dying`
        Future<Permit> next = l.acquire(loopB);
        Future<Permit> third = l.acquire(loopB);
        dying.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        assertThat(dead.cause()).as("it can be neither timed nor told: it leaves, reserving nothing")
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(l.queueLength()).isEqualTo(2);
        advanceMs(100);
        runAll();
        assertThat(next.isSuccess()).as("the next head was armed on its own loop and granted at its time, "
                + "which the dead head's reservation no longer delays").isTrue();
        assertThat(third.isDone()).isFalse();
        advanceMs(100);
        runAll();
        assertThat(third.isSuccess()).isTrue();
        assertThat(l.queueLength()).isZero();
        advanceMs(100);
        assertThat(l.tryAcquire()).as("the fast path works again").isNotNull();
    }

    @Test
    void aHeadOnALoopThatIsShuttingDownIsNotArmedThereAndLeaves() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        io.netty.channel.DefaultEventLoop closing = new io.netty.channel.DefaultEventLoop();
        closing.submit(() -> { }).syncUninterruptibly();     // started
        closing.shutdownGracefully(1, 10, java.util.concurrent.TimeUnit.SECONDS);   // quiet period: still runs tasks
        Future<Permit> f = l.acquire(closing);
        Future<Permit> next = l.acquire(loopB);
        assertThat(f.cause()).as("a loop shutting down cancels its timers: the wait could never be granted")
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        advanceMs(100);
        runAll();
        assertThat(next.isSuccess()).isTrue();
        closing.terminationFuture().syncUninterruptibly();
    }

    @Test
    void aTimedWaiterBehindTheHeadWhoseLoopShutsDownLeavesAndTheWaitersBehindItMoveEarlier() {
        AsyncRateLimiter l = AsyncRateLimiter.builder(10, Duration.ofSeconds(1)).burst(1).maxPending(3)
                .ticker(clock).build();
        checked.add(l);
        emptyBucket(l);
        Future<Permit> head = l.acquire(loopB);                                  // due at 100 ms
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Permit> dead = l.acquire(dying, 1, 1, java.util.concurrent.TimeUnit.HOURS);   // due at 200 ms
        Future<Permit> third = l.acquire(loopB);                                 // due at 300 ms
        assertThat(l.acquire(loopB).cause()).isInstanceOf(QueueFullException.class);
        dying.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        assertThat(dead.cause()).as("its timeout was cancelled with its loop: it leaves now, reserving nothing")
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down");
        assertThat(l.queueLength()).isEqualTo(2);
        Future<Permit> fourth = l.acquire(loopB);
        assertThat(fourth.isDone()).as("its maxPending slot is free again").isFalse();
        advanceMs(100);
        runAll();
        assertThat(head.isSuccess()).isTrue();
        assertThat(third.isDone()).isFalse();
        advanceMs(100);
        runAll();
        assertThat(third.isSuccess()).as("moved earlier by the permit the dead waiter no longer reserves").isTrue();
        advanceMs(100);
        runAll();
        assertThat(fourth.isSuccess()).isTrue();
        assertThat(l.queueLength()).isZero();
    }

    // ------------------------------------------------------------ the rate

    @Test
    void aFullBucketAdmitsTheBurstThenOnePermitPerInterval() {
        AsyncRateLimiter l = limiter(10, 3);
        assertThat(l.tryAcquire()).isNotNull();
        assertThat(l.tryAcquire()).isNotNull();
        assertThat(l.tryAcquire()).isNotNull();
        assertThat(l.tryAcquire()).isNull();
        assertThat(l.tryAcquireNanos(1)).isEqualTo(100 * MS);
        assertThat(l.tryAcquireNanos(2)).isEqualTo(200 * MS);

        advanceMs(99);
        assertThat(l.tryAcquireNanos(1)).isEqualTo(1 * MS);
        advanceMs(1);
        assertThat(l.tryAcquire()).isNotNull();
        assertThat(l.tryAcquire()).isNull();

        advanceMs(10_000);   // idle: the bucket fills up to the burst, not beyond
        assertThat(l.statistics().available()).isEqualTo(3);
        assertThat(l.tryAcquire(3)).isNotNull();
        assertThat(l.tryAcquire()).isNull();
    }

    @Test
    void retryAfterSaysWhenAnAdmissionCouldBeMadeAndTakesNothing() {
        AsyncRateLimiter l = limiter(10, 3);
        assertThat(l.burst()).isEqualTo(3);
        assertThat(l.retryAfterNanos(3)).as("a full bucket: now").isZero();
        assertThat(l.tryAcquire(3)).as("and asking took nothing").isNotNull();
        assertThat(l.retryAfterNanos(1)).isEqualTo(100 * MS);
        assertThat(l.retryAfterNanos(2)).isEqualTo(200 * MS);
        advanceMs(30);
        assertThat(l.retryAfterNanos(1)).isEqualTo(70 * MS);
        assertThat(l.retryAfterNanos(1)).as("asking again: nothing was reserved").isEqualTo(70 * MS);

        Future<Permit> queued = l.acquire(loopA, 2);                 // due at 200 ms
        assertThat(l.retryAfterNanos(1)).as("behind the queued 2: 300 ms from the start").isEqualTo(270 * MS);
        assertThat(l.tryAcquireNanos(1)).as("what a refused tryAcquire says").isEqualTo(270 * MS);
        advanceMs(170);
        runAll();
        assertThat(queued.isSuccess()).isTrue();
        assertThat(l.retryAfterNanos(1)).as("the queue is gone: only the bucket").isEqualTo(100 * MS);
    }

    @Test
    void timesAreCountedFromTheLimitersCreationWhateverTheClockReadThen() {
        clock.advance(1L << 62, java.util.concurrent.TimeUnit.NANOSECONDS);   // nanoTime's origin is arbitrary
        AsyncRateLimiter l = limiter(10, 2);
        advanceMs(5);
        Permit p = l.tryAcquire();
        assertThat(p).as("a new limiter's bucket is full").isNotNull();
        assertThat(((AsyncRateLimiter.RatePermit) p).admittedAt()).as("5 ms after its creation").isEqualTo(5 * MS);
        assertThat(l.tryAcquire()).isNotNull();
        assertThat(l.tryAcquire()).isNull();
    }

    @Test
    void aTimedWaitWithinItsTimeoutQueuesLongAfterTheLimitersCreationAsAtIt() {
        AsyncRateLimiter l = limiter(10, 1);
        advanceMs(3_600_000);
        emptyBucket(l);
        Future<Permit> f = l.acquire(loopA, 1, 100, MILLISECONDS);  // due in exactly 100 ms
        assertThat(f.isDone()).as("queued, not refused").isFalse();
        advanceMs(100);
        runAll();
        assertThat(f.isSuccess()).isTrue();
    }

    @Test
    void requestsLargerThanTheBurstFailAtOnceEverywhere() {
        AsyncRateLimiter l = limiter(10, 3);
        assertThatThrownBy(() -> l.tryAcquire(4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1..3").hasMessageContaining("was 4");
        assertThatThrownBy(() -> l.acquire(loopA, 4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> l.acquire(loopA, 4, 1, MILLISECONDS)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> l.tryAcquireNanos(0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(l.statistics().available()).isEqualTo(3);   // nothing taken
    }

    @Test
    void badConfigurationIsRefusedWithTheValue() {
        assertThatThrownBy(() -> AsyncRateLimiter.perSecond(0, 1)).hasMessageContaining("was 0");
        assertThatThrownBy(() -> AsyncRateLimiter.perSecond(10, 0)).hasMessageContaining("burst");
        assertThatThrownBy(() -> AsyncRateLimiter.perSecond(3_000_000_000L, 1))
                .hasMessageContaining("more than one per nanosecond");
        assertThatThrownBy(() -> AsyncRateLimiter.builder(1, Duration.ofDays(365 * 30)).burst(100).build())
                .hasMessageContaining("2^60");
        Duration twoTo60 = Duration.ofNanos(1L << 60);
        assertThat(AsyncRateLimiter.builder(1, twoTo60).build().intervalNanos()).as("burst x interval = 2^60: the most")
                .isEqualTo(1L << 60);
        assertThatThrownBy(() -> AsyncRateLimiter.builder(1, twoTo60).burst(2).build()).hasMessageContaining("2^60");
    }

    @Test
    void aRateOfThreePerSecondRoundsTheIntervalToTheNearestNanosecond() {
        AsyncRateLimiter l = limiter(3, 1);
        assertThat(l.intervalNanos()).isEqualTo(333_333_333L);
        AsyncRateLimiter twoThirds = AsyncRateLimiter.builder(3, Duration.ofNanos(2)).build();
        assertThat(twoThirds.intervalNanos()).isEqualTo(1L);
    }

    @Test
    void hugePermitsAndPeriodsRoundWithoutOverflow() {
        // (period + permits / 2) overflowed: a valid rate of one per 2 ns was refused as "more than one per ns"
        Duration longest = Duration.ofNanos(Long.MAX_VALUE);
        assertThat(AsyncRateLimiter.builder(1L << 62, longest).build().intervalNanos()).isEqualTo(2L);
        assertThat(AsyncRateLimiter.builder(Long.MAX_VALUE, longest).build().intervalNanos()).isEqualTo(1L);
        assertThat(AsyncRateLimiter.builder(1L << 40, longest).build().intervalNanos()).isEqualTo(1L << 23);
        assertThat(AsyncRateLimiter.builder(2, Duration.ofNanos(3)).build().intervalNanos()).as("1.5 rounds up").isEqualTo(2L);
    }

    @Test
    void aPermitOfARateGivesNothingBackAndEndsOnce() {
        AsyncRateLimiter l = limiter(10, 1);
        Permit p = l.tryAcquire();
        assertThat(p.isReleased()).isFalse();
        assertThat(p.release()).isTrue();
        assertThat(p.releaseDropped()).isFalse();
        assertThat(p.isReleased()).isTrue();
        assertThat(l.tryAcquire()).as("a release does not refill the bucket").isNull();
        assertThat(l.statistics()).isEqualTo(new LimiterStatistics(1, 0, 0, 0));
    }

    // ------------------------------------------------------------ waiting

    @Test
    void waitersAreCompletedInOrderAtTheirReservedTimesOnTheirOwnExecutors() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);                                              // next admission at 100 ms
        List<String> order = new ArrayList<>();
        Future<Permit> a1 = l.acquire(loopA);                        // reserved 100 ms
        Future<Permit> b = l.acquire(loopB);                         // reserved 200 ms
        Future<Permit> a2 = l.acquire(loopA);                        // reserved 300 ms
        a1.addListener(f -> order.add("a1 on A: " + loopA.inEventLoop()));
        b.addListener(f -> order.add("b on B: " + loopB.inEventLoop()));
        a2.addListener(f -> order.add("a2 on A: " + loopA.inEventLoop()));
        assertThat(l.statistics().queued()).isEqualTo(3);

        advanceMs(99);
        runAll();
        assertThat(order).isEmpty();
        advanceMs(1);
        runAll();
        assertThat(order).containsExactly("a1 on A: true");
        assertThat(loopA.hasTimers()).as("the A timer was for a1 only").isFalse();
        assertThat(loopB.hasTimers()).as("the head is b now: its timer is on B").isTrue();

        advanceMs(100);
        runAll();
        assertThat(order).containsExactly("a1 on A: true", "b on B: true");
        advanceMs(100);
        runAll();
        assertThat(order).containsExactly("a1 on A: true", "b on B: true", "a2 on A: true");
        assertThat(a1.getNow()).isNotNull();
        assertThat(l.statistics().queued()).isZero();
        assertThat(loopA.hasTimers() || loopB.hasTimers()).as("no timer while idle").isFalse();
    }

    @Test
    void anIdleLimiterArmsNoTimerAndAnImmediateAdmissionNeedsNone() {
        AsyncRateLimiter l = limiter(10, 2);
        Future<Permit> f = l.acquire(loopA);                         // at the limiter's first instant
        assertThat(f.isSuccess()).isTrue();
        assertThat(l.statistics().available()).as("it took one permit, not two").isEqualTo(1);
        runAll();
        assertThat(loopA.hasTimers()).isFalse();
    }

    @Test
    void aNewcomerNeverOvertakesAQueuedWaiterEvenIfItWouldFit() {
        AsyncRateLimiter l = limiter(10, 3);
        emptyBucket(l);
        advanceMs(100);                                              // one permit in the bucket
        Future<Permit> big = l.acquire(loopA, 3);                    // needs 300 ms of refill
        assertThat(big.isDone()).isFalse();
        assertThat(l.tryAcquire()).as("FIFO: 1 permit is there but the head wants 3").isNull();
        assertThat(l.tryAcquireNanos(1)).isEqualTo(300 * MS);       // behind the head: 200 + 100
        Future<Permit> small = l.acquire(loopB);
        advanceMs(200);
        runAll();
        assertThat(big.isSuccess()).isTrue();
        assertThat(small.isDone()).isFalse();
        advanceMs(100);
        runAll();
        assertThat(small.isSuccess()).isTrue();
    }

    @Test
    void cancellingAWaiterInTheMiddleMovesEveryLaterReservationEarlier() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        Future<Permit> w1 = l.acquire(loopA);                        // 100 ms
        Future<Permit> w2 = l.acquire(loopA, 1);                     // 200 ms
        Future<Permit> w3 = l.acquire(loopB);                        // 300 ms -> 200 ms
        Future<Permit> w4 = l.acquire(loopB);                        // 400 ms -> 300 ms
        assertThat(w2.cancel(false)).isTrue();
        assertThat(l.statistics().queued()).isEqualTo(3);
        assertThat(l.tryAcquireNanos(1)).as("a newcomer's reservation moved too").isEqualTo(400 * MS);

        advanceMs(100);
        runAll();
        assertThat(w1.isSuccess()).isTrue();
        advanceMs(100);
        runAll();
        assertThat(w3.isSuccess()).as("w3 took w2's slot").isTrue();
        assertThat(w4.isDone()).isFalse();
        advanceMs(100);
        runAll();
        assertThat(w4.isSuccess()).isTrue();
        assertThat(l.tryAcquire()).as("no capacity was created by the cancel").isNull();
        assertThat(l.tatNanos()).isEqualTo(400 * MS);
    }

    @Test
    void cancellingTheHeadHandsTheTimerToTheNextWaiterOnItsExecutor() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        Future<Permit> w1 = l.acquire(loopA);
        Future<Permit> w2 = l.acquire(loopB);
        assertThat(w1.cancel(false)).isTrue();
        runAll();
        assertThat(loopA.hasTimers()).as("w1's timer was cancelled").isFalse();
        assertThat(loopB.hasTimers()).isTrue();
        advanceMs(100);
        loopB.runPending();
        assertThat(w2.isSuccess()).as("w2 is granted at w1's old time").isTrue();
    }

    @Test
    void cancellingTheHeadWhenTheNextIsAlreadyDueGrantsItAtOnce() {
        AsyncRateLimiter l = limiter(10, 2);
        emptyBucket(l);
        Future<Permit> big = l.acquire(loopA, 2);                    // 200 ms
        Future<Permit> one = l.acquire(loopB);                       // 300 ms, or 100 ms alone
        advanceMs(150);
        assertThat(big.cancel(false)).isTrue();
        assertThat(one.isSuccess()).as("granted inside cancel(): it was due without big").isTrue();
    }

    @Test
    void cancellingTheWaiterBehindAHeadWhoseTimeHasComeGrantsTheHead() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        Future<Permit> head = l.acquire(loopA);                      // due at 100 ms, its timer on A
        Future<Permit> behind = l.acquire(loopB);                    // due at 200 ms
        advanceMs(100);                                              // A's timer is due but has not run
        assertThat(behind.cancel(false)).isTrue();
        assertThat(head.isSuccess()).as("the cancel's grant pass served the head").isTrue();
        assertThat(l.brokenInvariant()).as("and kept nothing of it").isNull();
    }

    @Test
    void aGrantIsFinalEvenBeforeItsListenersRan() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        Future<Permit> w1 = l.acquire(loopA);
        List<Boolean> ran = new ArrayList<>();
        w1.addListener(f -> ran.add(f.isSuccess()));
        advanceMs(100);
        Future<Permit> w2 = l.acquire(loopB);                        // its enqueue grants the due w1
        assertThat(w1.cancel(false)).isFalse();
        assertThat(ran).isEmpty();
        loopA.runPending();
        assertThat(ran).containsExactly(true);
        assertThat(w2.isDone()).isFalse();
    }

    @Test
    void aWaiterGrantedInThePassOfTheOneAheadCannotBeCancelledByThatOnesListener() {
        AsyncRateLimiter l = limiter(10, 2);
        emptyBucket(l);                                              // tat = 200 ms
        Future<Permit> w1 = l.acquire(loopA);                        // due 100 ms
        Future<Permit> w2 = l.acquire(loopA);                        // due 200 ms
        List<Boolean> cancelled = new ArrayList<>();
        w1.addListener(f -> cancelled.add(w2.cancel(false)));        // w2 is granted, not yet completed
        advanceMs(250);
        loopA.runPending();                                          // the late timer grants both in one pass
        assertThat(cancelled).as("the grant is the decision: the cancel loses").containsExactly(false);
        assertThat(w2.isSuccess()).isTrue();
        assertThat(l.tatNanos()).isEqualTo(450 * MS);
    }

    @Test
    void aHeadGrantedByAnotherPassDropsItsTimer() {
        MockTicker behind = Ticker.newMockTicker();                  // the loop's clock stands still
        ManualScheduledExecutor loopC = new ManualScheduledExecutor(behind);
        AsyncRateLimiter l = limiter(10, 2);
        emptyBucket(l);
        Future<Permit> head = l.acquire(loopC);                      // due at 100 ms: a timer on loopC
        advanceMs(100);
        Future<Permit> next = l.acquire(loopA);                      // its pass grants the head
        loopC.runPending();
        assertThat(head.isSuccess()).isTrue();
        assertThat(loopC.hasTimers()).as("the head's timer was cancelled, not left to run for nothing").isFalse();
        assertThat(next.isDone()).isFalse();
    }

    @Test
    void aHeadTimerThatFiresEarlyIsArmedAgain() {
        MockTicker ahead = Ticker.newMockTicker();                   // the loop's clock, not the limiter's
        ManualScheduledExecutor loopC = new ManualScheduledExecutor(ahead);
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        Future<Permit> w = l.acquire(loopC);                         // due at 100 ms: a timer in 100 ms
        ahead.advance(100, MILLISECONDS);
        loopC.runPending();                                          // fires at 0 ms of the limiter's clock
        assertThat(w.isDone()).isFalse();
        assertThat(loopC.hasTimers()).as("armed again for the time still left").isTrue();
        advanceMs(100);
        ahead.advance(100, MILLISECONDS);
        loopC.runPending();
        assertThat(w.isSuccess()).isTrue();
    }

    @Test
    void aTimedAcquireThatCouldNotBeGrantedInTimeIsRefusedAtOnceWithRetryAfter() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        Future<Permit> queued = l.acquire(loopA, 1, 100, MILLISECONDS);   // due in 100 ms: waits
        Future<Permit> refused = l.acquire(loopA, 1, 150, MILLISECONDS);  // due in 200 ms
        assertThat(queued.isDone()).isFalse();
        assertThat(refused.cause()).isInstanceOf(RateLimitedException.class);
        RateLimitedException e = (RateLimitedException) refused.cause();
        assertThat(e.retryAfterNanos()).isEqualTo(200 * MS);
        assertThat(e.retryAfterSeconds()).isEqualTo(1);
        assertThat(e.getStackTrace()).isEmpty();
        assertThat(l.statistics().queued()).as("the refusal reserved nothing").isEqualTo(1);

        Future<Permit> now = l.acquire(loopB, 1, 0, MILLISECONDS);
        assertThat(now.cause()).isInstanceOf(RateLimitedException.class);
        advanceMs(100);
        runAll();
        assertThat(queued.isSuccess()).as("due at its deadline: granted, not timed out").isTrue();
    }

    @Test
    void aWaiterDueExactlyAtItsDeadlineIsGrantedEvenIfTheTimeoutFiresFirst() {
        AsyncRateLimiter l = limiter(10, 2);                         // slack for the late head
        emptyBucket(l);
        Future<Permit> head = l.acquire(loopA);                      // 100 ms, timer on A
        Future<Permit> timed = l.acquire(loopB, 1, 200, MILLISECONDS); // 200 ms, deadline 200 ms
        advanceMs(200);
        loopB.runPending();                                          // only B: the timeout fires
        assertThat(head.isSuccess()).isTrue();
        assertThat(timed.isSuccess()).isTrue();
    }

    @Test
    void aGrantDelayedBeyondTheBurstsSlackShiftsLaterWaitersAndTheyMayTimeOut() {
        AsyncRateLimiter l = limiter(10, 1);                         // burst 1: no slack
        emptyBucket(l);                                              // tat = 100 ms
        Future<Permit> w1 = l.acquire(loopA);                        // due 100 ms (timer on A)
        Future<Permit> w2 = l.acquire(loopB, 1, 220, MILLISECONDS);  // due 200 ms, deadline 220
        advanceMs(190);
        loopA.runPending();                                          // A's timer runs 90 ms late
        assertThat(w1.isSuccess()).isTrue();
        assertThat(l.tatNanos()).as("admitted at 190 ms").isEqualTo(290 * MS);
        advanceMs(30);
        loopB.runPending();                                          // 220 ms: w2 due at 290
        assertThat(w2.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(w2.cancel(false)).isFalse();
        runAll();
        assertThat(loopA.hasTimers() || loopB.hasTimers()).isFalse();
    }

    @Test
    void withSlackALateTimerCostsNothing() {
        AsyncRateLimiter l = limiter(10, 5);
        emptyBucket(l);                                              // tat = 500 ms
        Future<Permit> w1 = l.acquire(loopA);                        // due 100 ms
        Future<Permit> w2 = l.acquire(loopB);                        // due 200 ms
        advanceMs(190);
        loopA.runPending();                                          // 90 ms late
        assertThat(w1.isSuccess()).isTrue();
        assertThat(l.tatNanos()).as("the late grant used its reserved slot").isEqualTo(600 * MS);
        advanceMs(10);
        loopB.runPending();
        assertThat(w2.isSuccess()).as("w2 keeps its time").isTrue();
    }

    @Test
    void theQueueIsBoundedByMaxPending() {
        AsyncRateLimiter l = AsyncRateLimiter.builder(10, Duration.ofSeconds(1)).maxPending(1)
                .ticker(clock).build();
        checked.add(l);
        emptyBucket(l);
        Future<Permit> w1 = l.acquire(loopA);
        Future<Permit> w2 = l.acquire(loopA);
        assertThat(w1.isDone()).isFalse();
        assertThat(w2.cause()).isInstanceOf(QueueFullException.class);
    }

    @Test
    void aWaiterWhoseExecutorCannotTimeFailsAndTheNextIsServed() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        Future<Permit> w1 = l.acquire(ImmediateEventExecutor.INSTANCE);
        assertThat(w1.cause()).isInstanceOf(UnsupportedOperationException.class);
        Future<Permit> w2 = l.acquire(loopA);
        advanceMs(100);
        runAll();
        assertThat(w2.isSuccess()).as("w1 gave its reservation back").isTrue();
    }

    @Test
    void statisticsReportTheBucketAndTheQueue() {
        AsyncRateLimiter l = limiter(10, 4);
        assertThat(l.statistics()).isEqualTo(new LimiterStatistics(4, 0, 4, 0));
        l.tryAcquire(3);
        advanceMs(150);
        assertThat(l.statistics()).isEqualTo(new LimiterStatistics(4, 0, 2, 0));
        l.acquire(loopA, 4);
        assertThat(l.statistics().queued()).isEqualTo(1);
    }

    @Test
    void withPermitRunsTheActionAtTheReservedTime() {
        AsyncRateLimiter l = limiter(10, 1);
        emptyBucket(l);
        List<String> ran = new ArrayList<>();
        Future<String> r = l.withPermit(loopA, () -> {
            ran.add("action");
            return loopA.newSucceededFuture("done");
        });
        runAll();
        assertThat(ran).isEmpty();
        advanceMs(100);
        runAll();
        assertThat(r.getNow()).isEqualTo("done");
    }
}
