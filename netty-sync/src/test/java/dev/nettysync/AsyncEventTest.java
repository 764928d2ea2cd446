package dev.nettysync;

import dev.nettysync.testing.ManualExecutor;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Scenario tests for {@link AsyncEvent}; harness in {@link ScenarioTest}.
 */
class AsyncEventTest extends ScenarioTest {
    @Test
    void aWaiterWhoseExecutorShutDownWhileWaitingIsStillWokenAndHindersNobody() {
        // A set has nothing to take back: the dead waiter's future tells the truth (the event was
        // set), though no listener of it can run, and every other waiter is woken as usual.
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        AsyncEvent event = invariants.check(new AsyncEvent());
        Future<Void> dead = event.await(dying);
        Future<Void> alive = event.await(IMMEDIATE);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        event.set();
        assertThat(dead.isSuccess()).isTrue();
        assertThat(alive.isSuccess()).isTrue();
        assertThat(event.queueLength()).isZero();
    }

    @Test
    void aTimedWaiterWhoseExecutorShutsDownWhileWaitingLeavesAtOnce() {
        // Its timeout was cancelled with its executor: it would otherwise stay until a set().
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        AsyncEvent event = invariants.check(new AsyncEvent());
        Future<Void> dead = event.await(dying, 1, java.util.concurrent.TimeUnit.HOURS);
        Future<Void> alive = event.await(IMMEDIATE);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        assertThat(dead.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down").hasMessageContaining("AsyncEvent");
        assertThat(event.queueLength()).isEqualTo(1);
        event.set();
        assertThat(alive.isSuccess()).isTrue();
        assertThat(event.queueLength()).isZero();
    }

    @Test
    void aNewEventIsNotSetAndItsWaitersQueue() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        assertThat(event.isSet()).isFalse();
        Future<Void> f = event.await(IMMEDIATE);
        assertThat(f.isDone()).isFalse();
        assertThat(event.queueLength()).isEqualTo(1);
        assertThat(event.toString()).contains("not set", "waiters=1");
    }

    @Test
    void setWakesEveryCurrentWaiterInQueueOrder() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        List<String> woken = new ArrayList<>();
        for (String name : List.of("a", "b", "c")) {
            event.await(IMMEDIATE).addListener(f -> woken.add(name + (f.isSuccess() ? "" : " failed")));
        }
        assertThat(woken).isEmpty();

        event.set();

        assertThat(woken).containsExactly("a", "b", "c");
        assertThat(event.isSet()).isTrue();
        assertThat(event.queueLength()).isZero();
    }

    @Test
    void aWaiterOnASetEventCompletesAtOnceAndSettingTwiceDoesNothing() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        event.set();
        Future<Void> f = event.await(IMMEDIATE);
        assertThat(f.isSuccess()).isTrue();
        assertThat(event.await(IMMEDIATE, 0, SECONDS).isSuccess()).as("even with no wait allowed").isTrue();
        event.set();
        assertThat(event.isSet()).isTrue();
        assertThat(event.queueLength()).isZero();
    }

    @Test
    void clearLowersTheFlagSoLaterWaitersQueueUntilTheNextSet() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        event.set();
        event.clear();
        assertThat(event.isSet()).isFalse();
        Future<Void> f = event.await(IMMEDIATE);
        assertThat(f.isDone()).isFalse();
        event.clear();                               // clearing a clear event changes nothing
        assertThat(f.isDone()).isFalse();
        event.set();
        assertThat(f.isSuccess()).isTrue();
    }

    @Test
    void aWaiterWokenBySetStillSucceedsIfClearComesBeforeItsListenerRuns() {
        // CPython test_clear_with_waiters: waking is decided by set(), not by the listener.
        ManualExecutor waiterLoop = new ManualExecutor();
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        Future<Void> first = event.await(waiterLoop);
        Future<Void> second = event.await(waiterLoop);
        AtomicReference<Boolean> setSeenByListener = new AtomicReference<>();
        first.addListener(f -> setSeenByListener.set(event.isSet()));
        waiterLoop.runPending();

        event.set();
        event.clear();
        Future<Void> late = event.await(waiterLoop);
        assertThat(setSeenByListener.get()).as("the listener has not run yet").isNull();

        waiterLoop.runPending();

        assertThat(first.isSuccess()).isTrue();
        assertThat(second.isSuccess()).isTrue();
        assertThat(setSeenByListener.get()).as("it ran after the clear, and still succeeded").isFalse();
        assertThat(late.isDone()).as("a waiter that came after the clear waits for the next set").isFalse();
        assertThat(event.queueLength()).isEqualTo(1);
    }

    @Test
    void aTimedWaitFailsWithWaitTimeoutExceptionAndLeavesTheQueue() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        Future<Void> timed = event.await(ch.eventLoop(), 100, MILLISECONDS);
        Future<Void> patient = event.await(ch.eventLoop());

        ch.advanceTimeBy(99, MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(timed.isDone()).isFalse();
        ch.advanceTimeBy(1, MILLISECONDS);
        ch.runScheduledPendingTasks();

        assertThat(timed.cause()).isInstanceOf(WaitTimeoutException.class)
                .hasMessageContaining("100 ms").hasMessageContaining("AsyncEvent");
        assertThat(event.queueLength()).isEqualTo(1);
        event.set();
        assertThat(patient.isSuccess()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimedWaitThatIsSetInTimeSucceedsAndItsTimerIsCancelled() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        Future<Void> timed = event.await(ch.eventLoop(), 100, MILLISECONDS);
        assertThat(ch.runScheduledPendingTasks()).as("nanos to the timer").isPositive();
        event.set();
        assertThat(timed.isSuccess()).isTrue();
        assertThat(ch.runScheduledPendingTasks()).as("no timer left").isEqualTo(-1);
        ch.finishAndReleaseAll();
    }

    @Test
    void aZeroTimeoutSucceedsOnlyIfTheEventIsSetNow() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        assertThat(event.await(IMMEDIATE, 0, SECONDS).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(event.await(IMMEDIATE, -5, SECONDS).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(event.queueLength()).isZero();
    }

    @Test
    void aTimedWaitOnAnExecutorThatCannotScheduleFailsAndLeavesTheQueue() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        Future<Void> f = event.await(IMMEDIATE, 1, SECONDS);
        assertThat(f.cause()).isInstanceOf(UnsupportedOperationException.class);
        assertThat(event.queueLength()).isZero();
    }

    @Test
    void cancellingAWaiterRemovesItAtOnceAndAffectsNoOtherWaiter() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        Future<Void> a = event.await(IMMEDIATE);
        Future<Void> b = event.await(IMMEDIATE);
        Future<Void> c = event.await(IMMEDIATE);
        AtomicInteger queueSeenByListener = new AtomicInteger(-1);
        b.addListener(f -> queueSeenByListener.set(event.queueLength()));

        assertThat(b.cancel(false)).isTrue();

        assertThat(b.isCancelled()).isTrue();
        assertThat(event.queueLength()).isEqualTo(2);
        assertThat(queueSeenByListener.get()).as("listeners already see it gone").isEqualTo(2);
        assertThat(b.cancel(false)).as("a second cancel does nothing").isFalse();
        event.set();
        assertThat(a.isSuccess()).isTrue();
        assertThat(c.isSuccess()).isTrue();
    }

    @Test
    void onceSetHasWokenAWaiterACancelBeforeItsListenerRanLoses() {
        ManualExecutor waiterLoop = new ManualExecutor();
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        Future<Void> f = event.await(waiterLoop);
        event.set();
        assertThat(f.cancel(false)).isFalse();
        waiterLoop.runPending();
        assertThat(f.isSuccess()).isTrue();
    }

    @Test
    void cancellingIsConstantTimeInTheQueueLength() {
        // 200,000 waiters cancelled from the middle outwards: O(n) each would take minutes.
        int n = 200_000;
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        List<Future<Void>> all = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            all.add(event.await(IMMEDIATE));
        }
        long start = System.nanoTime();
        for (int i = 0; i < n / 2; i++) {
            all.get(n / 2 + i).cancel(false);
            all.get(n / 2 - 1 - i).cancel(false);
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertThat(event.queueLength()).isZero();
        assertThat(millis).as("cancelling %d waiters took %d ms", n, millis).isLessThan(10_000);
    }

    @Test
    void aListenerWokenBySetMayClearAndWaitAgainWithoutBeingWokenBySameSet() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        AtomicReference<Future<Void>> again = new AtomicReference<>();
        Future<Void> other = event.await(IMMEDIATE);
        event.await(IMMEDIATE).addListener(f -> {
            event.clear();
            again.set(event.await(IMMEDIATE));
        });
        Future<Void> third = event.await(IMMEDIATE);
        event.set();
        assertThat(other.isSuccess()).isTrue();
        assertThat(third.isSuccess()).as("queued before the set: woken though cleared meanwhile").isTrue();
        assertThat(again.get().isDone()).isFalse();
        event.set();
        assertThat(again.get().isSuccess()).isTrue();
    }

    @Test
    void badArguments() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        assertThatThrownBy(() -> event.await(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("executor");
        assertThatThrownBy(() -> event.await(IMMEDIATE, 1, null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("unit");
        assertThat(event.queueLength()).isZero();
    }

    // ------------------------------------------------------------ executors and depth

    @Test
    void aHundredThousandWaitersOnOneSmallStackLoopAreWokenByOneSetWithoutOverflow() throws Exception {
        int n = 100_000;
        ThreadFactory smallStack = r -> new FastThreadLocalThread(null, r, "small-stack-loop", 256 * 1024);
        EventLoop loop = loops.newLoop(smallStack);
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        AtomicInteger woken = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(1);
        loop.submit(() -> {
            for (int i = 0; i < n; i++) {
                event.await(loop).addListener(f -> {
                    if (f.isSuccess() && woken.incrementAndGet() == n) {
                        all.countDown();
                    }
                });
            }
            event.set();       // completes every waiter inline, on the loop that owns them
        }).syncUninterruptibly();
        assertThat(all.await(60, SECONDS)).as("woken %d of %d", woken.get(), n).isTrue();
        assertThat(event.queueLength()).isZero();
    }

    @Test
    void aHundredThousandWaitersEachWaitingAgainInItsListenerDoNotOverflow() throws Exception {
        // Each woken listener clears and waits again: the new waiters must not be served by the
        // set that is running, else this would recurse through 100,000 listeners.
        int n = 100_000;
        ThreadFactory smallStack = r -> new FastThreadLocalThread(null, r, "small-stack-loop", 256 * 1024);
        EventLoop loop = loops.newLoop(smallStack);
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        AtomicInteger rewaited = new AtomicInteger();
        loop.submit(() -> {
            for (int i = 0; i < n; i++) {
                event.await(loop).addListener(f -> {
                    event.clear();
                    event.await(loop);
                    rewaited.incrementAndGet();
                });
            }
            event.set();
        }).syncUninterruptibly();
        loop.submit(() -> { }).syncUninterruptibly();
        assertThat(rewaited.get()).isEqualTo(n);
        assertThat(event.queueLength()).isEqualTo(n);
    }

    @Test
    void waitersOnSeveralLoopsEachCompleteOnTheirOwnExecutor() throws Exception {
        EventLoop[] waiterLoops = {loops.newLoop(null), loops.newLoop(null), loops.newLoop(null)};
        EventLoop setter = loops.newLoop(null);
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        int perLoop = 100;
        CountDownLatch done = new CountDownLatch(waiterLoops.length * perLoop);
        AtomicInteger wrongThread = new AtomicInteger();
        for (EventLoop l : waiterLoops) {
            l.submit(() -> {
                for (int i = 0; i < perLoop; i++) {
                    event.await(l).addListener(f -> {
                        if (!l.inEventLoop() || !f.isSuccess()) {
                            wrongThread.incrementAndGet();
                        }
                        done.countDown();
                    });
                }
            }).syncUninterruptibly();
        }
        assertThat(event.queueLength()).isEqualTo(waiterLoops.length * perLoop);
        setter.execute(event::set);
        assertThat(done.await(10, SECONDS)).isTrue();
        assertThat(wrongThread.get()).as("listeners on a foreign thread or failed").isZero();
    }

    @Test
    void statisticsSayWhetherItIsSetAndWhoWaits() {
        AsyncEvent event = new AsyncEvent();
        invariants.check(event);
        event.await(IMMEDIATE);
        event.await(IMMEDIATE);
        assertThat(event.statistics()).isEqualTo(new AsyncEvent.Statistics(false, 2));
        event.set();
        assertThat(event.statistics()).isEqualTo(new AsyncEvent.Statistics(true, 0));
    }
}
