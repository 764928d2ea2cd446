package dev.nettysync;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AsyncLockTest extends ScenarioTest {
    @Test
    void lockIsExclusiveAndHandedOverInFifoOrder() {
        AsyncLock lock = new AsyncLock();
        invariants.check(lock);
        List<String> order = new ArrayList<>();
        assertThat(lock.lock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.isLocked()).isTrue();
        for (String name : List.of("a", "b", "c")) {
            lock.lock(IMMEDIATE).addListener(f -> order.add(name));
        }
        assertThat(lock.tryLock()).isFalse();
        assertThat(lock.queueLength()).isEqualTo(3);
        lock.unlock();
        assertThat(order).containsExactly("a");
        assertThat(lock.isLocked()).as("handed over, not freed").isTrue();
        lock.unlock();
        lock.unlock();
        assertThat(order).containsExactly("a", "b", "c");
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void aTimedLockWhoseExecutorShutsDownWhileQueuedEndsAtOnceAndTheLockGoesToTheNextWaiter() {
        AsyncLock lock = invariants.check(new AsyncLock(1));
        assertThat(lock.tryLock()).isTrue();
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Void> dead = lock.lock(dying, 1, java.util.concurrent.TimeUnit.HOURS);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        assertThat(dead.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down");
        assertThat(lock.queueLength()).isZero();
        Future<Void> next = lock.lock(IMMEDIATE);
        assertThat(next.isDone()).as("the maxPending slot is free: queued, not refused").isFalse();
        lock.unlock();
        assertThat(next.isSuccess()).as("the lock went to the next waiter, not to the dead one").isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void unlockingAnUnlockedLockThrowsAndChangesNothing() {
        AsyncLock lock = new AsyncLock();
        invariants.check(lock);
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not locked");
        assertThat(lock.tryLock()).isTrue();
        lock.unlock();
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalStateException.class);
        assertThat(lock.isLocked()).isFalse();
        assertThat(lock.tryLock()).isTrue();
    }

    @Test
    void itIsNotReentrant() {
        AsyncLock lock = new AsyncLock();
        invariants.check(lock);
        assertThat(lock.tryLock()).isTrue();
        Future<Void> again = lock.lock(IMMEDIATE);
        assertThat(again.isDone()).as("a second lock by the same caller waits").isFalse();
        lock.unlock();
        assertThat(again.isSuccess()).isTrue();
    }

    @Test
    void aCancelledWaiterLeavesAndTheNextOneGetsTheLock() {
        AsyncLock lock = new AsyncLock();
        invariants.check(lock);
        assertThat(lock.tryLock()).isTrue();
        Future<Void> a = lock.lock(IMMEDIATE);
        Future<Void> b = lock.lock(IMMEDIATE);
        a.cancel(false);
        assertThat(lock.queueLength()).isEqualTo(1);
        lock.unlock();
        assertThat(b.isSuccess()).isTrue();
    }

    @Test
    void withLockUnlocksExactlyOnceWhateverTheActionDoes() {
        AsyncLock lock = new AsyncLock();
        invariants.check(lock);
        Promise<Integer> p = IMMEDIATE.newPromise();
        Future<Integer> r = lock.withLock(IMMEDIATE, () -> p);
        assertThat(lock.isLocked()).isTrue();
        p.setFailure(new RuntimeException("x"));
        assertThat(r.cause()).hasMessage("x");
        assertThat(lock.isLocked()).isFalse();

        Future<Integer> thrown = lock.withLock(IMMEDIATE, () -> {
            throw new IllegalStateException("y");
        });
        assertThat(thrown.cause()).hasMessage("y");
        assertThat(lock.isLocked()).isFalse();
        assertThat(lock.withLock(IMMEDIATE, () -> IMMEDIATE.newSucceededFuture(7)).getNow()).isEqualTo(7);
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void withLockWhoseActionUnlocksItselfFailsItsFutureInsteadOfHanging() {
        AsyncLock lock = new AsyncLock();
        invariants.check(lock);
        Future<Integer> returned = lock.withLock(IMMEDIATE, () -> {
            lock.unlock();                  // misuse: withLock unlocks itself
            return IMMEDIATE.newSucceededFuture(1);
        });
        assertThat(returned.isDone()).as("the returned future must complete, not hang").isTrue();
        assertThat(returned.cause()).isInstanceOf(IllegalStateException.class).hasMessageContaining("not locked");

        Future<Integer> thrown = lock.withLock(IMMEDIATE, () -> {
            lock.unlock();
            throw new IllegalArgumentException("action failed");
        });
        assertThat(thrown.isDone()).as("the returned future must complete, not hang").isTrue();
        assertThat(thrown.cause()).isInstanceOf(IllegalArgumentException.class).hasMessage("action failed");
        assertThat(thrown.cause().getSuppressed()).singleElement()
                .isInstanceOf(IllegalStateException.class);
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void maxPendingAndCloseApplyToTheLock() {
        AsyncLock lock = new AsyncLock(1);
        invariants.check(lock);
        assertThat(lock.tryLock()).isTrue();
        Future<Void> a = lock.lock(IMMEDIATE);
        assertThat(lock.lock(IMMEDIATE).cause()).isInstanceOf(QueueFullException.class);
        lock.close();
        assertThat(a.cause()).isInstanceOf(ClosedException.class);
        assertThat(lock.lock(IMMEDIATE, 1, SECONDS).cause()).isInstanceOf(ClosedException.class);
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void cancellingWithLockWhileTheActionRunsNeverLetsASecondHolderIn() {
        AsyncLock lock = new AsyncLock();
        invariants.check(lock);
        AtomicInteger inside = new AtomicInteger();        // actions whose code is running now
        AtomicInteger mostInside = new AtomicInteger();
        List<Promise<String>> work = new ArrayList<>();    // each action's own future, completed by its code
        Supplier<Future<String>> action = () -> {
            mostInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
            Promise<String> p = IMMEDIATE.newPromise();
            work.add(p);
            return p;                                      // the rest of the action runs later
        };
        Future<String> first = lock.withLock(IMMEDIATE, action);
        Future<String> second = lock.withLock(IMMEDIATE, action);

        assertThat(first.cancel(false)).as("the caller gives up at once").isTrue();
        assertThat(first.isCancelled()).isTrue();
        assertThat(work).as("the second action must wait for the first one's code to finish").hasSize(1);
        assertThat(work.get(0).isDone()).as("the action's own future is left alone").isFalse();
        assertThat(lock.isLocked()).isTrue();

        inside.decrementAndGet();                          // the first action's last step
        work.get(0).setSuccess("first");
        assertThat(work).as("now the second one runs").hasSize(2);
        assertThat(first.isCancelled()).as("the caller's cancel stands").isTrue();
        inside.decrementAndGet();
        work.get(1).setSuccess("second");

        assertThat(second.getNow()).isEqualTo("second");
        assertThat(mostInside.get()).as("two holders never overlapped").isEqualTo(1);
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void aTimedWithLockGivesUpWaitingWithoutRunningTheActionAndOtherwiseUnlocksOnce() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncLock lock = invariants.check(new AsyncLock());
        assertThat(lock.tryLock()).isTrue();
        AtomicInteger runs = new AtomicInteger();
        Future<String> late = lock.withLock(ch.eventLoop(), 50, MILLISECONDS, () -> {
            runs.incrementAndGet();
            return ch.eventLoop().newSucceededFuture("late");
        });
        Promise<String> work = ch.eventLoop().newPromise();
        Future<String> inTime = lock.withLock(ch.eventLoop(), 1, SECONDS, (Future<String> caller) -> {
            runs.incrementAndGet();
            return work;
        });
        ch.advanceTimeBy(50, MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
        assertThat(late.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(runs.get()).as("the timed-out action never ran").isZero();
        assertThat(lock.queueLength()).as("only the second one waits").isEqualTo(1);

        lock.unlock();                                     // the lock goes to the one still waiting
        ch.runPendingTasks();
        assertThat(runs.get()).isEqualTo(1);
        assertThat(lock.isLocked()).as("held while its action runs").isTrue();
        ch.advanceTimeBy(1, SECONDS);                      // its timeout no longer applies
        ch.runScheduledPendingTasks();
        work.setSuccess("done");
        ch.runPendingTasks();
        assertThat(inTime.getNow()).isEqualTo("done");
        assertThat(lock.isLocked()).as("unlocked exactly once, by the action's end").isFalse();
        assertThat(lock.withLock(IMMEDIATE, 0, SECONDS, () -> IMMEDIATE.newSucceededFuture(7)).getNow())
                .as("a free lock is taken even with no wait allowed").isEqualTo(7);
        assertThat(lock.isLocked()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void statisticsSayWhetherItIsHeldAndWhoWaits() {
        AsyncLock lock = new AsyncLock();
        invariants.check(lock);
        assertThat(lock.statistics()).isEqualTo(new AsyncLock.Statistics(false, 0, false));
        assertThat(lock.tryLock()).isTrue();
        lock.lock(IMMEDIATE);
        assertThat(lock.statistics()).isEqualTo(new AsyncLock.Statistics(true, 1, false));
        lock.close();
        assertThat(lock.statistics()).isEqualTo(new AsyncLock.Statistics(true, 0, true));
    }
}
