package dev.nettysync;

import dev.nettysync.testing.ManualExecutor;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Scenario tests for {@link AsyncBarrier}; harness in {@link ScenarioTest}.
 */
class AsyncBarrierTest extends ScenarioTest {
    @Test
    void aPartyWhoseExecutorShutDownWhileWaitingStillCountsAndTheCycleTrips() {
        // A trip gives nothing that could be taken back: the dead party arrived, so it counts and
        // gets its index (its future says so, though no listener of it can run).
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        AsyncBarrier barrier = new AsyncBarrier(3);
        invariants.check(barrier);
        Future<Integer> dead = barrier.await(dying);
        Future<Integer> alive = barrier.await(IMMEDIATE);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        Future<Integer> last = barrier.await(IMMEDIATE);
        assertThat(dead.getNow()).isZero();
        assertThat(alive.getNow()).isEqualTo(1);
        assertThat(last.getNow()).isEqualTo(2);
        assertThat(barrier.waiting()).isZero();
    }

    @Test
    void aTimedPartyWhoseExecutorShutsDownWhileWaitingLeavesAndNoLongerCounts() {
        // Its timeout was cancelled with its executor, so it leaves now, as it would at its
        // timeout, instead of counting towards a cycle it cannot take part in.
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        AsyncBarrier barrier = invariants.check(new AsyncBarrier(3));
        Future<Integer> dead = barrier.await(dying, 1, java.util.concurrent.TimeUnit.HOURS);
        Future<Integer> alive = barrier.await(IMMEDIATE);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        assertThat(dead.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down");
        assertThat(barrier.waiting()).isEqualTo(1);
        Future<Integer> second = barrier.await(IMMEDIATE);
        assertThat(second.isDone()).as("two of three: no trip with the dead party").isFalse();
        Future<Integer> third = barrier.await(IMMEDIATE);
        assertThat(alive.getNow()).isZero();
        assertThat(second.getNow()).isEqualTo(1);
        assertThat(third.getNow()).isEqualTo(2);
        assertThat(barrier.waiting()).isZero();
    }

    @Test
    void nPartiesTripTogetherWithIndexesInArrivalOrderTheLastGettingNMinusOne() {
        AsyncBarrier barrier = new AsyncBarrier(3);
        invariants.check(barrier);
        Future<Integer> a = barrier.await(IMMEDIATE);
        Future<Integer> b = barrier.await(IMMEDIATE);
        assertThat(a.isDone()).isFalse();
        assertThat(b.isDone()).isFalse();
        assertThat(barrier.waiting()).isEqualTo(2);
        assertThat(barrier.toString()).contains("waiting=2/3");

        Future<Integer> c = barrier.await(IMMEDIATE);

        assertThat(c.getNow()).isEqualTo(2);
        assertThat(a.getNow()).isZero();
        assertThat(b.getNow()).isEqualTo(1);
        assertThat(barrier.waiting()).isZero();
        assertThat(barrier.parties()).isEqualTo(3);
        assertThat(barrier.isBroken()).isFalse();
    }

    @Test
    void itIsCyclicSeveralCyclesInARow() {
        AsyncBarrier barrier = new AsyncBarrier(2);
        invariants.check(barrier);
        for (int cycle = 0; cycle < 5; cycle++) {
            Future<Integer> first = barrier.await(IMMEDIATE);
            assertThat(first.isDone()).as("cycle %d", cycle).isFalse();
            Future<Integer> second = barrier.await(IMMEDIATE);
            assertThat(first.getNow()).as("cycle %d", cycle).isZero();
            assertThat(second.getNow()).as("cycle %d", cycle).isEqualTo(1);
            assertThat(barrier.waiting()).isZero();
        }
    }

    @Test
    void anArrivalWhileThePreviousCycleIsStillBeingCompletedBelongsToTheNextCycle() {
        // a's listener arrives again while trip() is still completing the cycle (b not yet).
        AsyncBarrier barrier = new AsyncBarrier(3);
        invariants.check(barrier);
        List<String> log = new ArrayList<>();
        AtomicReference<Future<Integer>> again = new AtomicReference<>();
        Future<Integer> a = barrier.await(IMMEDIATE);
        Future<Integer> b = barrier.await(IMMEDIATE);
        a.addListener(f -> {
            log.add("a=" + f.getNow() + ", b done=" + b.isDone());
            again.set(barrier.await(IMMEDIATE));
        });
        b.addListener(f -> log.add("b=" + f.getNow()));

        Future<Integer> c = barrier.await(IMMEDIATE);

        assertThat(log).containsExactly("a=0, b done=false", "b=1");
        assertThat(c.getNow()).isEqualTo(2);
        assertThat(again.get().isDone()).as("waits in the next cycle").isFalse();
        assertThat(barrier.waiting()).isEqualTo(1);
        barrier.await(IMMEDIATE);
        Future<Integer> last = barrier.await(IMMEDIATE);
        assertThat(again.get().getNow()).isZero();
        assertThat(last.getNow()).isEqualTo(2);
    }

    @Test
    void arrivalsWhileTheTrippedCyclesListenersHaveNotRunYetStartANewCycle() {
        ManualExecutor partyLoop = new ManualExecutor();
        AsyncBarrier barrier = new AsyncBarrier(2);
        invariants.check(barrier);
        List<Integer> indexes = new ArrayList<>();
        Future<Integer> a = barrier.await(partyLoop);
        a.addListener(f -> indexes.add((Integer) f.getNow()));
        Future<Integer> b = barrier.await(partyLoop);
        b.addListener(f -> indexes.add((Integer) f.getNow()));
        assertThat(indexes).as("listeners not run yet").isEmpty();
        assertThat(a.getNow()).isZero();
        assertThat(b.getNow()).isEqualTo(1);

        Future<Integer> c = barrier.await(partyLoop);
        assertThat(c.isDone()).isFalse();
        assertThat(barrier.waiting()).isEqualTo(1);
        partyLoop.runPending();
        assertThat(indexes).containsExactly(0, 1);
        assertThat(barrier.await(IMMEDIATE).getNow()).isEqualTo(1);
        assertThat(c.getNow()).isZero();
    }

    @Test
    void resetFailsTheWaitersAndLeavesTheBarrierUsable() {
        AsyncBarrier barrier = new AsyncBarrier(3);
        invariants.check(barrier);
        Future<Integer> a = barrier.await(IMMEDIATE);
        Future<Integer> b = barrier.await(IMMEDIATE);

        barrier.reset();

        assertThat(a.cause()).isInstanceOf(BrokenBarrierException.class).hasMessageContaining("reset");
        assertThat(b.cause()).isInstanceOf(BrokenBarrierException.class);
        assertThat(barrier.waiting()).isZero();
        assertThat(barrier.isBroken()).isFalse();
        List<Future<Integer>> next = List.of(barrier.await(IMMEDIATE), barrier.await(IMMEDIATE), barrier.await(IMMEDIATE));
        assertThat(next).extracting(Future::getNow).containsExactly(0, 1, 2);
    }

    @Test
    void abortBreaksTheBarrierUntilReset() {
        AsyncBarrier barrier = new AsyncBarrier(2);
        invariants.check(barrier);
        Future<Integer> a = barrier.await(IMMEDIATE);

        barrier.abort();

        assertThat(a.cause()).isInstanceOf(BrokenBarrierException.class).hasMessageContaining("aborted");
        assertThat(barrier.isBroken()).isTrue();
        Future<Integer> later = barrier.await(IMMEDIATE);
        assertThat(later.cause()).as("fails at once").isInstanceOf(BrokenBarrierException.class)
                .hasMessageContaining("is broken");
        assertThat(barrier.waiting()).isZero();

        barrier.reset();
        assertThat(barrier.isBroken()).isFalse();
        Future<Integer> x = barrier.await(IMMEDIATE);
        assertThat(x.isDone()).isFalse();
        assertThat(barrier.await(IMMEDIATE).getNow()).isEqualTo(1);
        assertThat(x.getNow()).isZero();
    }

    @Test
    void aCancelledWaiterLeavesAndTheBarrierStillTripsWhenAFullSetArrives() {
        AsyncBarrier barrier = new AsyncBarrier(3);
        invariants.check(barrier);
        Future<Integer> a = barrier.await(IMMEDIATE);
        Future<Integer> b = barrier.await(IMMEDIATE);

        assertThat(a.cancel(false)).isTrue();

        assertThat(a.isCancelled()).isTrue();
        assertThat(barrier.waiting()).isEqualTo(1);
        assertThat(barrier.isBroken()).as("leaving does not break it").isFalse();
        Future<Integer> c = barrier.await(IMMEDIATE);
        assertThat(c.isDone()).as("only 2 of 3 now").isFalse();
        Future<Integer> d = barrier.await(IMMEDIATE);
        assertThat(List.of(b, c, d)).extracting(Future::getNow).containsExactly(0, 1, 2);
    }

    @Test
    void aTimedOutWaiterLeavesAndTheBarrierStillTripsWhenAFullSetArrives() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncBarrier barrier = new AsyncBarrier(2);
        invariants.check(barrier);
        Future<Integer> timed = barrier.await(ch.eventLoop(), 100, MILLISECONDS);
        ch.advanceTimeBy(100, MILLISECONDS);
        ch.runScheduledPendingTasks();

        assertThat(timed.cause()).isInstanceOf(WaitTimeoutException.class).hasMessageContaining("100 ms");
        assertThat(barrier.waiting()).isZero();
        assertThat(barrier.isBroken()).isFalse();

        Future<Integer> a = barrier.await(ch.eventLoop(), 100, MILLISECONDS);
        Future<Integer> b = barrier.await(ch.eventLoop(), 100, MILLISECONDS);
        assertThat(a.getNow()).isZero();
        assertThat(b.getNow()).isEqualTo(1);
        assertThat(ch.runScheduledPendingTasks()).as("a's timer was cancelled").isEqualTo(-1);
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimedWaitOnAnExecutorThatCannotScheduleFailsAndLeavesTheBarrier() {
        AsyncBarrier barrier = new AsyncBarrier(2);
        invariants.check(barrier);
        Future<Integer> f = barrier.await(IMMEDIATE, 1, SECONDS);
        assertThat(f.cause()).isInstanceOf(UnsupportedOperationException.class);
        assertThat(barrier.waiting()).isZero();
        Future<Integer> a = barrier.await(IMMEDIATE);
        assertThat(a.isDone()).as("the failed party did not count").isFalse();
    }

    @Test
    void aZeroTimeoutTripsIfItIsTheLastPartyElseFailsAtOnce() {
        AsyncBarrier barrier = new AsyncBarrier(2);
        invariants.check(barrier);
        assertThat(barrier.await(IMMEDIATE, 0, SECONDS).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(barrier.waiting()).isZero();
        Future<Integer> a = barrier.await(IMMEDIATE);
        assertThat(barrier.await(IMMEDIATE, 0, SECONDS).getNow()).isEqualTo(1);
        assertThat(a.getNow()).isZero();
    }

    @Test
    void aZeroTimeoutArrivalDeferredByATripUnderWayFailsIfItsCycleLosesAPartyMeanwhile() {
        // An arrival that completes a cycle while the previous trip is under way queues, to be
        // tripped by the thread finishing that trip. With a zero timeout it must still never
        // wait: before, a party of its cycle that left meanwhile left it queued for ever.
        AsyncBarrier[] holder = new AsyncBarrier[1];
        AtomicReference<Future<Integer>> noWait = new AtomicReference<>();
        AtomicInteger trips = new AtomicInteger();
        holder[0] = new AsyncBarrier(2, () -> {
            if (trips.incrementAndGet() == 1) {
                Future<Integer> first = holder[0].await(IMMEDIATE);          // the next cycle
                noWait.set(holder[0].await(IMMEDIATE, 0, SECONDS));          // completes it: deferred
                first.cancel(false);                                        // the cycle loses a party
            }
        });
        invariants.check(holder[0]);
        holder[0].await(IMMEDIATE);
        assertThat(holder[0].await(IMMEDIATE).getNow()).isEqualTo(1);
        assertThat(noWait.get().cause()).isInstanceOf(WaitTimeoutException.class)
                .hasMessageContaining("no wait allowed");
        assertThat(holder[0].waiting()).isZero();
    }

    @Test
    void onceTrippedACancelBeforeTheListenerRanLoses() {
        ManualExecutor partyLoop = new ManualExecutor();
        AsyncBarrier barrier = new AsyncBarrier(2);
        invariants.check(barrier);
        Future<Integer> a = barrier.await(partyLoop);
        barrier.await(IMMEDIATE);
        assertThat(a.cancel(false)).isFalse();
        partyLoop.runPending();
        assertThat(a.getNow()).isZero();
    }

    @Test
    void theActionRunsExactlyOncePerTripBeforeAnyWaiterOfTheCycleCompletes() {
        List<String> log = new ArrayList<>();
        List<Future<Integer>> cycle = new ArrayList<>();
        AsyncBarrier barrier = new AsyncBarrier(3, () ->
                log.add("action, done=" + cycle.stream().filter(Future::isDone).count()));
        invariants.check(barrier);
        for (int round = 0; round < 2; round++) {
            cycle.clear();
            for (int i = 0; i < 3; i++) {
                cycle.add(barrier.await(IMMEDIATE));
                cycle.get(i).addListener(f -> log.add("party " + f.getNow()));
            }
        }
        assertThat(log).containsExactly(
                "action, done=0", "party 0", "party 1", "party 2",
                "action, done=0", "party 0", "party 1", "party 2");
    }

    @Test
    void aThrowingActionBreaksTheBarrierAndFailsTheWholeCycleWithTheCause() {
        IllegalStateException boom = new IllegalStateException("action failed");
        AtomicInteger runs = new AtomicInteger();
        AsyncBarrier barrier = new AsyncBarrier(2, () -> {
            if (runs.incrementAndGet() == 1) {
                throw boom;
            }
        });
        invariants.check(barrier);
        Future<Integer> a = barrier.await(IMMEDIATE);
        Future<Integer> b = barrier.await(IMMEDIATE);

        assertThat(a.cause()).isInstanceOf(BrokenBarrierException.class).hasCause(boom);
        assertThat(b.cause()).as("the last party too").isInstanceOf(BrokenBarrierException.class).hasCause(boom);
        assertThat(barrier.isBroken()).isTrue();
        assertThat(barrier.await(IMMEDIATE).cause()).isInstanceOf(BrokenBarrierException.class);
        assertThat(runs.get()).isEqualTo(1);

        barrier.reset();
        Future<Integer> c = barrier.await(IMMEDIATE);
        assertThat(barrier.await(IMMEDIATE).getNow()).isEqualTo(1);
        assertThat(c.getNow()).isZero();
        assertThat(runs.get()).isEqualTo(2);
    }

    @Test
    void aThrowingActionAlsoFailsWhoeverArrivedForTheNextCycleMeanwhile() {
        AtomicReference<Future<Integer>> early = new AtomicReference<>();
        AsyncBarrier[] holder = new AsyncBarrier[1];
        holder[0] = new AsyncBarrier(2, () -> {
            early.set(holder[0].await(IMMEDIATE));       // a party of the next cycle
            throw new IllegalStateException("boom");
        });
        invariants.check(holder[0]);
        holder[0].await(IMMEDIATE);
        holder[0].await(IMMEDIATE);
        assertThat(early.get().cause()).isInstanceOf(BrokenBarrierException.class);
        assertThat(holder[0].waiting()).isZero();
    }

    @Test
    void anAbortOrResetFromTheActionLeavesTheTrippedCycleAloneOnlyThrowingBreaksIt() {
        // CyclicBarrier fails the waiting parties of a cycle whose command calls reset(), and
        // asyncio's parties, resuming later, see an abort made meanwhile. Here the trip is
        // decided before the action runs (its parties were granted), so the action can break
        // the barrier for later cycles, not undo this one: to fail the cycle, it throws.
        AsyncBarrier[] holder = new AsyncBarrier[1];
        AtomicReference<Future<Integer>> next = new AtomicReference<>();
        holder[0] = new AsyncBarrier(2, () -> {
            next.set(holder[0].await(IMMEDIATE));        // a party of the next cycle
            holder[0].abort();
        });
        invariants.check(holder[0]);
        Future<Integer> a = holder[0].await(IMMEDIATE);
        Future<Integer> b = holder[0].await(IMMEDIATE);
        assertThat(a.getNow()).isZero();
        assertThat(b.getNow()).isEqualTo(1);
        assertThat(next.get().cause()).isInstanceOf(BrokenBarrierException.class);
        assertThat(holder[0].isBroken()).isTrue();
    }

    @Test
    void onePartyTripsOnEveryAwaitWithIndexZero() {
        AtomicInteger actions = new AtomicInteger();
        AsyncBarrier barrier = new AsyncBarrier(1, actions::incrementAndGet);
        invariants.check(barrier);
        for (int i = 0; i < 3; i++) {
            assertThat(barrier.await(IMMEDIATE).getNow()).isZero();
        }
        assertThat(actions.get()).isEqualTo(3);
        assertThat(barrier.waiting()).isZero();
    }

    @Test
    void badArguments() {
        assertThatThrownBy(() -> new AsyncBarrier(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("was 0");
        assertThatThrownBy(() -> new AsyncBarrier(-2, () -> { })).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("was -2");
        AsyncBarrier barrier = new AsyncBarrier(2);
        invariants.check(barrier);
        assertThatThrownBy(() -> barrier.await(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("executor");
        assertThatThrownBy(() -> barrier.await(IMMEDIATE, 1, null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("unit");
        assertThat(barrier.waiting()).isZero();
    }

    @Test
    void partiesOnSeveralLoopsEachCompleteOnTheirOwnExecutor() throws Exception {
        int parties = 4;
        EventLoop[] partyLoops = new EventLoop[parties];
        for (int i = 0; i < parties; i++) {
            partyLoops[i] = loops.newLoop();
        }
        AsyncBarrier barrier = new AsyncBarrier(parties);
        invariants.check(barrier);
        int cycles = 50;
        CountDownLatch done = new CountDownLatch(parties * cycles);
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Integer>[] perCycle = newQueues(cycles);
        for (EventLoop l : partyLoops) {
            l.execute(() -> arrive(barrier, l, 0, cycles, perCycle, problems, done));
        }
        assertThat(done.await(30, SECONDS)).isTrue();
        assertThat(problems).isEmpty();
        for (int c = 0; c < cycles; c++) {
            assertThat(perCycle[c]).as("cycle %d", c).containsExactlyInAnyOrder(0, 1, 2, 3);
        }
        assertThat(barrier.waiting()).isZero();
    }

    @SuppressWarnings("unchecked")
    private static ConcurrentLinkedQueue<Integer>[] newQueues(int n) {
        ConcurrentLinkedQueue<Integer>[] q = new ConcurrentLinkedQueue[n];
        for (int i = 0; i < n; i++) {
            q[i] = new ConcurrentLinkedQueue<>();
        }
        return q;
    }

    /** Each party goes round {@code cycles} times; it cannot run ahead, so cycle numbers align. */
    private static void arrive(AsyncBarrier barrier, EventLoop l, int cycle, int cycles,
                               ConcurrentLinkedQueue<Integer>[] perCycle, ConcurrentLinkedQueue<String> problems,
                               CountDownLatch done) {
        barrier.await(l).addListener(f -> {
            if (!l.inEventLoop() || !f.isSuccess()) {
                problems.add("cycle " + cycle + ": on " + Thread.currentThread() + ", " + f.cause());
            } else {
                perCycle[cycle].add((Integer) f.getNow());
            }
            done.countDown();
            if (cycle + 1 < cycles) {
                arrive(barrier, l, cycle + 1, cycles, perCycle, problems, done);
            }
        });
    }

    @Test
    void actionsOfSuccessiveCyclesNeverOverlapEvenWhenAnActionCompletesTheNextCycle() {
        List<String> log = new ArrayList<>();
        AtomicReference<AsyncBarrier> ref = new AtomicReference<>();
        List<Future<Integer>> nextCycle = new ArrayList<>();
        AtomicInteger trips = new AtomicInteger();
        AsyncBarrier barrier = new AsyncBarrier(2, () -> {
            int k = trips.incrementAndGet();
            log.add("start " + k);
            if (k == 1) {               // the whole next cycle arrives from inside this action
                nextCycle.add(ref.get().await(IMMEDIATE));
                nextCycle.add(ref.get().await(IMMEDIATE));
                log.add("cycle 2 complete: " + nextCycle.get(1).isDone());
            }
            log.add("end " + k);
        });
        invariants.check(barrier);
        ref.set(barrier);
        Future<Integer> a = barrier.await(IMMEDIATE);
        Future<Integer> b = barrier.await(IMMEDIATE);

        assertThat(log).containsExactly("start 1", "cycle 2 complete: false", "end 1", "start 2", "end 2");
        assertThat(a.getNow()).isZero();
        assertThat(b.getNow()).isEqualTo(1);
        assertThat(nextCycle).extracting(Future::getNow).containsExactly(0, 1);
        assertThat(barrier.waiting()).isZero();
    }

    @Test
    void actionsNeverRunConcurrentlyWhenPartiesArriveFromManyThreads() throws Exception {
        int parties = 2;
        int cycles = 20_000;
        AtomicInteger inAction = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        AtomicInteger actions = new AtomicInteger();
        AsyncBarrier barrier = new AsyncBarrier(parties, () -> {
            if (inAction.incrementAndGet() > 1) {
                overlaps.incrementAndGet();
            }
            actions.incrementAndGet();
            Thread.onSpinWait();
            inAction.decrementAndGet();
        });
        invariants.check(barrier);
        List<Thread> threads = new ArrayList<>();
        List<Future<Integer>> all = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread th = new Thread(() -> {
                List<Future<Integer>> mine = new ArrayList<>();
                for (int i = 0; i < cycles * parties / 4; i++) {
                    mine.add(barrier.await(IMMEDIATE));
                }
                all.addAll(mine);
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join();
        }
        assertThat(overlaps.get()).isZero();
        assertThat(actions.get()).isEqualTo(cycles);
        assertThat(all).allMatch(Future::isSuccess);
        assertThat(barrier.waiting()).isZero();
    }

    @Test
    void statisticsSayPartiesWaitingAndBroken() {
        AsyncBarrier barrier = new AsyncBarrier(3);
        invariants.check(barrier);
        barrier.await(IMMEDIATE);
        assertThat(barrier.statistics()).isEqualTo(new AsyncBarrier.Statistics(3, 1, false));
        barrier.abort();
        assertThat(barrier.statistics()).isEqualTo(new AsyncBarrier.Statistics(3, 0, true));
    }
}
