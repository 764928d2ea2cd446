package dev.nettysync.examples;

import dev.nettysync.AsyncBarrier;
import dev.nettysync.AsyncCondition;
import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.examples.support.ExampleLoops;
import dev.nettysync.examples.support.Futures;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static dev.nettysync.examples.support.ExampleLoops.done;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The snippets of docs/from-asyncio.md, as written there, and its claims that are about Netty
 * rather than about one primitive: "the next holder may run before release() returns", and
 * "what runs on which thread".
 */
class FromAsyncioDocTest {

    @RegisterExtension
    static final ExampleLoops loops = new ExampleLoops();
    private static final EventExecutor a = loops.loop(0);
    private static final EventExecutor b = loops.loop(1);

    /** Holds the only permit, queues a waiter on {@code waiterLoop}, then releases from loop a. */
    private static List<String> releaseOnAWithTheNextWaiterOn(EventExecutor waiterLoop) {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        List<String> order = new CopyOnWriteArrayList<>();
        Promise<Void> both = a.newPromise();                 // once both lines are in
        a.execute(() -> {
            assertThat(sem.tryAcquire()).isTrue();
            Future<Void> next = sem.acquire(waiterLoop);
            next.addListener(f -> {
                order.add("next holder runs on " + (a.inEventLoop() ? "a" : "b"));
                sem.release();
                if (order.size() == 2) {
                    both.trySuccess(null);
                }
            });
            sem.release();
            order.add("release() returned");
            if (order.size() == 2) {
                both.trySuccess(null);
            }
        });
        assertThat(both.awaitUninterruptibly(10, TimeUnit.SECONDS)).isTrue();
        return order;
    }

    @Test
    void onTheSameLoopTheNextHoldersListenerRunsInsideRelease() {
        assertThat(releaseOnAWithTheNextWaiterOn(a)).containsExactly("next holder runs on a", "release() returned");
    }

    @Test
    void handingTheReleaseToTheExecutorGivesAsynciosOrder() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        List<String> order = new CopyOnWriteArrayList<>();
        Promise<Void> done = a.newPromise();
        a.execute(() -> {
            assertThat(sem.tryAcquire()).isTrue();
            sem.acquire(a).addListener(f -> {
                order.add("next holder runs");
                sem.release();
                done.setSuccess(null);
            });
            a.execute(sem::release);
            order.add("step ends");
        });
        assertThat(done.awaitUninterruptibly(10, TimeUnit.SECONDS)).isTrue();
        assertThat(order).containsExactly("step ends", "next holder runs");
    }

    @Test
    void onAnotherLoopTheListenerRunsThereNotInTheReleasingThread() {
        List<String> order = releaseOnAWithTheNextWaiterOn(b);
        assertThat(order).containsExactlyInAnyOrder("next holder runs on b", "release() returned");
    }

    static final class Account {
        volatile int balance = 100;
    }

    /** The Lock snippet: two withdrawals of 60 under the lock, on two loops, end at -20. */
    @Test
    void theLockSnippetWithdrawsUnderTheLock() {
        AsyncLock lock = new AsyncLock();
        Account account = new Account();
        List<Future<Object>> all = new CopyOnWriteArrayList<>();
        for (EventExecutor ex : List.of(a, b)) {
            int amount = 60;
            all.add(lock.withLock(ex, () -> {
                int current = account.balance;
                return ex.schedule(() -> {                     // await asyncio.sleep(0.1); then the rest
                    account.balance = current - amount;
                    return null;
                }, 100, MILLISECONDS);
            }));
        }
        all.forEach(ExampleLoops::done);
        assertThat(account.balance).isEqualTo(-20);
        assertThat(lock.isLocked()).isFalse();
    }

    /** The Semaphore snippet: nine calls through a semaphore of 3, never more than 3 at once. */
    @Test
    void theSemaphoreSnippetRunsThreeAtATime() {
        AsyncSemaphore sem = new AsyncSemaphore(3);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        List<String> log = new CopyOnWriteArrayList<>();
        List<Future<String>> results = new CopyOnWriteArrayList<>();
        for (int n = 0; n < 9; n++) {
            int i = n;
            EventExecutor ex = n % 2 == 0 ? a : b;
            results.add(sem.withPermit(ex, () -> {
                log.add("Task " + i + " calling API...");
                most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                return ex.schedule(() -> {
                    inside.decrementAndGet();
                    return "result-" + i;
                }, 100, MILLISECONDS);                         // the page sleeps 1 s
            }));
        }
        for (int i = 0; i < 9; i++) {
            assertThat(done(results.get(i)).getNow()).isEqualTo("result-" + i);
        }
        assertThat(most.get()).isEqualTo(3);
        assertThat(log).hasSize(9);
    }

    static final class State {
        volatile boolean dataReady;
    }

    /** The Condition snippet: a consumer waits with awaitUntil until the provider sets the flag. */
    @Test
    void theConditionSnippetWaitsUntilTheDataIsReady() {
        AsyncCondition cond = new AsyncCondition();
        State state = new State();
        List<String> log = new CopyOnWriteArrayList<>();
        String name = "C1";
        EventExecutor ex = a;
        Future<Object> consumer =
        cond.lock().withLock(ex, () -> Futures.map(cond.awaitUntil(ex, () -> state.dataReady), ex, ready -> {
            log.add(name + ": got data!");
            return null;
        }));
        assertThat(consumer.isDone()).isFalse();
        done(cond.lock().withLock(b, () -> {
            state.dataReady = true;
            log.add("Provider: data is ready");
            cond.signalAll();
            return b.newSucceededFuture(null);
        }));
        done(consumer);
        assertThat(log).containsExactly("Provider: data is ready", "C1: got data!");
        assertThat(cond.lock().isLocked()).isFalse();
    }

    /** "What runs on which thread": actions and predicates on the executor passed, the barrier action on the last caller's thread. */
    @Test
    void actionsAndPredicatesRunOnTheExecutorPassedAndTheBarrierActionOnTheLastPartysThread() {
        AtomicReference<String> actionThread = new AtomicReference<>();
        AsyncSemaphore sem = new AsyncSemaphore(1);
        done(sem.withPermit(b, () -> {
            actionThread.set(b.inEventLoop() ? "b" : Thread.currentThread().getName());
            return b.newSucceededFuture(null);
        }));
        assertThat(actionThread.get()).isEqualTo("b");

        AsyncCondition cond = new AsyncCondition();
        List<String> predicateRuns = new CopyOnWriteArrayList<>();
        done(cond.lock().withLock(b, () -> cond.awaitUntil(b, () -> {
            predicateRuns.add((b.inEventLoop() ? "b" : "elsewhere") + (cond.lock().isLocked() ? ", locked" : ", unlocked"));
            return true;
        })));
        assertThat(predicateRuns).containsExactly("b, locked");

        AsyncBarrier barrier = new AsyncBarrier(2, () -> actionThread.set(Thread.currentThread().getName()));
        Future<Integer> first = barrier.await(a);
        Future<Integer> last = barrier.await(b);                   // called from the test's thread
        assertThat(actionThread.get()).isEqualTo(Thread.currentThread().getName());
        done(first);
        done(last);
    }

    /** A timeout of zero succeeds only if no wait is needed. */
    @Test
    void aTimeoutOfZeroSucceedsOnlyIfNoWaitIsNeeded() {
        AsyncLock lock = new AsyncLock();
        assertThat(done(lock.lock(a, 0, SECONDS)).isSuccess()).isTrue();
        assertThat(done(lock.lock(a, 0, SECONDS)).cause()).isInstanceOf(dev.nettysync.WaitTimeoutException.class);
        lock.unlock();
    }

    /**
     * The Cancellation table: cancelling withPermit's future while the action runs completes it
     * for the caller at once, leaves the action's own future alone, and releases the permit only
     * when that future completes; the Function overload lets the action pass the cancel on.
     */
    @Test
    void cancellingWithPermitWhileTheActionRunsLeavesTheActionsFutureAloneUntilItCompletes() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        Promise<String> action = a.newPromise();
        Future<String> caller = sem.withPermit(a, () -> action);
        done(a.submit(() -> null));                                 // the action has started
        assertThat(sem.availablePermits()).isZero();
        assertThat(caller.cancel(false)).isTrue();
        assertThat(caller.isCancelled()).isTrue();
        assertThat(action.isDone()).as("the action's own future is not cancelled").isFalse();
        assertThat(sem.availablePermits()).as("the permit is held while the action runs").isZero();
        action.setSuccess("done");
        done(a.submit(() -> null));
        assertThat(sem.availablePermits()).isEqualTo(1);

        Promise<String> stoppable = a.newPromise();
        Future<String> caller2 = sem.withPermit(a, (Future<String> c) -> {
            c.addListener(x -> { if (x.isCancelled()) stoppable.cancel(false); });
            return stoppable;
        });
        done(a.submit(() -> null));
        assertThat(caller2.cancel(false)).isTrue();
        done(stoppable);
        assertThat(stoppable.isCancelled()).isTrue();
        done(a.submit(() -> null));
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    /** The Lock table: a timed withLock. */
    @Test
    void aTimedWithLockTimesOutWithoutRunningTheBody() {
        AsyncLock lock = new AsyncLock();
        List<String> ran = new CopyOnWriteArrayList<>();
        assertThat(lock.tryLock()).isTrue();                          // held by someone else
        Future<String> refused = lock.withLock(a, 50, MILLISECONDS, () -> {
            ran.add("body");
            return a.newSucceededFuture("done");
        });
        assertThat(done(refused).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(ran).isEmpty();
        lock.unlock();
        Future<String> admitted = lock.withLock(a, 1, SECONDS, () -> {
            ran.add("body, locked: " + lock.isLocked());
            return a.newSucceededFuture("done");
        });
        assertThat(done(admitted).getNow()).isEqualTo("done");
        assertThat(ran).containsExactly("body, locked: true");
        assertThat(lock.isLocked()).as("unlocked exactly once").isFalse();
    }

    /** The Condition table: locked(), awaitValue (wait_for with its result), a timed awaitUntil. */
    @Test
    void theConditionTableRowsDoWhatTheySay() {
        AsyncCondition cond = new AsyncCondition();
        Map<String, String> cache = new HashMap<>();                 // guarded by cond.lock()
        String key = "k";
        assertThat(cond.lock().isLocked()).isFalse();                // cond.locked()
        Future<String> value = cond.lock().withLock(a, () -> cond.awaitValue(a, () -> cache.get(key)));
        done(cond.lock().withLock(b, () -> {
            cache.put("other", "not this one");
            cond.signalAll();
            return b.newSucceededFuture(null);
        }));
        assertThat(value.isDone()).as("null is \"not yet\"").isFalse();
        done(cond.lock().withLock(b, () -> {
            cache.put(key, "v");
            cond.signalAll();
            return b.newSucceededFuture(null);
        }));
        assertThat(done(value).getNow()).isEqualTo("v");

        AtomicInteger looks = new AtomicInteger();
        Future<Void> timed = cond.lock().withLock(a, () -> cond.awaitUntil(a, () -> looks.incrementAndGet() > 2, 100, MILLISECONDS));
        done(cond.lock().withLock(b, () -> {                           // one signal: a second look, still false
            cond.signalAll();
            return b.newSucceededFuture(null);
        }));
        assertThat(done(timed).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(looks.get()).isEqualTo(2);
        assertThat(cond.lock().isLocked()).as("the timed-out wait held the lock; withLock unlocked it").isFalse();
    }

    /** The Barrier table: reset() fails the waiters with java.util.concurrent.BrokenBarrierException. */
    @Test
    void aResetBarriersWaitersFailWithBrokenBarrierException() {
        AsyncBarrier barrier = new AsyncBarrier(2);
        Future<Integer> waiting = barrier.await(a);
        barrier.reset();
        assertThat(done(waiting).cause()).isInstanceOf(BrokenBarrierException.class);
    }

    /** Timeouts: a cancel scheduled around a whole block ends it cancelled, and the timer is dropped if the block ends first. */
    @Test
    void aTimeoutAroundAWholeBlockCancelsItAndIsDroppedIfTheBlockEndsFirst() {
        EventExecutor ex = a;
        Promise<String> work = ex.newPromise();                          // a block that never ends by itself
        Future<?> timer = ex.schedule(() -> work.cancel(false), 50, MILLISECONDS);   // the page: 5 s
        work.addListener(f -> timer.cancel(false));
        assertThat(done(work).isCancelled()).isTrue();
        assertThat(work.cause()).isInstanceOf(CancellationException.class);

        Promise<String> quick = ex.newPromise();
        Future<?> timer2 = ex.schedule(() -> quick.cancel(false), 5, SECONDS);
        quick.addListener(f -> timer2.cancel(false));
        quick.setSuccess("done");
        assertThat(done(timer2).isCancelled()).as("the timer is dropped").isTrue();
    }

    /**
     * The Cancellation table: a cancel that loses to a grant returns false while the future may
     * not be complete yet, so isSuccess() at that instant says nothing; a listener releases.
     * release(2) grants two waiters under the semaphore's monitor and completes them in order:
     * the first one's listener cancels the second in that window.
     */
    @Test
    void aCancelThatLosesToAGrantMayComeBeforeTheFutureCompletesSoAListenerReleases() {
        AsyncSemaphore sem = new AsyncSemaphore(0);
        EventExecutor immediate = ImmediateEventExecutor.INSTANCE;
        Future<Void> first = sem.acquire(immediate);
        Future<Void> f = sem.acquire(immediate);
        AtomicReference<String> atCancel = new AtomicReference<>();
        first.addListener(x -> {
            if (!f.cancel(false)) {
                atCancel.set("cancel false, isSuccess " + f.isSuccess());
                f.addListener(g -> { if (g.isSuccess()) sem.release(); });
            }
        });
        sem.release(2);
        assertThat(atCancel.get()).isEqualTo("cancel false, isSuccess false");
        assertThat(f.isSuccess()).isTrue();
        sem.release();                                                    // first's holder
        assertThat(sem.availablePermits()).as("both permits back: the listener released f's").isEqualTo(2);
    }
}
