package dev.nettysync;

import dev.nettysync.testing.FullQueueExecutor;
import dev.nettysync.testing.ManualExecutor;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Scenario tests: each reads as the story it checks. Most run on {@link ImmediateEventExecutor}
 * (listeners run inline, so order is exact) or {@link ManualExecutor} (listeners run when the test
 * says), timeouts on an {@link EmbeddedChannel}'s loop with its own clock, and the executor and
 * threading checks on real {@link DefaultEventLoop}s.
 */
class AsyncSemaphoreTest extends ScenarioTest {
    private AsyncSemaphore semaphore(int permits) {
        return invariants.check(new AsyncSemaphore(permits));
    }

    // ------------------------------------------------------------ basics

    @Test
    void tryAcquireTakesAvailablePermitsAndReleaseReturnsThem() {
        AsyncSemaphore sem = semaphore(2);
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.tryAcquire()).isFalse();
        assertThat(sem.availablePermits()).isZero();
        sem.release(2);
        assertThat(sem.availablePermits()).isEqualTo(2);
        assertThat(sem.tryAcquire(3)).isFalse();
        assertThat(sem.tryAcquire(2)).isTrue();
    }

    @Test
    void acquireWithAPermitAvailableCompletesAtOnce() {
        AsyncSemaphore sem = semaphore(1);
        Future<Void> f = sem.acquire(IMMEDIATE);
        assertThat(f.isSuccess()).isTrue();
        assertThat(sem.availablePermits()).isZero();
        assertThat(sem.queueLength()).isZero();
    }

    @Test
    void anAcquireThatNeedsNoWaitAllocatesNoFutureAndItsListenersRunOnTheNamedExecutor() throws Exception {
        EventLoop loop = loops.newLoop();
        AsyncSemaphore sem = semaphore(2);
        Future<Void> first = sem.acquire(loop);
        Future<Void> second = sem.acquire(loop);
        assertThat(first).as("one shared succeeded future per executor").isSameAs(second);
        assertThat(sem.acquire(IMMEDIATE, 0, SECONDS).isSuccess()).isFalse();
        sem.release(2);
        assertThat(loop.inEventLoop(listenerThread(sem.acquire(loop)))).isTrue();
    }

    @Test
    void eachExecutorGetsItsOwnSharedSucceededFuture() throws Exception {
        // One shared succeeded future per executor (internal.SucceededFutures), also after
        // another executor shut down. The cache (internal.ExecutorCache) is shared by every
        // executor the test JVM makes, and three of them may compete for the same two slots:
        // only back-to-back acquires for one executor are sure to share (ExecutorCacheTest
        // checks that two executors with the same first slot keep their own).
        AsyncSemaphore sem = semaphore(8);
        EventLoop first = loops.newLoop();
        EventLoop second = loops.newLoop();
        Future<Void> a = sem.acquire(first);
        assertThat(sem.acquire(first)).isSameAs(a);
        Future<Void> b = sem.acquire(second);
        assertThat(sem.acquire(second)).isSameAs(b);
        assertThat(a).isNotSameAs(b);
        assertThat(listenerThread(a)).matches(first::inEventLoop);
        assertThat(listenerThread(b)).matches(second::inEventLoop);
        first.shutdownGracefully(0, 0, SECONDS).sync();
        EventLoop third = loops.newLoop();
        Future<Void> c = sem.acquire(third);
        assertThat(sem.acquire(third)).isSameAs(c);
        assertThat(listenerThread(c)).matches(third::inEventLoop);
        Future<Void> d = sem.acquire(second);
        assertThat(listenerThread(d)).matches(second::inEventLoop);
        sem.release(7);
        assertThat(sem.availablePermits()).isEqualTo(8);
    }

    private static Thread listenerThread(Future<Void> f) throws InterruptedException {
        AtomicReference<Thread> ran = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        f.addListener(x -> {
            ran.set(Thread.currentThread());
            done.countDown();
        });
        assertThat(done.await(10, SECONDS)).isTrue();
        return ran.get();
    }

    @Test
    void aWaitCompletedBehindTheSemaphoresBackHoldsNothingAndBlocksNobody() {
        // A caller who casts the returned future to Promise and completes it: the wait left
        // with nothing, even as the head of the queue asking for more than is free.
        AsyncSemaphore sem = semaphore(1);
        assertThat(sem.tryAcquire()).isTrue();
        Future<Void> forgedPair = sem.acquire(IMMEDIATE, 2);
        Future<Void> behind = sem.acquire(IMMEDIATE);
        assertThat(((io.netty.util.concurrent.Promise<Void>) forgedPair).tryFailure(new IllegalStateException("forged")))
                .isTrue();
        sem.release();
        assertThat(behind.isSuccess()).as("the free permit goes past the dead head").isTrue();
        assertThat(sem.queueLength()).isZero();
        sem.release();
        assertThat(sem.availablePermits()).as("nothing held by the forged wait").isEqualTo(1);
        assertThat(sem.brokenInvariant()).isNull();
    }

    @Test
    void badArgumentsAreRefusedWithAMessageNamingTheValue() {
        assertThatThrownBy(() -> new AsyncSemaphore(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
        assertThatThrownBy(() -> new AsyncSemaphore(1, -2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxPending").hasMessageContaining("-2");
        AsyncSemaphore sem = semaphore(1);
        assertThatThrownBy(() -> sem.acquire(IMMEDIATE, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("was 0");
        assertThatThrownBy(() -> sem.release(-3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-3");
        assertThatThrownBy(() -> sem.acquire(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("executor");
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(new AsyncSemaphore(1, 0).maxPending()).as("as given, 0 included").isZero();
        assertThat(new AsyncSemaphore(1, 7).maxPending()).isEqualTo(7);
        assertThat(new AsyncSemaphore(1).maxPending()).as("unbounded by default").isEqualTo(Integer.MAX_VALUE);
    }

    // ------------------------------------------------------------ FIFO

    @Test
    void threeWaitersAreWokenOnePerReleaseInFifoOrder() {
        AsyncSemaphore sem = semaphore(0);
        List<String> order = new ArrayList<>();
        for (String name : List.of("a", "b", "c")) {
            sem.acquire(IMMEDIATE).addListener(f -> order.add(name));
        }
        assertThat(sem.queueLength()).isEqualTo(3);

        sem.release();
        assertThat(order).containsExactly("a");
        sem.release();
        assertThat(order).containsExactly("a", "b");
        sem.release();
        assertThat(order).containsExactly("a", "b", "c");
        assertThat(sem.queueLength()).isZero();
        assertThat(sem.availablePermits()).isZero();
    }

    @Test
    void aReleaseHandsThePermitToTheHeadWaiterSoANewcomerCannotBarge() {
        AsyncSemaphore sem = semaphore(0);
        Future<Void> waiter = sem.acquire(IMMEDIATE);
        sem.release();
        assertThat(waiter.isSuccess()).isTrue();
        assertThat(sem.tryAcquire()).as("the released permit went to the waiter, not to us").isFalse();
    }

    @Test
    void whileAnyoneIsQueuedTryAcquireFailsEvenWithPermitsAvailable() {
        AsyncSemaphore sem = semaphore(1);
        Future<Void> big = sem.acquire(IMMEDIATE, 3);
        assertThat(big.isDone()).isFalse();
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(sem.tryAcquire()).as("FIFO: the queued 3-permit request goes first").isFalse();
        Future<Void> small = sem.acquire(IMMEDIATE);
        assertThat(small.isDone()).as("a later small request queues behind").isFalse();

        sem.release(2);
        assertThat(big.isSuccess()).isTrue();
        assertThat(small.isDone()).isFalse();
        sem.release();
        assertThat(small.isSuccess()).isTrue();
    }

    @Test
    void aMultiPermitHeadWaiterIsNotStarvedByLaterSmallRequests() {
        AsyncSemaphore sem = semaphore(0);
        Future<Void> big = sem.acquire(IMMEDIATE, 2);
        List<Future<Void>> small = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            small.add(sem.acquire(IMMEDIATE));
        }
        sem.release();
        assertThat(big.isDone()).isFalse();
        assertThat(small).noneMatch(Future::isDone);
        sem.release();
        assertThat(big.isSuccess()).isTrue();
        assertThat(small).noneMatch(Future::isDone);
    }

    @Test
    void oneReleaseOfSeveralPermitsServesAsManyWaitersAsItCan() {
        AsyncSemaphore sem = semaphore(0);
        Future<Void> a = sem.acquire(IMMEDIATE);
        Future<Void> b = sem.acquire(IMMEDIATE, 2);
        Future<Void> c = sem.acquire(IMMEDIATE);
        sem.release(3);
        assertThat(a.isSuccess()).isTrue();
        assertThat(b.isSuccess()).isTrue();
        assertThat(c.isDone()).isFalse();
        assertThat(sem.availablePermits()).isZero();
    }

    // ------------------------------------------------------------ cancellation

    @Test
    void cancellingAQueuedWaiterRemovesItAtOnce() {
        AsyncSemaphore sem = semaphore(0);
        Future<Void> a = sem.acquire(IMMEDIATE);
        Future<Void> b = sem.acquire(IMMEDIATE);
        AtomicInteger queueSeenByListener = new AtomicInteger(-1);
        a.addListener(f -> queueSeenByListener.set(sem.queueLength()));

        assertThat(a.cancel(false)).isTrue();
        assertThat(a.isCancelled()).isTrue();
        assertThat(sem.queueLength()).isEqualTo(1);
        assertThat(queueSeenByListener.get()).as("listeners already see the waiter gone").isEqualTo(1);
        sem.release();
        assertThat(b.isSuccess()).isTrue();
    }

    @Test
    void aWaiterCancelledInTheSameTickAsTheReleaseLetsTheNextWaiterHaveIt() {
        // CPython test_locks: cancel and release in one event-loop tick, before anything else runs.
        EventLoop loop = loops.newLoop();
        AsyncSemaphore sem = semaphore(0);
        List<Future<Void>> waiters = loop.submit(() -> List.of(sem.acquire(loop), sem.acquire(loop)))
                .syncUninterruptibly().getNow();
        loop.submit(() -> {
            waiters.get(0).cancel(false);
            sem.release();
        }).syncUninterruptibly();
        assertThat(waiters.get(0).isCancelled()).isTrue();
        assertThat(waiters.get(1).isSuccess()).isTrue();
        assertThat(sem.availablePermits()).isZero();
    }

    @Test
    void onceGrantedAWaiterCannotBeCancelledEvenBeforeItsCompletionRan() {
        // release(2) grants a and b under the lock, then completes them in order. a's listener
        // tries to cancel b in that window: the grant is final, so the cancel loses and b holds.
        AsyncSemaphore sem = semaphore(0);
        Future<Void> a = sem.acquire(IMMEDIATE);
        Future<Void> b = sem.acquire(IMMEDIATE);
        Future<Void> c = sem.acquire(IMMEDIATE);
        AtomicReference<Boolean> cancelResult = new AtomicReference<>();
        AtomicReference<Boolean> bDoneWhenCancelled = new AtomicReference<>();
        a.addListener(f -> {
            bDoneWhenCancelled.set(b.isDone());
            cancelResult.set(b.cancel(false));
        });

        sem.release(2);

        assertThat(bDoneWhenCancelled.get()).as("b's completion had not run yet").isFalse();
        assertThat(cancelResult.get()).isFalse();
        assertThat(b.isSuccess()).isTrue();
        assertThat(c.isDone()).isFalse();
        assertThat(sem.availablePermits()).isZero();
        assertThat(sem.queueLength()).isEqualTo(1);
    }

    @Test
    void aCancelThatLosesToTheGrantLeavesTheCallerHoldingThePermit() {
        // The waiter's listener runs on its own executor, later. Cancelling between the grant and
        // that listener returns false: the future succeeded and the caller must release.
        ManualExecutor waiterLoop = new ManualExecutor();
        AsyncSemaphore sem = semaphore(0);
        Future<Void> a = sem.acquire(waiterLoop);
        Future<Void> b = sem.acquire(waiterLoop);
        sem.release();
        assertThat(a.cancel(false)).isFalse();
        assertThat(a.isSuccess()).isTrue();
        assertThat(b.isDone()).isFalse();
        sem.release();   // the holder of a's permit gives it back
        assertThat(b.isSuccess()).isTrue();
    }

    @Test
    void cancelTwoOfFourWaitersThenReleaseOnceAndExactlyTheThirdRuns() {
        AsyncSemaphore sem = semaphore(0);
        List<Future<Void>> w = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            w.add(sem.acquire(IMMEDIATE));
        }
        w.get(0).cancel(false);
        w.get(1).cancel(false);
        sem.release();
        assertThat(w.get(2).isSuccess()).isTrue();
        assertThat(w.get(3).isDone()).isFalse();
        assertThat(sem.queueLength()).isEqualTo(1);
        assertThat(sem.availablePermits()).isZero();
    }

    @Test
    void cancellingAPartlyFilledMultiPermitWaiterReturnsItsPermits() {
        // tokio cancel_acquire_releases_permits
        AsyncSemaphore sem = semaphore(5);
        Future<Void> big = sem.acquire(IMMEDIATE, 6);
        assertThat(big.isDone()).isFalse();
        Future<Void> small = sem.acquire(IMMEDIATE, 3);
        assertThat(small.isDone()).isFalse();

        big.cancel(false);

        assertThat(small.isSuccess()).as("the 5 reserved permits serve the next waiter").isTrue();
        assertThat(sem.availablePermits()).isEqualTo(2);
        assertThat(sem.tryAcquire(2)).isTrue();
    }

    @Test
    void releaseRacingCancellationOnAnotherThreadLeavesExactlyTheRightCount() throws Exception {
        for (int run = 0; run < 2_000; run++) {
            AsyncSemaphore sem = semaphore(0);
            Future<Void> a = sem.acquire(IMMEDIATE);
            CyclicBarrier start = new CyclicBarrier(2);
            Thread releaser = new Thread(() -> {
                await(start);
                sem.release();
            });
            releaser.start();
            await(start);
            boolean cancelled = a.cancel(false);
            releaser.join();

            assertThat(cancelled).as("run %d: cancel wins or the grant does, never both", run)
                    .isEqualTo(a.isCancelled()).isNotEqualTo(a.isSuccess());
            int expected = cancelled ? 1 : 0;
            assertThat(sem.availablePermits()).as("run %d / 2000", run).isEqualTo(expected);
            assertThat(sem.queueLength()).isZero();
        }
    }

    // ------------------------------------------------------------ timeouts

    @Test
    void aTimedOutWaiterFailsWithWaitTimeoutExceptionAndLeavesTheQueue() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncSemaphore sem = semaphore(0);
        Future<Void> a = sem.acquire(ch.eventLoop(), 100, MILLISECONDS);
        Future<Void> b = sem.acquire(ch.eventLoop());
        ch.advanceTimeBy(99, MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(a.isDone()).isFalse();

        ch.advanceTimeBy(1, MILLISECONDS);
        ch.runScheduledPendingTasks();

        assertThat(a.cause()).isInstanceOf(WaitTimeoutException.class)
                .isInstanceOf(java.util.concurrent.TimeoutException.class)
                .hasMessageContaining("100 ms").hasMessageContaining("1 permit(s)");
        assertThat(sem.queueLength()).isEqualTo(1);
        sem.release();
        assertThat(b.isSuccess()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void aGrantBeforeTheTimerFiresWinsAndCancelsTheTimer() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncSemaphore sem = semaphore(0);
        Future<Void> a = sem.acquire(ch.eventLoop(), 100, MILLISECONDS);
        sem.release();
        assertThat(a.isSuccess()).isTrue();
        assertThat(ch.runScheduledPendingTasks()).as("the timer was cancelled: nothing scheduled").isEqualTo(-1);
        ch.advanceTimeBy(1, SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(a.isSuccess()).isTrue();
        assertThat(sem.availablePermits()).as("the holder has it").isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimeoutOfTheMultiPermitHeadPassesTheReservedPermitsOn() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncSemaphore sem = semaphore(1);
        Future<Void> big = sem.acquire(ch.eventLoop(), 2, 10, MILLISECONDS);
        Future<Void> small = sem.acquire(ch.eventLoop());
        ch.advanceTimeBy(10, MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(big.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(small.isSuccess()).isTrue();
        assertThat(sem.availablePermits()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimeoutIsFinalOnceDecidedSoACancelInTheWindowReturnsFalse() {
        // The timer unlinks and claims `big` under the lock, serves `small` with the permit big
        // had reserved, and only then fails big. small's listener runs in that window and tries
        // to cancel big: the timeout is already decided, so cancel returns false and big ends
        // timed out ("cancel returned true" always means "it was still queued").
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncSemaphore sem = semaphore(1);
        Future<Void> big = sem.acquire(ch.eventLoop(), 2, 10, MILLISECONDS);
        Future<Void> small = sem.acquire(ch.eventLoop());
        AtomicReference<Boolean> bigDoneInWindow = new AtomicReference<>();
        AtomicReference<Boolean> cancelInWindow = new AtomicReference<>();
        small.addListener(f -> {
            bigDoneInWindow.set(big.isDone());
            cancelInWindow.set(big.cancel(false));
        });
        ch.advanceTimeBy(10, MILLISECONDS);
        ch.runScheduledPendingTasks();

        assertThat(small.isSuccess()).isTrue();
        assertThat(bigDoneInWindow.get()).as("small ran inside big's timeout, before big failed").isFalse();
        assertThat(cancelInWindow.get()).isFalse();
        assertThat(big.cause()).isInstanceOf(WaitTimeoutException.class);
        ch.finishAndReleaseAll();
    }

    @Test
    void aZeroTimeoutSucceedsOnlyIfAPermitIsThereNow() {
        AsyncSemaphore sem = semaphore(1);
        assertThat(sem.acquire(IMMEDIATE, 0, SECONDS).isSuccess()).isTrue();
        Future<Void> f = sem.acquire(IMMEDIATE, 0, SECONDS);
        assertThat(f.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(sem.queueLength()).isZero();
    }

    @Test
    void timeoutRacingGrantOnRealLoopsNeverLosesOrDuplicatesAPermit() throws Exception {
        EventLoop waiterLoop = loops.newLoop();
        EventLoop releaserLoop = loops.newLoop();
        AsyncSemaphore sem = semaphore(0);
        int runs = 2_000;
        AtomicInteger granted = new AtomicInteger();
        AtomicInteger timedOut = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(runs);
        for (int i = 0; i < runs; i++) {
            Future<Void> f = sem.acquire(waiterLoop, 200, TimeUnit.MICROSECONDS);
            f.addListener(x -> {
                if (x.isSuccess()) {
                    granted.incrementAndGet();
                    sem.release();          // give it straight back
                } else {
                    assertThat(x.cause()).isInstanceOf(WaitTimeoutException.class);
                    timedOut.incrementAndGet();
                }
                done.countDown();
            });
            releaserLoop.schedule(() -> {
                if (sem.availablePermits() == 0) {
                    sem.release();
                }
            }, 200, TimeUnit.MICROSECONDS).syncUninterruptibly();
            f.awaitUninterruptibly();
            // quiesce, then take back whatever the releaser put in, so each run starts from zero
            waiterLoop.submit(() -> { }).syncUninterruptibly();
            while (sem.tryAcquire()) {
                // drain
            }
        }
        assertThat(done.await(30, SECONDS)).isTrue();
        assertThat(granted.get() + timedOut.get()).isEqualTo(runs);
        assertThat(sem.queueLength()).isZero();
        assertThat(sem.availablePermits()).isZero();
    }

    // ------------------------------------------------------------ maxPending, close

    @Test
    void beyondMaxPendingAcquireFailsFastAndQueuesNothing() {
        AsyncSemaphore sem = new AsyncSemaphore(0, 2);
        invariants.check(sem);
        Future<Void> a = sem.acquire(IMMEDIATE);
        Future<Void> b = sem.acquire(IMMEDIATE);
        Future<Void> c = sem.acquire(IMMEDIATE);
        assertThat(a.isDone()).isFalse();
        assertThat(b.isDone()).isFalse();
        assertThat(c.cause()).isInstanceOf(QueueFullException.class).hasMessageContaining("maximum of 2");
        assertThat(sem.queueLength()).isEqualTo(2);
        a.cancel(false);
        assertThat(sem.acquire(IMMEDIATE).isDone()).as("room again after a cancel").isFalse();
    }

    @Test
    void maxPendingZeroMeansNeverWait() {
        AsyncSemaphore sem = new AsyncSemaphore(1, 0);
        invariants.check(sem);
        assertThat(sem.acquire(IMMEDIATE).isSuccess()).isTrue();
        assertThat(sem.acquire(IMMEDIATE).cause()).isInstanceOf(QueueFullException.class);
    }

    @Test
    void closeFailsEveryWaiterAndEveryLaterAcquireButLetsHoldersRelease() {
        // (b's timer: checked with runScheduledPendingTasks() == -1, since hasPendingTasks()
        // only counts timers that are already due and would pass either way)
        EmbeddedChannel ch = new EmbeddedChannel();
        AsyncSemaphore sem = semaphore(1);
        assertThat(sem.tryAcquire()).isTrue();
        Future<Void> a = sem.acquire(IMMEDIATE);
        Future<Void> b = sem.acquire(ch.eventLoop(), 10, SECONDS);
        IllegalStateException why = new IllegalStateException("shutting down");

        sem.close(why);

        assertThat(a.cause()).isInstanceOf(ClosedException.class).hasCause(why);
        assertThat(b.cause()).isInstanceOf(ClosedException.class);
        assertThat(sem.queueLength()).isZero();
        assertThat(sem.isClosed()).isTrue();
        assertThat(sem.acquire(IMMEDIATE).cause()).isInstanceOf(ClosedException.class).hasCause(why);
        assertThat(sem.tryAcquire()).isFalse();
        sem.release();   // harmless
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(sem.tryAcquire()).as("still closed").isFalse();
        sem.close();     // idempotent
        assertThat(ch.runScheduledPendingTasks()).as("b's timer was cancelled: nothing scheduled").isEqualTo(-1);
    }

    @Test
    void aTimedWaitOnAnExecutorThatCannotScheduleFailsAndLeavesTheQueue() {
        AsyncSemaphore sem = semaphore(0);
        Future<Void> f = sem.acquire(IMMEDIATE, 1, SECONDS);
        assertThat(f.cause()).isInstanceOf(UnsupportedOperationException.class);
        assertThat(sem.queueLength()).isZero();
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    // ------------------------------------------------------------ resizing

    @Test
    void reducePermitsTakesFromTheAvailableOnesAndMayGoNegativeWithoutRevokingHeldPermits() {
        AsyncSemaphore sem = semaphore(3);
        assertThat(sem.tryAcquire(2)).isTrue();                // two held
        sem.reducePermits(3);                                  // limit 3 -> 0
        assertThat(sem.availablePermits()).as("short by the two still held").isEqualTo(-2);
        assertThat(sem.tryAcquire()).isFalse();
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(-1);
        sem.release();
        assertThat(sem.availablePermits()).as("the held permits came back, none is free").isZero();
        sem.release(2);                                        // limit 0 -> 2
        assertThat(sem.tryAcquire(2)).isTrue();
        sem.reducePermits(0);
        assertThat(sem.availablePermits()).isZero();
    }

    @Test
    void queuedWaitersWaitUntilReleasesBringAvailabilityBack() {
        AsyncSemaphore sem = semaphore(2);
        assertThat(sem.tryAcquire(2)).isTrue();
        Future<Void> a = sem.acquire(IMMEDIATE);
        Future<Void> b = sem.acquire(IMMEDIATE);
        sem.reducePermits(1);                                  // limit 2 -> 1
        assertThat(sem.availablePermits()).isEqualTo(-1);
        assertThat(sem.queueLength()).isEqualTo(2);
        sem.release();
        assertThat(a.isDone()).as("the first release only pays the reduction back").isFalse();
        sem.release();
        assertThat(a.isSuccess()).isTrue();
        assertThat(b.isDone()).as("one permit now, and a holds it").isFalse();
        sem.release();
        assertThat(b.isSuccess()).isTrue();
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void growingByReleaseServesQueuedWaitersAtOnceInFifoOrder() {
        AsyncSemaphore sem = semaphore(0);
        List<String> order = new ArrayList<>();
        sem.acquire(IMMEDIATE, 1).addListener(f -> order.add("a:1"));
        sem.acquire(IMMEDIATE, 2).addListener(f -> order.add("b:2"));
        sem.acquire(IMMEDIATE, 1).addListener(f -> order.add("c:1"));
        sem.acquire(IMMEDIATE, 3).addListener(f -> order.add("d:3"));
        sem.release(4);                                        // limit 0 -> 4
        assertThat(order).containsExactly("a:1", "b:2", "c:1");
        assertThat(sem.queueLength()).isEqualTo(1);
        assertThat(sem.availablePermits()).isZero();
    }

    @Test
    void aReductionWhileAMultiPermitHeadWaitsKeepsItsReservedPermitsCounted() {
        AsyncSemaphore sem = semaphore(3);
        assertThat(sem.tryAcquire(3)).isTrue();
        Future<Void> big = sem.acquire(IMMEDIATE, 3);
        sem.release(2);                                        // reserved for big
        sem.reducePermits(2);                                  // limit 3 -> 1: big can never run now...
        assertThat(sem.availablePermits()).isZero();
        sem.release();
        assertThat(big.isDone()).isFalse();
        sem.release(2);                                        // ...until the limit grows back to 3
        assertThat(big.isSuccess()).isTrue();
        assertThat(sem.availablePermits()).isZero();
    }

    @Test
    void reducePermitsRefusesBadArgumentsAndChangesNothing() {
        AsyncSemaphore sem = semaphore(1);
        assertThatThrownBy(() -> sem.reducePermits(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
        sem.reducePermits(Integer.MAX_VALUE);
        assertThat(sem.availablePermits()).isEqualTo(1 - Integer.MAX_VALUE);
        sem.reducePermits(2);
        assertThat(sem.availablePermits()).isEqualTo(Integer.MIN_VALUE);
        assertThatThrownBy(() -> sem.reducePermits(1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Integer.MIN_VALUE");
        assertThat(sem.availablePermits()).isEqualTo(Integer.MIN_VALUE);
        sem.release(Integer.MAX_VALUE);
        assertThat(sem.availablePermits()).as("no borrow into the flags").isEqualTo(-1);
        assertThat(sem.isClosed()).isFalse();
        assertThat(sem.queueLength()).isZero();
    }

    @Test
    void aNegativeCountNeverLooksLikeAFlagToTheFastPaths() {
        AsyncSemaphore sem = semaphore(0);
        sem.reducePermits(1);
        Future<Void> w = sem.acquire(IMMEDIATE);
        assertThat(w.isDone()).isFalse();
        w.cancel(false);
        sem.release();
        assertThat(sem.tryAcquire()).isFalse();
        sem.release();
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.isClosed()).isFalse();
        sem.close();
        sem.reducePermits(1);                                  // harmless once closed
        assertThat(sem.isClosed()).isTrue();
        assertThat(sem.availablePermits()).isEqualTo(-1);
    }

    @Test
    void onABoundedSemaphoreReducePermitsLowersTheBoundSoAnOverReleaseIsStillCaught() {
        AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(3);
        invariants.check(sem);
        invariants.check(sem);
        assertThat(sem.tryAcquire(2)).isTrue();
        sem.reducePermits(2);                                  // bound 3 -> 1, available 1 -> -1
        assertThat(sem.availablePermits()).isEqualTo(-1);
        sem.release();
        sem.release();                                         // the two held permits came back
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("maximum of 1");
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThatThrownBy(() -> sem.acquire(IMMEDIATE, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("never holds more than 1");
    }

    @Test
    void tryAcquireAndReleaseRacingBoundedResizesOnThreadsStayConsistent() throws Exception {
        // Sanity on real threads (Lincheck model-checks the same race): resizes of a bounded
        // semaphore never make a legitimate release throw nor a held permit vanish.
        int rounds = 20_000;
        AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(rounds + 4);
        invariants.check(sem);
        invariants.check(sem);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread user = new Thread(() -> {
            try {
                for (int i = 0; i < rounds; i++) {
                    if (sem.tryAcquire()) {
                        sem.release();
                    }
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        user.start();
        for (int i = 0; i < rounds; i++) {
            sem.reducePermits(1);
        }
        user.join();
        assertThat(failure.get()).isNull();
        assertThat(sem.availablePermits()).isEqualTo(4);
        assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class);
    }

    // ------------------------------------------------------------ bounded

    @Test
    void overReleasingABoundedSemaphoreThrowsAndChangesNothing() {
        AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(2);
        invariants.check(sem);
        assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("maximum of 2");
        assertThat(sem.availablePermits()).isEqualTo(2);
        assertThat(sem.tryAcquire()).isTrue();
        assertThatThrownBy(() -> sem.release(2)).isInstanceOf(IllegalStateException.class);
        assertThat(sem.availablePermits()).isEqualTo(1);
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(2);
        assertThatThrownBy(() -> sem.acquire(IMMEDIATE, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("never holds more than 2");
    }

    @Test
    void overReleaseIsCaughtAlsoWhileWaitersAreQueued() {
        AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(2);
        invariants.check(sem);
        assertThat(sem.tryAcquire(2)).isTrue();
        Future<Void> big = sem.acquire(IMMEDIATE, 2);
        sem.release();
        assertThat(big.isDone()).isFalse();
        assertThatThrownBy(() -> sem.release(2)).isInstanceOf(IllegalStateException.class);
        assertThat(sem.availablePermits()).isEqualTo(1);
        sem.release();
        assertThat(big.isSuccess()).isTrue();
    }

    @Test
    void theUnboundedSemaphoreRefusesToOverflowTheCount() {
        AsyncSemaphore sem = semaphore(Integer.MAX_VALUE);
        assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class);
        assertThat(sem.availablePermits()).isEqualTo(Integer.MAX_VALUE);
    }

    // ------------------------------------------------------------ withPermit

    @Test
    void withPermitRunsTheActionHoldingAPermitAndReleasesOnSuccess() {
        AsyncSemaphore sem = semaphore(1);
        Promise<String> backend = IMMEDIATE.newPromise();
        AtomicInteger permitsDuringAction = new AtomicInteger(-1);
        Future<String> r = sem.withPermit(IMMEDIATE, () -> {
            permitsDuringAction.set(sem.availablePermits());
            return backend;
        });
        assertThat(permitsDuringAction.get()).isZero();
        assertThat(r.isDone()).isFalse();
        backend.setSuccess("ok");
        assertThat(r.getNow()).isEqualTo("ok");
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void withPermitReleasesOnFailure() {
        AsyncSemaphore sem = semaphore(1);
        RuntimeException boom = new RuntimeException("backend down");
        Future<String> r = sem.withPermit(IMMEDIATE, () -> IMMEDIATE.newFailedFuture(boom));
        assertThat(r.cause()).isSameAs(boom);
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void withPermitReleasesWhenTheSupplierThrowsOrReturnsNull() {
        AsyncSemaphore sem = semaphore(1);
        IllegalArgumentException bad = new IllegalArgumentException("bad request");
        Future<String> r = sem.withPermit(IMMEDIATE, () -> {
            throw bad;
        });
        assertThat(r.cause()).isSameAs(bad);
        assertThat(sem.availablePermits()).isEqualTo(1);

        Future<String> n = sem.withPermit(IMMEDIATE, () -> null);
        assertThat(n.cause()).isInstanceOf(NullPointerException.class).hasMessageContaining("null future");
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void cancellingWithPermitWhileTheActionRunsLeavesTheActionAloneAndKeepsThePermitUntilItEnds() {
        AsyncSemaphore sem = semaphore(2);
        AtomicInteger running = new AtomicInteger();
        AtomicInteger mostRunning = new AtomicInteger();
        List<Promise<String>> work = new ArrayList<>();
        Supplier<Future<String>> action = () -> {
            mostRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
            Promise<String> p = IMMEDIATE.newPromise();
            work.add(p);
            return p;
        };
        Future<String> a = sem.withPermit(IMMEDIATE, action);
        Future<String> b = sem.withPermit(IMMEDIATE, action);
        Future<String> c = sem.withPermit(IMMEDIATE, action);
        assertThat(work).hasSize(2);

        assertThat(a.cancel(false)).isTrue();
        assertThat(a.isCancelled()).as("cancelled for the caller at once").isTrue();
        assertThat(work.get(0).isDone()).as("the action's future is not touched").isFalse();
        assertThat(work).as("c waits: a's code may still be running").hasSize(2);
        assertThat(sem.queueLength()).isEqualTo(1);

        running.decrementAndGet();
        work.get(0).setSuccess("a finished anyway");
        assertThat(a.isCancelled()).isTrue();
        assertThat(work).as("a's permit went to c").hasSize(3);
        running.decrementAndGet();
        work.get(1).setSuccess("b");
        running.decrementAndGet();
        work.get(2).setSuccess("c");
        assertThat(b.getNow()).isEqualTo("b");
        assertThat(c.getNow()).isEqualTo("c");
        assertThat(mostRunning.get()).as("never more actions than permits").isEqualTo(2);
        assertThat(sem.availablePermits()).isEqualTo(2);
    }

    @Test
    void anActionGivenTheCallersFutureMayObserveTheCancelAndStopItsOwnWork() {
        AsyncSemaphore sem = semaphore(1);
        Promise<String> backend = IMMEDIATE.newPromise();
        AtomicReference<Future<String>> seen = new AtomicReference<>();
        Future<String> r = sem.withPermit(IMMEDIATE, (Future<String> caller) -> {
            seen.set(caller);
            caller.addListener(f -> {
                if (f.isCancelled()) {
                    backend.cancel(false);      // this call really stops when cancelled
                }
            });
            return backend;
        });
        assertThat(seen.get()).as("the action receives the caller's future").isSameAs(r);
        assertThat(sem.availablePermits()).isZero();
        r.cancel(false);
        assertThat(backend.isCancelled()).as("the action chose to stop").isTrue();
        assertThat(sem.availablePermits()).as("released once the action's future completed").isEqualTo(1);
        assertThat(r.isCancelled()).isTrue();
    }

    @Test
    void aTimedWithPermitWhoseActionObservesTheCallerRunsLikeTheUntimedOne() {
        AsyncSemaphore sem = semaphore(1);
        Future<Integer> r = sem.withPermit(IMMEDIATE, 1, SECONDS,
                (Future<Integer> caller) -> IMMEDIATE.newSucceededFuture(caller.isCancelled() ? -1 : 42));
        assertThat(r.getNow()).isEqualTo(42);
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void cancellingWithPermitWhileQueuedRemovesTheWaiterAndNeverRunsTheAction() {
        AsyncSemaphore sem = semaphore(0);
        AtomicInteger runs = new AtomicInteger();
        Future<String> r = sem.withPermit(IMMEDIATE, () -> {
            runs.incrementAndGet();
            return IMMEDIATE.newSucceededFuture("x");
        });
        assertThat(sem.queueLength()).isEqualTo(1);
        r.cancel(false);
        assertThat(sem.queueLength()).isZero();
        sem.release();
        assertThat(runs.get()).isZero();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void withPermitCancelledAfterTheGrantButBeforeTheActionRanPassesThePermitOn() {
        ManualExecutor handlerLoop = new ManualExecutor();
        AsyncSemaphore sem = semaphore(0);
        AtomicInteger runs = new AtomicInteger();
        Future<String> first = sem.withPermit(handlerLoop, () -> {
            runs.incrementAndGet();
            return handlerLoop.newSucceededFuture("first");
        });
        Future<Void> next = sem.acquire(IMMEDIATE);

        sem.release();              // granted to `first`; its listener waits for handlerLoop
        first.cancel(false);        // the request went away in that gap
        handlerLoop.runPending();

        assertThat(runs.get()).isZero();
        assertThat(first.isCancelled()).isTrue();
        assertThat(next.isSuccess()).as("the permit passed on").isTrue();
    }

    @Test
    void timedWithPermitGivesUpWaitingAndNeverRunsTheAction() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncSemaphore sem = semaphore(0);
        AtomicInteger runs = new AtomicInteger();
        Future<String> r = sem.withPermit(ch.eventLoop(), 50, MILLISECONDS, () -> {
            runs.incrementAndGet();
            return ch.eventLoop().newSucceededFuture("x");
        });
        ch.advanceTimeBy(50, MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
        assertThat(r.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(runs.get()).isZero();
        assertThat(sem.queueLength()).isZero();
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimedWaitOnATerminatedExecutorFailsAndLosesNoPermit() {
        io.netty.util.concurrent.DefaultEventExecutor dead = new io.netty.util.concurrent.DefaultEventExecutor();
        dead.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        AsyncSemaphore sem = semaphore(0);
        Future<Void> f = sem.acquire(dead, 1, SECONDS);
        assertThat(f.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(sem.queueLength()).isZero();
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void withPermitOnATerminatedExecutorIsRefusedAndTakesNoPermit() {
        io.netty.util.concurrent.DefaultEventExecutor dead = new io.netty.util.concurrent.DefaultEventExecutor();
        dead.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        AsyncSemaphore sem = semaphore(1);
        AtomicInteger ran = new AtomicInteger();
        Future<String> r = sem.withPermit(dead, () -> {
            ran.incrementAndGet();
            return IMMEDIATE.newSucceededFuture("x");
        });
        assertThat(r.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down");
        assertThat(ran).hasValue(0);
        assertThat(sem.availablePermits()).as("no permit taken for an action that can never run").isEqualTo(1);
        AsyncLock lock = new AsyncLock();
        assertThat(lock.withLock(dead, () -> IMMEDIATE.newSucceededFuture("y")).cause())
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void aWaitThatWouldQueueOnATerminatedExecutorIsRefusedAndLosesNoPermit() {
        io.netty.util.concurrent.DefaultEventExecutor dead = new io.netty.util.concurrent.DefaultEventExecutor();
        dead.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        AsyncSemaphore sem = semaphore(0);
        Future<Void> f = sem.acquire(dead);
        assertThat(f.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down");
        assertThat(sem.queueLength()).isZero();
        sem.release();
        assertThat(sem.availablePermits()).as("not handed to a waiter nobody can resume").isEqualTo(1);

        AsyncLock lock = new AsyncLock();
        assertThat(lock.tryLock()).isTrue();
        assertThat(lock.lock(dead).cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        lock.unlock();
        assertThat(lock.isLocked()).as("the lock is not lost to a dead executor").isFalse();
    }

    @Test
    void aWaiterWhoseExecutorShutsDownWhileQueuedPassesItsGrantOn() {
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        AsyncSemaphore sem = semaphore(0);
        Future<Void> lost = sem.acquire(dying);
        Future<Void> two = sem.acquire(dying, 2);
        Future<Void> next = sem.acquire(IMMEDIATE);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        sem.release();
        assertThat(lost.cause()).as("its listener could never run: failed, not granted")
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down").hasMessageContaining("1 permit(s) of AsyncSemaphore");
        assertThat(two.isDone()).as("not servable yet: still queued").isFalse();
        assertThat(next.isDone()).isFalse();
        sem.release();
        assertThat(two.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(next.isSuccess()).as("the permits went on to the next waiter").isTrue();
        assertThat(sem.availablePermits()).as("1 of the 2 released is held by next, 1 is free").isEqualTo(1);
        assertThat(sem.queueLength()).isZero();
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(2);

        AsyncLock lock = new AsyncLock();
        assertThat(lock.tryLock()).isTrue();
        io.netty.util.concurrent.DefaultEventExecutor dying2 = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Void> deadLock = lock.lock(dying2);
        Future<Void> nextLock = lock.lock(IMMEDIATE);
        dying2.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        lock.unlock();
        assertThat(deadLock.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(nextLock.isSuccess()).as("the lock is not lost to a dead executor").isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void aTimedWaitWhoseExecutorShutsDownWhileQueuedEndsAtOnceAndHoldsNoPlaceNorPermit() {
        // The shutdown cancels the wait's timer: no timeout will ever end it, so it ends now,
        // without waiting for a release to reach it, and frees its maxPending slot.
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        AsyncSemaphore sem = invariants.check(new AsyncSemaphore(0, 1));
        Future<Void> dead = sem.acquire(dying, 1, TimeUnit.HOURS);
        assertThat(sem.acquire(IMMEDIATE).cause()).as("its slot is taken while it waits").isInstanceOf(QueueFullException.class);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        assertThat(dead.cause()).as("ended by the shutdown, not by a release")
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down").hasMessageContaining("timeout of its wait for 1 permit(s) of AsyncSemaphore");
        assertThat(sem.queueLength()).isZero();
        Future<Void> next = sem.acquire(IMMEDIATE);
        assertThat(next.isDone()).as("the maxPending slot is free again: queued, not refused").isFalse();
        sem.release();
        assertThat(next.isSuccess()).isTrue();
        sem.release();
        assertThat(sem.availablePermits()).as("no permit lost or duplicated").isEqualTo(1);
    }

    @Test
    void aTimedHeadWhoseExecutorShutsDownLeavesItsReservedPermitsToTheNextWaiter() {
        AsyncSemaphore sem = semaphore(1);
        assertThat(sem.tryAcquire()).isTrue();
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Void> dead = sem.acquire(dying, 2, 1, TimeUnit.HOURS);
        Future<Void> next = sem.acquire(IMMEDIATE);
        sem.release();
        assertThat(next.isDone()).as("the free permit is reserved for the head, which wants 2").isFalse();
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        assertThat(dead.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(next.isSuccess()).as("the head's leaving served the next waiter with the reserved permit").isTrue();
        assertThat(sem.queueLength()).isZero();
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void aTimedWaiterWhoseExecutorShutsDownWhileItsTimerIsCancelledAtTheGrantPassesItsGrantOn() {
        // Granting a timed waiter from another thread cancels its timer first, and Netty submits
        // the timer's removal to the waiter's executor: a whole execute() (a wake-up of that
        // loop). An executor that moves to SHUTDOWN during it must still be seen, so the check
        // comes after the timer's cancellation, not before it; else the listener notification
        // that follows is refused, only logged, and the permit is lost for good.
        DoomedOnRemoval dying = new DoomedOnRemoval();
        AsyncSemaphore sem = semaphore(0);
        Future<Void> doomed = sem.acquire(dying, 1, TimeUnit.HOURS);
        AtomicInteger notified = new AtomicInteger();
        doomed.addListener(f -> notified.incrementAndGet());
        Future<Void> next = sem.acquire(IMMEDIATE);
        dying.doomOnNextSubmission = true;
        sem.release();                                  // from this thread: not the waiter's executor
        assertThat(dying.isShutdown()).as("the timer's removal shut the executor down").isTrue();
        assertThat(doomed.cause()).as("granted as its executor shut down: refused, not granted to no one")
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(next.isSuccess()).as("the permit went on to the next waiter").isTrue();
        assertThat(notified).as("its listener could not run there").hasValue(0);
        sem.release();
        assertThat(sem.availablePermits()).as("no permit lost").isEqualTo(1);
    }

    /**
     * An executor that shuts down (and terminates) when it is handed a task from another thread
     * after {@link #doomOnNextSubmission} is set: the timer removal that a grant from another
     * thread submits, so that the move to SHUTDOWN falls inside the grant's completion (the
     * task itself is then refused).
     */
    private static final class DoomedOnRemoval extends io.netty.util.concurrent.SingleThreadEventExecutor {
        volatile boolean doomOnNextSubmission;

        DoomedOnRemoval() {
            super(null, new io.netty.util.concurrent.DefaultThreadFactory("doomed-on-removal"), true);
        }

        @Override
        protected void run() {                          // as DefaultEventExecutor's (final) loop
            do {
                Runnable task = takeTask();
                if (task != null) {
                    runTask(task);
                    updateLastExecutionTime();
                }
            } while (!confirmShutdown());
        }

        @Override
        protected void addTask(Runnable task) {        // every submission goes through it, the timer's removal too
            doom();
            super.addTask(task);
        }

        private void doom() {
            if (doomOnNextSubmission && !inEventLoop()) {
                doomOnNextSubmission = false;
                shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
            }
        }
    }

    @Test
    void aTimedWaitOnAnExecutorShuttingDownEndsAtOnceForItsTimerWouldBeCancelled() throws Exception {
        EventLoop closing = loops.newLoop();
        closing.submit(() -> { }).sync();
        closing.shutdownGracefully(1, 10, SECONDS);     // quiet period: it still runs tasks
        AsyncSemaphore sem = semaphore(0);
        Future<Void> f = sem.acquire(closing, 1, TimeUnit.HOURS);
        assertThat(f.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shutting down cancels its timers");
        assertThat(sem.queueLength()).isZero();
        Future<Void> untimed = sem.acquire(closing);
        assertThat(untimed.isDone()).as("an untimed wait has no timer to lose: it queues").isFalse();
        sem.release();
        assertThat(untimed.await(5, SECONDS) && untimed.isSuccess()).isTrue();
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void aBoundedSemaphoreTakesBackTheGrantOfAWaiterWhoseExecutorShutDownWithoutAnOverRelease() {
        AsyncBoundedSemaphore sem = invariants.check(new AsyncBoundedSemaphore(1));
        assertThat(sem.tryAcquire()).isTrue();
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Void> dead = sem.acquire(dying);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        sem.release();
        assertThat(dead.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(sem.availablePermits()).as("taken back to the bound, not above it").isEqualTo(1);
        assertThat(sem.statistics().held()).isZero();
        assertThatThrownBy(sem::release).as("still bounded").isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aTimerWhoseCancelIsRefusedByAFullTaskQueueStopsNoGrant() throws Exception {
        // Cancelled from another thread, a timer submits its removal, which a full queue hands
        // to the executor's rejection policy. Before, its exception left the grant chain half
        // done (both permits counted as handed out, neither waiter completed: lost for ever)
        // and release() threw.
        try (FullQueueExecutor busy = new FullQueueExecutor()) {
            AsyncSemaphore sem = semaphore(0);
            Future<Void> timed = sem.acquire(busy.executor(), 1, TimeUnit.HOURS);
            Future<Void> next = sem.acquire(IMMEDIATE);
            busy.fill();
            sem.release(2);
            assertThat(timed.isSuccess()).isTrue();
            assertThat(next.isSuccess()).isTrue();
            assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(0, 2, 0, false));
        }
    }

    @Test
    void withPermitFailsLikeTheAcquireWhenTheQueueIsFull() {
        AsyncSemaphore sem = new AsyncSemaphore(0, 0);
        invariants.check(sem);
        Future<String> r = sem.withPermit(IMMEDIATE, () -> IMMEDIATE.newSucceededFuture("x"));
        assertThat(r.cause()).isInstanceOf(QueueFullException.class);
    }

    // ------------------------------------------------------------ executors and depth

    @Test
    void listenersRunOnTheExecutorTheCallerNamed() throws Exception {
        EventLoop callerLoop = loops.newLoop();
        EventLoop releaserLoop = loops.newLoop();
        AsyncSemaphore sem = semaphore(0);
        AtomicReference<Thread> listenerThread = new AtomicReference<>();
        CountDownLatch ran = new CountDownLatch(1);
        callerLoop.execute(() -> sem.acquire(callerLoop).addListener(f -> {
            listenerThread.set(Thread.currentThread());
            ran.countDown();
        }));
        callerLoop.submit(() -> { }).syncUninterruptibly();
        releaserLoop.execute(sem::release);
        assertThat(ran.await(10, SECONDS)).isTrue();
        assertThat(callerLoop.inEventLoop(listenerThread.get())).isTrue();
    }

    @Test
    void reentrantListenersMayAcquireAndReleaseAgain() {
        AsyncSemaphore sem = semaphore(0);
        List<String> log = new ArrayList<>();
        Future<Void> a = sem.acquire(IMMEDIATE);
        a.addListener(f -> {
            log.add("a got it");
            sem.acquire(IMMEDIATE).addListener(g -> log.add("a again"));
            sem.release();
        });
        sem.acquire(IMMEDIATE).addListener(f -> {
            log.add("b got it");
            sem.release();
        });
        sem.release();
        assertThat(log).containsExactly("a got it", "b got it", "a again");
        assertThat(sem.availablePermits()).isZero();
    }

    @Test
    void aHundredThousandChainedWaitersOnOneSmallStackLoopDoNotOverflow() throws Exception {
        int n = 100_000;
        ThreadFactory smallStack = r -> new FastThreadLocalThread(null, r, "small-stack-loop", 256 * 1024);
        EventLoop loop = loops.newLoop(smallStack);
        AsyncSemaphore sem = semaphore(0);
        AtomicInteger served = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(1);
        loop.submit(() -> {
            for (int i = 0; i < n; i++) {
                sem.acquire(loop).addListener(f -> {
                    if (served.incrementAndGet() == n) {
                        all.countDown();
                    }
                    sem.release();     // hands the permit to the next waiter, from its listener
                });
            }
            sem.release();
        }).syncUninterruptibly();
        assertThat(all.await(60, SECONDS)).as("served %d of %d", served.get(), n).isTrue();
        loop.submit(() -> { }).syncUninterruptibly();
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(sem.queueLength()).isZero();
    }

    @Test
    void aHundredThousandChainedWaitersOnTheImmediateExecutorDoNotOverflow() {
        int n = 100_000;
        AsyncSemaphore sem = semaphore(0);
        AtomicInteger served = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            sem.acquire(IMMEDIATE).addListener(f -> {
                served.incrementAndGet();
                sem.release();
            });
        }
        sem.release();
        assertThat(served.get()).isEqualTo(n);
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void aHundredThousandCancelledWaitersAreSkippedWithoutRecursion() {
        int n = 100_000;
        AsyncSemaphore sem = semaphore(0);
        ManualExecutor later = new ManualExecutor();
        List<Future<Void>> all = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            all.add(sem.acquire(later));
        }
        // release(n) grants all of them; the first listener (run inline on an immediate waiter)
        // is not involved: instead cancel every other waiter, then release.
        for (int i = 0; i < n; i += 2) {
            all.get(i).cancel(false);
        }
        assertThat(sem.queueLength()).isEqualTo(n / 2);
        sem.release(n);
        assertThat(all.stream().filter(Future::isSuccess).count()).isEqualTo(n / 2);
        assertThat(sem.availablePermits()).isEqualTo(n / 2);
        later.runPending();
    }

    private static void await(CyclicBarrier b) {
        try {
            b.await(10, SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @SuppressWarnings("unused")
    private static <T> Supplier<T> never() {
        return () -> {
            throw new CancellationException();
        };
    }

    // ------------------------------------------------------------ asyncio parity: locked(), statistics()

    @Test
    void lockedSaysWhetherAPermitCannotBeTakenAtOnce() {
        AsyncSemaphore sem = semaphore(2);
        assertThat(sem.locked()).isFalse();
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.locked()).as("exactly one available").isFalse();
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.locked()).as("none available").isTrue();
        Future<Void> big = sem.acquire(IMMEDIATE, 2);
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(sem.locked()).as("one available but reserved for the queued head").isTrue();
        sem.release();
        assertThat(big.isSuccess()).isTrue();
        sem.release(2);
        assertThat(sem.locked()).isFalse();
        sem.reducePermits(3);
        assertThat(sem.locked()).as("negative after a reduction").isTrue();
        sem.release(3);
        assertThat(sem.locked()).isFalse();
        sem.close();
        assertThat(sem.locked()).as("closed: tryAcquire fails").isTrue();
    }

    @Test
    void statisticsAreOneConsistentSnapshot() {
        AsyncSemaphore sem = semaphore(1);
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(1, 1, 0, false));
        assertThat(sem.tryAcquire()).isTrue();
        Future<Void> a = sem.acquire(IMMEDIATE);
        sem.acquire(IMMEDIATE);
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(0, 1, 2, false));
        assertThat(sem.statistics().held()).isEqualTo(1);
        a.cancel(false);
        sem.reducePermits(2);
        assertThat(sem.statistics()).as("total 1 - 2: one held, two releases short of a free permit")
                .isEqualTo(new AsyncSemaphore.Statistics(-2, -1, 1, false));
        assertThat(sem.statistics().held()).isEqualTo(1);
        sem.close();
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(-2, -1, 0, true));
    }

    // ------------------------------------------------------------ totalPermits()

    @Test
    void theTotalCountsHeldAndAvailablePermitsAndGrowsOnlyWhenAReleasePassesIt() {
        AsyncSemaphore sem = semaphore(2);
        assertThat(sem.totalPermits()).isEqualTo(2);
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.totalPermits()).as("an acquire moves a permit from available to held").isEqualTo(2);
        assertThat(sem.statistics().held()).isEqualTo(1);
        sem.release();
        assertThat(sem.totalPermits()).isEqualTo(2);
        sem.release();                                         // nothing held for it: grows
        assertThat(sem.totalPermits()).isEqualTo(3);
        assertThat(sem.availablePermits()).isEqualTo(3);
        sem.release(2);                                        // limit 3 -> 5
        assertThat(sem.totalPermits()).isEqualTo(5);
        assertThat(sem.tryAcquire(3)).isTrue();
        sem.reducePermits(4);                                  // limit 5 -> 1, three held
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(-2, 1, 0, false));
        assertThat(sem.statistics().held()).as("a reduction never revokes a held permit").isEqualTo(3);
        sem.release(3);
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(1, 1, 0, false));
        sem.release();
        assertThat(sem.totalPermits()).isEqualTo(2);
    }

    @Test
    void aReleaseWithNothingHeldForItWhileOthersHoldCountsOnlyOnceTheCountPassesTheTotal() {
        // The semaphore cannot tell whose release it is: until the count passes the total, an
        // over-release looks like a holder giving back, and held() is short by one. At rest the
        // total is exact again.
        AsyncSemaphore sem = semaphore(2);
        assertThat(sem.tryAcquire(2)).isTrue();
        sem.release();                                         // nobody's permit
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(1, 2, 0, false));
        assertThat(sem.statistics().held()).as("two held, one counted").isEqualTo(1);
        sem.release();
        sem.release();                                         // the two holders
        assertThat(sem.statistics()).as("at rest: initial + 1 grown")
                .isEqualTo(new AsyncSemaphore.Statistics(3, 3, 0, false));
    }

    @Test
    void aReleaseThatServesQueuedWaitersGrowsTheTotalBeforeItsGrants() {
        AsyncSemaphore sem = semaphore(0);
        Future<Void> big = sem.acquire(IMMEDIATE, 2);
        sem.release();                                         // reserved for big (I2), a new permit
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(1, 1, 1, false));
        sem.release();
        assertThat(big.isSuccess()).isTrue();
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(0, 2, 0, false));
        assertThat(sem.statistics().held()).isEqualTo(2);
        sem.release(2);
        assertThat(sem.totalPermits()).as("the holder gave back: no growth").isEqualTo(2);
    }

    @Test
    void aBoundedSemaphoresTotalIsItsBound() {
        AsyncBoundedSemaphore sem = invariants.check(new AsyncBoundedSemaphore(3));
        assertThat(sem.totalPermits()).isEqualTo(3);
        assertThat(sem.tryAcquire(2)).isTrue();
        assertThat(sem.totalPermits()).isEqualTo(3);
        sem.reducePermits(2);                                  // bound 3 -> 1, available 1 -> -1
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(-1, 1, 0, false));
        assertThat(sem.statistics().held()).isEqualTo(2);
        sem.release(2);
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(1, 1, 0, false));
        assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class);
        assertThat(sem.totalPermits()).as("a refused over-release changes nothing").isEqualTo(1);
    }

    @Test
    void aRefusedReleaseAboveIntegerMaxValueLeavesThePlainTotalAlone() {
        AsyncSemaphore sem = semaphore(Integer.MAX_VALUE - 1);
        sem.release();
        assertThat(sem.totalPermits()).isEqualTo(Integer.MAX_VALUE);
        assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class);
        assertThat(sem.statistics()).isEqualTo(new AsyncSemaphore.Statistics(Integer.MAX_VALUE, Integer.MAX_VALUE, 0, false));
    }
}
