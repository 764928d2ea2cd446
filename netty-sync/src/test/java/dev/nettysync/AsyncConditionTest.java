package dev.nettysync;

import dev.nettysync.testing.FullQueueExecutor;
import dev.nettysync.testing.ManualExecutor;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Scenario tests for {@link AsyncCondition}; harness as in {@link AsyncSemaphoreTest}. The
 * lock has no owner, so "the test holds the lock" means the test called {@code tryLock()}; the
 * stories name the logical party that holds it.
 */
class AsyncConditionTest extends ScenarioTest {
    private final AsyncCondition cond = invariants.check(new AsyncCondition());
    private final AsyncLock lock = cond.lock();
    private int state;                                 // the "shared data" of the consumer stories

    /** Takes the lock for a party of the story; it must be free. */
    private void take() {
        assertThat(lock.tryLock()).as("the lock is free").isTrue();
    }

    // ------------------------------------------------------------ lock discipline

    @Test
    void awaitAndSignalWithoutHoldingTheLockThrowNamingTheMethod() {
        assertThatThrownBy(() -> cond.await(IMMEDIATE)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("await()");
        assertThatThrownBy(() -> cond.await(IMMEDIATE, 1, SECONDS)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("await()");
        assertThatThrownBy(() -> cond.awaitUntil(IMMEDIATE, () -> true)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("awaitUntil()");
        assertThatThrownBy(cond::signal).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("signal()");
        assertThatThrownBy(() -> cond.signal(2)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("signal()");
        assertThatThrownBy(cond::signalAll).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("signalAll()");
        assertThat(cond.queueLength()).isZero();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void badArguments() {
        take();
        assertThatThrownBy(() -> cond.signal(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("was 0");
        assertThatThrownBy(() -> cond.await(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("executor");
        assertThatThrownBy(() -> cond.awaitUntil(IMMEDIATE, null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("predicate");
        assertThatThrownBy(() -> cond.await(IMMEDIATE, 1, null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("unit");
        assertThatThrownBy(() -> new AsyncCondition(null)).isInstanceOf(NullPointerException.class);
        assertThat(cond.queueLength()).isZero();
        assertThat(lock.isLocked()).as("no bad call released the lock").isTrue();
    }

    @Test
    void awaitReleasesTheLockAndCompletesOnlyOnceItIsHeldAgainBehindEarlierLockWaiters() {
        List<String> order = new ArrayList<>();
        take();                                           // waiter W
        Future<Void> w = cond.await(IMMEDIATE);
        w.addListener(f -> order.add("W resumes, locked=" + lock.isLocked()));
        assertThat(lock.isLocked()).as("released while waiting").isFalse();
        assertThat(cond.queueLength()).isEqualTo(1);

        take();                                           // signaller S
        Future<Void> c = lock.lock(IMMEDIATE);            // C queues for the lock before W is signalled
        c.addListener(f -> order.add("C gets the lock"));
        cond.signal();
        assertThat(w.isDone()).as("signalled, but S holds the lock").isFalse();
        assertThat(cond.queueLength()).isZero();

        lock.unlock();                                    // S leaves: C was first in line
        assertThat(order).containsExactly("C gets the lock");
        assertThat(w.isDone()).isFalse();

        lock.unlock();                                    // C leaves
        assertThat(order).containsExactly("C gets the lock", "W resumes, locked=true");
        assertThat(w.isSuccess()).isTrue();
        assertThat(lock.isLocked()).as("W holds it and must unlock").isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    // ------------------------------------------------------------ signalling

    /** A waiter that logs its name when it resumes and unlocks at once. */
    private Future<Void> waiter(String name, List<String> log) {
        take();
        Future<Void> f = cond.await(IMMEDIATE);
        f.addListener(x -> {
            log.add(name);
            lock.unlock();
        });
        return f;
    }

    @Test
    void signalWakesTheLongestWaitingOneAtATimeThenSignalNThenSignalAll() {
        List<String> woken = new ArrayList<>();
        for (String name : List.of("a", "b", "c", "d", "e", "f")) {
            waiter(name, woken);
        }
        assertThat(cond.queueLength()).isEqualTo(6);

        take();
        cond.signal();
        lock.unlock();
        assertThat(woken).containsExactly("a");

        take();
        cond.signal();
        lock.unlock();
        assertThat(woken).containsExactly("a", "b");

        take();
        cond.signal(2);
        assertThat(cond.queueLength()).isEqualTo(2);
        lock.unlock();
        assertThat(woken).containsExactly("a", "b", "c", "d");

        take();
        cond.signalAll();
        assertThat(cond.queueLength()).isZero();
        lock.unlock();
        assertThat(woken).containsExactly("a", "b", "c", "d", "e", "f");
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void signalWithNobodyWaitingIsNotRemembered() {
        take();
        cond.signal();
        cond.signalAll();
        Future<Void> w = cond.await(IMMEDIATE);
        assertThat(w.isDone()).isFalse();
        assertThat(cond.queueLength()).isEqualTo(1);
    }

    @Test
    void signalMoreThanAreWaitingWakesThoseThatAre() {
        List<String> woken = new ArrayList<>();
        waiter("a", woken);
        waiter("b", woken);
        take();
        cond.signal(5);
        lock.unlock();
        assertThat(woken).containsExactly("a", "b");
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void aWaiterOnAnotherLoopResumesOnItsOwnExecutorHoldingTheLock() throws Exception {
        EventLoop waiterLoop = loops.newLoop();
        EventLoop signallerLoop = loops.newLoop();
        AtomicReference<Thread> resumedOn = new AtomicReference<>();
        AtomicBoolean lockedWhenResumed = new AtomicBoolean();
        CountDownLatch resumed = new CountDownLatch(1);
        waiterLoop.submit(() -> {
            take();
            cond.await(waiterLoop).addListener(f -> {
                resumedOn.set(Thread.currentThread());
                lockedWhenResumed.set(lock.isLocked());
                lock.unlock();
                resumed.countDown();
            });
        }).syncUninterruptibly();
        signallerLoop.submit(() -> {
            take();
            cond.signal();
            lock.unlock();
        }).syncUninterruptibly();
        assertThat(resumed.await(10, SECONDS)).isTrue();
        assertThat(waiterLoop.inEventLoop(resumedOn.get())).isTrue();
        assertThat(lockedWhenResumed.get()).isTrue();
        waiterLoop.submit(() -> { }).syncUninterruptibly();
        assertThat(lock.isLocked()).isFalse();
    }

    // ------------------------------------------------------------ awaitUntil

    @Test
    void awaitUntilEvaluatesThePredicateFirstThenAfterEachSignalOnTheWaitersLoopWithTheLockHeld() throws Exception {
        EventLoop waiterLoop = loops.newLoop();
        List<String> evaluations = new ArrayList<>();        // written on waiterLoop only
        AtomicBoolean ready = new AtomicBoolean();
        BooleanSupplier predicate = () -> {
            evaluations.add((waiterLoop.inEventLoop() ? "on loop" : "elsewhere")
                    + (lock.isLocked() ? ", locked" : ", NOT locked"));
            return ready.get();
        };
        AtomicBoolean lockedWhenDone = new AtomicBoolean();
        Future<Void> w = waiterLoop.submit(() -> {
            take();
            Future<Void> f = cond.awaitUntil(waiterLoop, predicate);
            f.addListener(x -> lockedWhenDone.set(lock.isLocked()));
            return f;
        }).syncUninterruptibly().getNow();
        assertThat(evaluations).containsExactly("on loop, locked");
        assertThat(cond.queueLength()).as("false at first: waits").isEqualTo(1);
        assertThat(lock.isLocked()).isFalse();

        take();                                                // signal while it is still false
        cond.signal();
        lock.unlock();
        waiterLoop.submit(() -> { }).syncUninterruptibly();
        assertThat(evaluations).containsExactly("on loop, locked", "on loop, locked");
        assertThat(cond.queueLength()).as("still false: waits again").isEqualTo(1);
        assertThat(lock.isLocked()).as("and released the lock again").isFalse();
        assertThat(w.isDone()).isFalse();

        take();
        ready.set(true);
        cond.signal();
        lock.unlock();
        w.await(10, SECONDS);
        waiterLoop.submit(() -> { }).syncUninterruptibly();  // the listener runs after await() returns
        assertThat(w.isSuccess()).isTrue();
        assertThat(evaluations).hasSize(3).allMatch("on loop, locked"::equals);
        assertThat(lockedWhenDone.get()).isTrue();
        lock.unlock();
    }

    @Test
    void awaitUntilCalledOffTheLoopStillEvaluatesOnTheLoop() throws Exception {
        EventLoop waiterLoop = loops.newLoop();
        AtomicReference<Thread> evaluatedOn = new AtomicReference<>();
        take();
        Future<Void> w = cond.awaitUntil(waiterLoop, () -> {
            evaluatedOn.set(Thread.currentThread());
            return true;
        });
        assertThat(w.await(10, SECONDS)).isTrue();
        assertThat(w.isSuccess()).isTrue();
        assertThat(waiterLoop.inEventLoop(evaluatedOn.get())).isTrue();
        assertThat(lock.isLocked()).as("true at once: the lock was never released").isTrue();
    }

    @Test
    void aThrowingPredicateFailsTheWaitWithTheLockHeld() {
        RuntimeException boom = new RuntimeException("bad predicate");
        take();
        Future<Void> first = cond.awaitUntil(IMMEDIATE, () -> {
            throw boom;
        });
        assertThat(first.cause()).isSameAs(boom);
        assertThat(lock.isLocked()).isTrue();
        assertThat(cond.queueLength()).isZero();

        AtomicInteger calls = new AtomicInteger();
        Future<Void> later = cond.awaitUntil(IMMEDIATE, () -> {
            if (calls.incrementAndGet() == 2) {
                throw boom;
            }
            return false;
        });
        assertThat(later.isDone()).isFalse();
        assertThat(lock.isLocked()).as("released while waiting").isFalse();
        take();
        cond.signal();
        lock.unlock();
        assertThat(later.cause()).isSameAs(boom);
        assertThat(lock.isLocked()).as("the failed waiter holds the lock").isTrue();
        lock.unlock();
    }

    // ------------------------------------------------------------ timeouts

    @Test
    void aTimedWaitFailsWithWaitTimeoutExceptionOnlyOnceTheLockIsHeldAgain() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        EventExecutor loop = ch.eventLoop();
        take();
        Future<Void> w = cond.await(loop, 100, MILLISECONDS);
        AtomicBoolean lockedWhenDone = new AtomicBoolean();
        w.addListener(f -> lockedWhenDone.set(lock.isLocked()));
        take();                                         // someone else holds the lock at the timeout

        ch.advanceTimeBy(100, MILLISECONDS);
        ch.runScheduledPendingTasks();

        assertThat(cond.queueLength()).as("left the condition queue").isZero();
        assertThat(w.isDone()).as("but waits for the lock").isFalse();
        lock.unlock();
        assertThat(w.cause()).isInstanceOf(WaitTimeoutException.class).hasMessageContaining("100 ms");
        assertThat(lockedWhenDone.get()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimerAlreadyRunningWhenTheSignalComesDoesNotEndTheSignalledWait() {
        // On a real loop the timer can start running (too late for the signal's cancel, which
        // then fails) while another thread signals; its end() then comes after the signal. The
        // timeout of a plain await no longer applies once it is signalled: before, that late
        // end was accepted, the wait failed with a WaitTimeoutException though it had been
        // signalled, and its signal went on to the next waiter.
        LateTimers late = new LateTimers();
        take();
        Future<Void> w = cond.await(late, 1, TimeUnit.HOURS);
        take();
        Future<Void> next = cond.await(IMMEDIATE);
        take();
        cond.signal();                                  // reaches w; its timer could not be cancelled
        late.fire();                                    // the timer's task, already under way, ends
        lock.unlock();
        assertThat(w.isSuccess()).as("signalled: its timeout no longer applies").isTrue();
        assertThat(cond.queueLength()).as("the signal was not passed on").isEqualTo(1);
        assertThat(next.isDone()).isFalse();
        cond.signal();
        lock.unlock();
        assertThat(next.isSuccess()).isTrue();
        lock.unlock();
    }

    /**
     * Runs tasks inline; its timers never fire on their own and cannot be cancelled, as a Netty
     * timer whose task has started (cancel returns false): {@link #fire} runs the last one.
     */
    private static final class LateTimers extends dev.nettysync.testing.InlineExecutor {
        private Runnable timer;

        @Override
        public io.netty.util.concurrent.ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
            timer = command;
            return new dev.nettysync.testing.NeverFiringTimer() {
                @Override
                public boolean cancel(boolean mayInterruptIfRunning) {
                    return false;                       // running already
                }
            };
        }

        void fire() {
            timer.run();
        }
    }

    @Test
    void aWaitSignalledInTimeIsNotTimedOutLater() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        EventExecutor loop = ch.eventLoop();
        take();
        Future<Void> w = cond.await(loop, 100, MILLISECONDS);
        take();
        cond.signal();
        ch.advanceTimeBy(1, SECONDS);                  // the signaller holds the lock past the timeout
        ch.runScheduledPendingTasks();
        lock.unlock();
        assertThat(w.isSuccess()).isTrue();
        lock.unlock();
        ch.finishAndReleaseAll();
    }

    @Test
    void aWaitSignalledBeforeItsTimerWasArmedLeavesNoTimerScheduled() {
        // await() queues the waiter, then unlocks, and arms the timer last. The unlock hands the
        // lock to the next holder, whose listener (inline here) signals at once and keeps the
        // lock: the plain wait's timeout no longer applies before its timer exists, so the
        // signal found nothing to cancel. Left armed, the timer would keep the wait reachable
        // from its executor for as long as the relock waits, up to the timeout (an hour).
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        take();
        lock.lock(IMMEDIATE).addListener(f -> cond.signal());
        Future<Void> w = cond.await(ch.eventLoop(), 1, TimeUnit.HOURS);
        assertThat(w.isDone()).as("signalled, waiting for the lock").isFalse();
        assertThat(ch.runScheduledPendingTasks()).as("its timer, armed after the signal, was cancelled").isEqualTo(-1);
        lock.unlock();                                   // the holder that signalled
        assertThat(w.isSuccess()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimedWaitThatEndsBeforeItsTimeoutLeavesNoTimerScheduled() {
        // A timer left behind would find nothing to do when it fired, but would keep the wait
        // reachable from its executor until then (an hour here).
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        EventExecutor loop = ch.eventLoop();
        take();
        Future<Void> signalled = cond.await(loop, 1, TimeUnit.HOURS);
        take();
        cond.signal();
        assertThat(ch.runScheduledPendingTasks())
                .as("the signal cancels a plain wait's timer at once, though the lock is still held").isEqualTo(-1);
        lock.unlock();
        assertThat(signalled.isSuccess()).isTrue();
        assertThat(ch.runScheduledPendingTasks()).as("no timer left after the signal").isEqualTo(-1);

        AtomicBoolean ready = new AtomicBoolean();      // a predicate wait keeps its timer until satisfied
        Future<Void> satisfied = cond.awaitUntil(loop, ready::get, 1, TimeUnit.HOURS);
        take();
        ready.set(true);
        cond.signal();
        lock.unlock();
        assertThat(satisfied.isSuccess()).isTrue();
        assertThat(ch.runScheduledPendingTasks()).as("no timer left once the predicate held").isEqualTo(-1);

        Future<Void> cancelled = cond.await(loop, 1, TimeUnit.HOURS);
        assertThat(cancelled.cancel(false)).isTrue();
        assertThat(cancelled.isCancelled()).as("the lock was free to take back").isTrue();
        assertThat(ch.runScheduledPendingTasks()).as("no timer left after the cancel").isEqualTo(-1);
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void aWaitSignalledWhileItsAwaitWasStillReleasingTheLockIsNotTimedOutEither() {
        // The await's own unlock hands the lock to S, whose listener signals at once, before
        // await() has returned (and armed its timer). The signal must win, as above.
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        EventExecutor loop = ch.eventLoop();
        take();
        Future<Void> s = lock.lock(loop);
        s.addListener(f -> cond.signal());             // S keeps the lock after signalling
        Future<Void> w = cond.await(loop, 100, MILLISECONDS);
        assertThat(s.isSuccess()).isTrue();
        assertThat(cond.queueLength()).as("already signalled").isZero();

        ch.advanceTimeBy(1, SECONDS);
        ch.runScheduledPendingTasks();
        lock.unlock();                                  // S leaves

        assertThat(w.isSuccess()).as("signalled before the timeout: %s", w.cause()).isTrue();
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimedWaitOnAnExecutorThatCannotScheduleFailsHoldingTheLock() {
        take();
        Future<Void> w = cond.await(IMMEDIATE, 1, SECONDS);
        assertThat(w.cause()).isInstanceOf(UnsupportedOperationException.class);
        assertThat(lock.isLocked()).isTrue();
        assertThat(cond.queueLength()).isZero();
        lock.unlock();
    }

    @Test
    void awaitUntilTimesOutAcrossReWaitsWithTheLockHeld() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        EventExecutor loop = ch.eventLoop();
        take();
        AtomicInteger calls = new AtomicInteger();
        Future<Void> w = cond.awaitUntil(loop, () -> calls.incrementAndGet() < 0, 100, MILLISECONDS);
        ch.advanceTimeBy(60, MILLISECONDS);
        take();
        cond.signal();
        lock.unlock();
        assertThat(calls.get()).isEqualTo(2);
        assertThat(w.isDone()).isFalse();
        ch.advanceTimeBy(40, MILLISECONDS);            // 100 ms in all: the overall timeout
        ch.runScheduledPendingTasks();
        assertThat(w.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(lock.isLocked()).isTrue();
        assertThat(cond.queueLength()).isZero();
        lock.unlock();
        ch.finishAndReleaseAll();
    }

    // ------------------------------------------------------------ cancellation (CPython test_locks)

    @Test
    void cancelWhileWaitingWithTheLockFreeCompletesCancelledAtOnceHoldingTheLock() {
        // test_wait_cancel
        take();
        Future<Void> w = cond.await(IMMEDIATE);
        assertThat(lock.isLocked()).isFalse();
        assertThat(w.cancel(false)).isTrue();
        assertThat(w.isCancelled()).isTrue();
        assertThat(lock.isLocked()).as("re-acquired before reporting the cancel").isTrue();
        assertThat(cond.queueLength()).isZero();
        lock.unlock();
    }

    @Test
    void everyWaiterASignalReachesIsSignalledNotOnlyTheFirst() {
        // signalAll() takes the waiters out as a chain and marks each signalled. The second one's
        // cancel, before it has the lock back, must find it signalled (its signal goes on, none
        // queued now) and end it cancelled once it holds the lock again, not treat it as queued.
        take();
        Future<Void> first = cond.await(IMMEDIATE);
        take();
        Future<Void> second = cond.await(IMMEDIATE);
        take();
        cond.signalAll();
        assertThat(cond.queueLength()).isZero();
        assertThat(second.cancel(false)).as("accepted: it ends once it has the lock back").isTrue();
        assertThat(second.isDone()).isFalse();

        lock.unlock();
        assertThat(first.isSuccess()).as("first back with the lock").isTrue();
        assertThat(second.isDone()).isFalse();
        lock.unlock();
        assertThat(second.isCancelled()).as("cancelled, holding the lock again").isTrue();
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void cancelWhileWaitingWithTheLockContestedCompletesOnlyOnceTheLockIsBack() {
        // test_wait_cancel_contested
        take();
        Future<Void> w = cond.await(IMMEDIATE);
        AtomicBoolean lockedWhenDone = new AtomicBoolean();
        w.addListener(f -> lockedWhenDone.set(lock.isLocked()));
        take();                                          // another party holds the lock

        assertThat(w.cancel(false)).as("the request is accepted").isTrue();
        assertThat(w.isDone()).as("but not done until the lock is back").isFalse();
        assertThat(cond.queueLength()).isZero();
        assertThat(w.cancel(false)).as("a second request changes nothing").isFalse();
        take0Fails();

        lock.unlock();
        assertThat(w.isCancelled()).isTrue();
        assertThat(lockedWhenDone.get()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    private void take0Fails() {
        assertThat(lock.tryLock()).isFalse();
    }

    @Test
    void cancelAfterTheSignalledWaiterGotTheLockBackButBeforeItResumedLeavesTheLockToBeUnlocked() {
        // test_wait_cancel_after_notify (bpo-32841): the lock must not stay held by nobody.
        ManualExecutor waiterLoop = new ManualExecutor();
        AtomicReference<Future<Void>> wait = new AtomicReference<>();
        Future<Void> task = lock.withLock(waiterLoop, () -> {
            wait.set(cond.await(waiterLoop));
            return wait.get();
        });
        waiterLoop.runPending();
        assertThat(lock.isLocked()).as("waiting").isFalse();

        take();
        cond.signal();
        lock.unlock();                                   // granted to the waiter; it has not resumed
        assertThat(lock.isLocked()).isTrue();
        assertThat(wait.get().cancel(false)).isTrue();
        waiterLoop.runPending();

        assertThat(wait.get().isCancelled()).isTrue();
        assertThat(task.isCancelled()).isTrue();
        assertThat(lock.isLocked()).as("withLock unlocked it").isFalse();
    }

    @Test
    void cancelAfterTheWaitCompletedReturnsFalse() {
        take();
        Future<Void> w = cond.await(IMMEDIATE);
        take();
        cond.signal();
        lock.unlock();
        assertThat(w.isSuccess()).isTrue();
        assertThat(w.cancel(false)).isFalse();
        assertThat(w.isSuccess()).isTrue();
    }

    /**
     * CPython's consumer for gh-112202: {@code async with cond: while True: await
     * cond.wait_for(lambda: state != 0); if state < 0: return; state -= 1}. Its current wait is
     * what an outside cancel hits.
     */
    private final class Consumer {
        final EventExecutor executor;
        final Promise<Void> done;
        final AtomicReference<Future<Void>> currentWait = new AtomicReference<>();
        BooleanSupplier extraCheck = () -> true;

        Consumer(EventExecutor executor) {
            this.executor = executor;
            this.done = executor.newPromise();
            lock.lock(executor).addListener(f -> waitLoop());
        }

        private void waitLoop() {
            Future<Void> w = cond.awaitUntil(executor, () -> extraCheck.getAsBoolean() && state != 0);
            currentWait.set(w);
            w.addListener(f -> {
                if (!f.isSuccess()) {                  // every way a wait ends, the lock is held
                    lock.unlock();
                    if (f.isCancelled()) {
                        done.cancel(false);
                    } else {
                        done.tryFailure(f.cause());
                    }
                } else if (state < 0) {
                    lock.unlock();
                    done.trySuccess(null);
                } else {
                    state--;
                    waitLoop();
                }
            });
        }
    }

    /**
     * After one item was produced and signalled: {@code cancelled} gave the signal up, the other
     * consumer consumed the item instead and waits again.
     */
    private void assertSignalPassedOn(Consumer cancelled) {
        assertThat(cancelled.done.isCancelled()).isTrue();
        assertThat(state).as("the other consumer got the signal the cancelled one gave up").isZero();
        assertThat(cond.queueLength()).as("the other consumer waits again").isEqualTo(1);
    }

    /** Tells every consumer to stop ({@code state = -1}, signalAll); each must end and leave the lock free. */
    private void stopConsumers(Consumer... consumers) {
        take();
        state = -1;
        cond.signalAll();
        lock.unlock();
        for (Consumer c : consumers) {
            assertThat(c.done.isSuccess()).isTrue();
        }
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void aSignalledWaiterCancelledBeforeItGotTheLockPassesTheSignalOn() {
        // gh-112202 test_cancelled_wakeup: cancelled "at the same time" as it is signalled.
        Consumer c0 = new Consumer(IMMEDIATE);
        Consumer c1 = new Consumer(IMMEDIATE);
        assertThat(cond.queueLength()).isEqualTo(2);

        take();
        state++;
        cond.signal();
        assertThat(c0.currentWait.get().cancel(false)).isTrue();
        lock.unlock();

        assertSignalPassedOn(c0);
        stopConsumers(c1);
    }

    @Test
    void aSignalledWaiterCancelledAfterItGotTheLockButBeforeItRanPassesTheSignalOn() {
        // gh-112202 test_cancelled_wakeup_relock: the lock was handed to c0, whose loop has not
        // run it yet.
        ManualExecutor c0Loop = new ManualExecutor();
        Consumer c0 = new Consumer(c0Loop);
        c0Loop.runPending();
        Consumer c1 = new Consumer(IMMEDIATE);
        assertThat(cond.queueLength()).isEqualTo(2);

        take();
        state++;
        cond.signal();
        lock.unlock();                                   // granted to c0, pending on its loop
        assertThat(c0.currentWait.get().cancel(false)).isTrue();
        c0Loop.runPending();

        assertSignalPassedOn(c0);
        stopConsumers(c1);
    }

    @Test
    void aSignalledWaiterCancelledWhileEvaluatingItsPredicatePassesTheSignalOn() {
        // The cancel arrives after c0 has the lock back and while its predicate runs (here from
        // the predicate itself, standing in for another thread in that window): c0 ends
        // cancelled without consuming, so c1 must get the signal.
        Consumer c0 = new Consumer(IMMEDIATE);
        Consumer c1 = new Consumer(IMMEDIATE);
        c0.extraCheck = () -> {
            c0.currentWait.get().cancel(false);
            return true;
        };

        take();
        state++;
        cond.signal();
        lock.unlock();

        assertSignalPassedOn(c0);
        stopConsumers(c1);
    }

    @Test
    void aSignalledWaiterThatTimesOutBeforeItGotTheLockPassesTheSignalOn() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        EventExecutor loop = ch.eventLoop();
        take();
        Future<Void> timed = cond.awaitUntil(loop, () -> state != 0, 100, MILLISECONDS);
        take();
        Future<Void> patient = cond.awaitUntil(loop, () -> state != 0);

        take();
        state = 1;
        cond.signal();                                   // to `timed`, which needs the lock first
        ch.advanceTimeBy(100, MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(timed.isDone()).isFalse();
        lock.unlock();

        assertThat(timed.cause()).isInstanceOf(WaitTimeoutException.class);
        lock.unlock();                                   // the timed-out waiter leaves
        assertThat(patient.isSuccess()).as("it got the signal").isTrue();
        lock.unlock();
        ch.finishAndReleaseAll();
    }

    // ------------------------------------------------------------ withLock

    @Test
    void withLockAroundAwaitUnlocksOnSuccessTimeoutAndCancel() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        EventExecutor loop = ch.eventLoop();

        Future<Void> ok = lock.withLock(loop, () -> cond.await(loop));
        assertThat(lock.isLocked()).isFalse();
        take();
        cond.signal();
        lock.unlock();
        assertThat(ok.isSuccess()).isTrue();
        assertThat(lock.isLocked()).as("after success").isFalse();

        Future<Void> timedOut = lock.withLock(loop, () -> cond.await(loop, 50, MILLISECONDS));
        ch.advanceTimeBy(50, MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(timedOut.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(lock.isLocked()).as("after timeout").isFalse();

        // withLock leaves the action's future alone when the caller cancels; a condition wait
        // may be cancelled safely (it completes only once the lock is held again), so the action
        // passes the cancel on.
        Future<Void> cancelled = lock.withLock(loop, (Future<Void> caller) -> awaitCancelledWith(caller, loop));
        assertThat(cancelled.cancel(false)).isTrue();
        assertThat(lock.isLocked()).as("after cancel").isFalse();
        assertThat(cond.queueLength()).isZero();

        Future<Void> cancelledContested = lock.withLock(loop, (Future<Void> caller) -> awaitCancelledWith(caller, loop));
        take();
        assertThat(cancelledContested.cancel(false)).isTrue();
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();                                   // the other party leaves
        assertThat(lock.isLocked()).as("after a contested cancel").isFalse();
        assertThat(lock.queueLength()).isZero();
        ch.finishAndReleaseAll();
    }

    private Future<Void> awaitCancelledWith(Future<Void> caller, EventExecutor loop) {
        Future<Void> wait = cond.await(loop);
        caller.addListener(c -> {
            if (c.isCancelled()) {
                wait.cancel(false);
            }
        });
        return wait;
    }

    // ------------------------------------------------------------ close

    @Test
    void aLockClosedWhileTheWaiterReacquiresStillHandsItTheLockItIsOwed() {
        take();
        Future<Void> w = cond.await(IMMEDIATE);
        take();                                          // the signaller
        cond.signal();
        lock.close(new IllegalStateException("shutting down"));
        assertThat(w.isDone()).as("waits for the signaller to unlock").isFalse();
        assertThat(lock.lock(IMMEDIATE).cause()).as("new lockers are refused").isInstanceOf(ClosedException.class);

        lock.unlock();                                   // the signaller leaves

        assertThat(w.isSuccess()).isTrue();
        assertThat(lock.isLocked()).as("held by the waiter, as its success promises").isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void aLockClosedWhileACancelledWaiterReacquiresStillHandsItTheLock() {
        take();
        Future<Void> w = cond.await(IMMEDIATE);
        take();
        assertThat(w.cancel(false)).isTrue();
        lock.close();
        assertThat(w.isDone()).isFalse();
        lock.unlock();
        assertThat(w.isCancelled()).isTrue();
        assertThat(lock.isLocked()).as("a cancelled wait also ends holding the lock").isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void withLockAroundAWaitNeverUnlocksAnotherPartysLockWhenTheLockIsClosed() {
        Future<Void> r = lock.withLock(IMMEDIATE, () -> cond.await(IMMEDIATE));
        take();                                          // the signaller S
        cond.signal();
        lock.close();
        assertThat(lock.isLocked()).as("S still holds the lock").isTrue();
        assertThat(r.isDone()).isFalse();
        lock.unlock();                                   // S leaves; the waiter gets the lock back
        assertThat(r.isSuccess()).isTrue();
        assertThat(lock.isLocked()).as("withLock unlocked the waiter's own lock").isFalse();
    }

    @Test
    void onABoundedLockReacquiringIsNotRefusedByMaxPending() {
        AsyncLock bounded = new AsyncLock(1);
        invariants.check(bounded);
        AsyncCondition c = new AsyncCondition(bounded);
        invariants.check(c);
        assertThat(bounded.tryLock()).isTrue();
        Future<Void> w = c.await(IMMEDIATE);
        assertThat(bounded.tryLock()).isTrue();          // the signaller
        Future<Void> other = bounded.lock(IMMEDIATE);    // fills the lock's queue
        assertThat(bounded.lock(IMMEDIATE).cause()).isInstanceOf(QueueFullException.class);
        c.signal();                                      // w queues for the lock anyway, behind other
        assertThat(w.isDone()).isFalse();
        bounded.unlock();
        assertThat(other.isSuccess()).isTrue();
        assertThat(w.isDone()).isFalse();
        bounded.unlock();
        assertThat(w.isSuccess()).isTrue();
        bounded.unlock();
        assertThat(bounded.isLocked()).isFalse();
    }

    // ------------------------------------------------------------ depth

    @Test
    void signalAllToAHundredThousandWaitersOnASmallStackLoopDoesNotOverflow() throws Exception {
        int n = 100_000;
        ThreadFactory smallStack = r -> new FastThreadLocalThread(null, r, "small-stack-loop", 256 * 1024);
        EventLoop loop = loops.newLoop(smallStack);
        AtomicInteger resumed = new AtomicInteger();
        AtomicInteger resumedUnlocked = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(1);
        loop.submit(() -> {
            for (int i = 0; i < n; i++) {
                take();
                cond.await(loop).addListener(f -> {
                    if (!lock.isLocked()) {
                        resumedUnlocked.incrementAndGet();
                    }
                    lock.unlock();              // hands the lock to the next woken waiter
                    if (resumed.incrementAndGet() == n) {
                        all.countDown();
                    }
                });
            }
            take();
            cond.signalAll();
            lock.unlock();
        }).syncUninterruptibly();
        assertThat(all.await(60, SECONDS)).as("resumed %d of %d", resumed.get(), n).isTrue();
        loop.submit(() -> { }).syncUninterruptibly();
        assertThat(resumedUnlocked.get()).isZero();
        assertThat(lock.isLocked()).isFalse();
        assertThat(cond.queueLength()).isZero();
    }

    // ------------------------------------------------------------ awaitValue (asyncio's wait_for result), statistics

    @Test
    void awaitValueWaitsForANonNullValueAndSucceedsWithItHoldingTheLock() {
        java.util.ArrayDeque<String> items = new java.util.ArrayDeque<>();
        take();
        AtomicInteger evaluations = new AtomicInteger();
        Future<String> item = cond.awaitValue(IMMEDIATE, () -> {
            evaluations.incrementAndGet();
            return items.poll();                         // null: not yet
        });
        assertThat(evaluations.get()).as("evaluated first, lock held").isEqualTo(1);
        assertThat(item.isDone()).isFalse();
        assertThat(lock.isLocked()).as("released to wait").isFalse();

        take();                                          // the producer
        cond.signal();                                   // a wake-up with nothing there yet
        lock.unlock();
        assertThat(item.isDone()).as("null again: waits on").isFalse();
        take();
        items.add("job-1");
        cond.signal();
        lock.unlock();

        assertThat(item.getNow()).isEqualTo("job-1");
        assertThat(evaluations.get()).isEqualTo(3);
        assertThat(lock.isLocked()).as("the caller holds the lock").isTrue();
        lock.unlock();
    }

    @Test
    void awaitValueReturnsAtOnceWhenTheValueIsThereAndFailsWithWhatTheSupplierThrows() {
        take();
        assertThat(cond.awaitValue(IMMEDIATE, () -> 42).getNow()).isEqualTo(42);
        assertThat(lock.isLocked()).isTrue();
        IllegalStateException boom = new IllegalStateException("boom");
        Future<Object> failed = cond.awaitValue(IMMEDIATE, () -> {
            throw boom;
        });
        assertThat(failed.cause()).isSameAs(boom);
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();
        assertThatThrownBy(() -> cond.awaitValue(IMMEDIATE, () -> 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("awaitValue");
    }

    @Test
    void aTimedAwaitValueTimesOutHoldingTheLock() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        take();
        Future<String> v = cond.awaitValue(ch.eventLoop(), () -> null, 50, MILLISECONDS);
        ch.advanceTimeBy(50, MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
        assertThat(v.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();
        ch.finishAndReleaseAll();
    }

    @Test
    void aWaiterWhoseExecutorShutsDownBeforeItsSignalPassesTheSignalAndTheLockOn() {
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        take();
        Future<Void> dead = cond.await(dying);
        take();
        Future<Void> next = cond.await(IMMEDIATE);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        take();
        cond.signal();                      // reaches the dead waiter first (FIFO)
        lock.unlock();
        assertThat(dead.cause()).as("it could never run with the lock: failed, holding nothing")
                .isInstanceOf(LockGivenUpException.class)
                .hasMessageContaining("shut down");
        assertThat(next.isSuccess()).as("the signal went on to the next waiter, with the lock").isTrue();
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).as("the lock is not lost to a dead executor").isFalse();
    }

    @Test
    void aWaiterWhoseExecutorShutsDownWhileItTakesTheLockBackPassesTheSignalAndTheLockOn() {
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        take();
        Future<Void> dead = cond.await(dying);
        take();
        Future<Void> next = cond.await(IMMEDIATE);
        take();
        cond.signal();                      // the dead-to-be waiter queues for the lock, alive
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        lock.unlock();
        assertThat(dead.cause()).isInstanceOf(LockGivenUpException.class);
        assertThat(next.isSuccess()).as("no signal lost: it went on to the next waiter").isTrue();
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
        assertThat(cond.queueLength()).isZero();
    }

    @Test
    void aWaiterWhoseExecutorRefusesItsResumptionWithAnyExceptionPassesTheSignalAndTheLockOn() throws Exception {
        // Not shut down, but its full task queue's rejection policy throws an
        // IllegalStateException when the relocked waiter hops to it. Before, only a
        // RejectedExecutionException was caught there: the lock stayed with a waiter that never
        // completed, and the signal was lost with it.
        try (FullQueueExecutor busy = new FullQueueExecutor()) {
            take();
            Future<Void> stuck = cond.await(busy.executor());
            take();
            Future<Void> next = cond.await(IMMEDIATE);
            busy.fill();
            take();
            cond.signal();                      // reaches the stuck waiter first (FIFO)
            lock.unlock();                      // hands it the lock; its hop is refused
            assertThat(stuck.cause()).as("it could not run with the lock: failed, holding nothing")
                    .isInstanceOf(LockGivenUpException.class)
                    .hasMessageContaining("refused").hasRootCauseInstanceOf(IllegalStateException.class);
            assertThat(next.isSuccess()).as("the signal went on to the next waiter, with the lock").isTrue();
            lock.unlock();
            assertThat(lock.isLocked()).as("the lock is not lost to the refusing executor").isFalse();
        }
    }

    @Test
    void withLockAroundAWaitThatGaveTheLockUpDoesNotUnlockTheNextHolder() throws Exception {
        // The executor refuses one task, the waiter's resumption (a full queue for an instant),
        // and then accepts the notification of the failure: withLock's listener runs. The wait
        // gave the lock up (to the holder queued behind its relock), so withLock must not unlock
        // again: it used to, releasing that holder's lock, and two parties could hold it. A
        // with-block of another lock around it must still unlock that one.
        AtomicBoolean refuseOnce = new AtomicBoolean();
        io.netty.channel.DefaultEventLoop busy = new io.netty.channel.DefaultEventLoop() {
            @Override
            public void execute(Runnable task) {
                if (refuseOnce.compareAndSet(true, false)) {
                    throw new java.util.concurrent.RejectedExecutionException("full, this once");
                }
                super.execute(task);
            }
        };
        try {
            AsyncLock outer = new AsyncLock();               // a with-block of another lock around it
            Future<Void> held = outer.withLock(busy, () -> lock.withLock(busy, () -> cond.await(busy)));
            dev.nettysync.testing.Poll.assertEventually("the action waits on the condition", java.time.Duration.ofSeconds(10),
                    () -> cond.queueLength() == 1 && !lock.isLocked());
            take();
            cond.signal();                                   // its relock queues first
            Future<Void> next = lock.lock(IMMEDIATE);        // then the next holder
            refuseOnce.set(true);
            lock.unlock();                                   // the relock is refused; the lock goes on
            assertThat(next.isSuccess()).as("the next holder got the lock").isTrue();
            assertThat(held.await(10, SECONDS)).as("withLock's future completed").isTrue();
            assertThat(lock.isLocked()).as("the next holder still holds the lock").isTrue();
            assertThat(held.cause()).as("the wait's failure, typed: it gave the lock up")
                    .isInstanceOf(LockGivenUpException.class)
                    .hasRootCauseMessage("full, this once");
            assertThat(lock.isGivenUpBy(held.cause())).as("names this lock").isTrue();
            assertThat(outer.isGivenUpBy(held.cause())).as("not the other").isFalse();
            assertThat(lock.isGivenUpBy(held.cause().getCause())).as("the refusal itself gave nothing up").isFalse();
            assertThat(lock.isGivenUpBy(null)).isFalse();
            assertThat(outer.isLocked()).as("the other lock's with-block still unlocked it").isFalse();
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
        } finally {
            busy.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void aPredicateWaitFromAnotherThreadWhoseExecutorRefusesItsFirstLookIsRefusedWithNothingChanged() throws Exception {
        // awaitUntil from a thread that is not the executor's hands its first look at the predicate
        // to the executor. An executor that refuses that task (it shut down after the wait's own
        // check, the race the stress test met in CI, or its task queue is full, as here) used to
        // make awaitUntil throw the refusal: the wait now fails as a shut-down executor's does,
        // queues nothing and leaves the caller holding the lock.
        try (FullQueueExecutor busy = new FullQueueExecutor()) {
            busy.fill();
            take();
            Future<Void> refused = cond.awaitUntil(busy.executor(), () -> true);
            assertThat(refused.cause()).as("failed, not thrown")
                    .isInstanceOf(java.util.concurrent.RejectedExecutionException.class).isNotInstanceOf(LockGivenUpException.class)
                    .hasRootCauseInstanceOf(IllegalStateException.class);
            assertThat(cond.queueLength()).as("nothing queued").isZero();
            assertThat(lock.isLocked()).as("the caller keeps the lock").isTrue();
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
        }
    }

    @Test
    void aPredicateWaitFromAnotherThreadWhoseExecutorShutsDownAsItIsAskedIsRefusedAsIfShutDownBefore() {
        // The race of the test above with a real shutdown: the executor passes the wait's own
        // check, then shuts down before it is handed the first look. The failure says what a wait
        // on an executor already shut down says (callers and the stress test's oracle tell a wait
        // refused with the lock still held by that message), with Netty's refusal as its cause.
        java.util.concurrent.atomic.AtomicBoolean raced = new java.util.concurrent.atomic.AtomicBoolean();
        io.netty.channel.DefaultEventLoop dying = new io.netty.channel.DefaultEventLoop() {   // DefaultEventExecutor is final
            @Override
            public void execute(Runnable task) {
                if (raced.compareAndSet(false, true)) {
                    shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();   // after await0's check
                }
                super.execute(task);
            }
        };
        take();
        Future<Void> refused = cond.awaitUntil(dying, () -> true);
        assertThat(raced).as("the executor was asked, after the check").isTrue();
        assertThat(refused.cause()).as("failed, not thrown")
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class).isNotInstanceOf(LockGivenUpException.class)
                .hasMessageContaining("is shut down: it could never run the wait's relock")
                .hasCauseInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(cond.queueLength()).as("nothing queued").isZero();
        assertThat(lock.isLocked()).as("the caller keeps the lock").isTrue();
        lock.unlock();
    }

    @Test
    void aTimedWaiterWhoseExecutorShutsDownEndsAtOnceAndItsEndRunsThereIfTheLockIsFree() {
        // The shutdown cancels its timer on the executor's thread, which still runs tasks then:
        // the wait leaves, takes the lock back there (it is free) and fails holding it, as
        // every end of a wait does; its listener runs and unlocks.
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        take();
        Future<Void> dead = cond.await(dying, 1, java.util.concurrent.TimeUnit.HOURS);
        AtomicBoolean unlocked = new AtomicBoolean();
        dead.addListener(f -> {
            lock.unlock();
            unlocked.set(true);
        });
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        assertThat(dead.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class).isNotInstanceOf(LockGivenUpException.class)
                .hasMessageContaining("shut down");
        assertThat(unlocked).as("its listener ran, holding the lock").isTrue();
        assertThat(cond.queueLength()).isZero();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void aTimedWaiterWhoseExecutorShutsDownLeavesAtOnceAndNeitherTheLockNorASignalIsLostToIt() {
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        take();
        Future<Void> dead = cond.await(dying, 1, java.util.concurrent.TimeUnit.HOURS);
        take();                              // held while the executor shuts down: the relock queues
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        assertThat(cond.queueLength()).as("left the condition at once").isZero();
        Future<Void> next = cond.await(IMMEDIATE);   // releases the lock: the dead waiter takes it back
        assertThat(dead.cause()).as("it could never run with the lock: failed, holding nothing")
                .isInstanceOf(LockGivenUpException.class)
                .hasMessageContaining("shut down");
        assertThat(lock.isLocked()).as("not kept by the dead waiter").isFalse();
        take();
        cond.signal();                       // reaches `next`: the dead waiter no longer stands in front
        lock.unlock();
        assertThat(next.isSuccess()).isTrue();
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void awaitOnATerminatedExecutorIsRefusedAndTheLockStaysTheCallers() {
        io.netty.util.concurrent.DefaultEventExecutor dead = new io.netty.util.concurrent.DefaultEventExecutor();
        dead.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        take();
        Future<Void> plain = cond.await(dead);
        assertThat(plain.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class).isNotInstanceOf(LockGivenUpException.class)
                .hasMessageContaining("shut down");
        Future<Object> value = cond.awaitValue(dead, () -> null);
        assertThat(value.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class).isNotInstanceOf(LockGivenUpException.class);
        assertThat(cond.queueLength()).isZero();
        assertThat(lock.isLocked()).as("still the caller's, as on any failed await").isTrue();
        cond.signal();                      // a wait queued on the dead executor would now be owed the lock
        lock.unlock();
        assertThat(lock.isLocked()).as("no relock left on an executor that cannot run it").isFalse();
    }

    @Test
    void aTimeoutOfZeroOrLessEndsTheWaitAtOnceLikeEveryOtherPrimitive() {
        take();
        for (long timeout : new long[] {0, -5}) {
            Future<Void> plain = cond.await(IMMEDIATE, timeout, SECONDS);
            assertThat(plain.cause()).as("timeout %d", timeout).isInstanceOf(WaitTimeoutException.class);
            assertThat(lock.isLocked()).as("held again, as after any timeout").isTrue();
            assertThat(cond.queueLength()).isZero();
        }
        AtomicInteger looks = new AtomicInteger();
        Future<Void> until = cond.awaitUntil(IMMEDIATE, () -> looks.incrementAndGet() < 0, 0, SECONDS);
        assertThat(until.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(looks).as("the predicate is looked at once").hasValue(1);
        assertThat(cond.awaitUntil(IMMEDIATE, () -> true, 0, SECONDS).isSuccess()).isTrue();

        ManualExecutor elsewhere = new ManualExecutor();   // the first look runs as a task there
        looks.set(0);
        Future<Object> value = cond.awaitValue(elsewhere, () -> looks.incrementAndGet() < 0 ? "x" : null, -1, SECONDS);
        elsewhere.runPending();
        assertThat(value.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(looks).hasValue(1);
        assertThat(lock.isLocked()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void statisticsCountWaitersAndIncludeTheLocks() {
        take();
        cond.await(IMMEDIATE);
        take();
        assertThat(cond.statistics()).isEqualTo(new AsyncCondition.Statistics(1, new AsyncLock.Statistics(true, 0, false)));
        cond.signal();
        assertThat(cond.statistics()).as("the signalled waiter now queues for the lock")
                .isEqualTo(new AsyncCondition.Statistics(0, new AsyncLock.Statistics(true, 1, false)));
        lock.unlock();
        lock.unlock();
    }
}
