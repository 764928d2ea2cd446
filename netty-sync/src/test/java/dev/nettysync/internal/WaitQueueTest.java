package dev.nettysync.internal;

import dev.nettysync.WaitTimeoutException;
import dev.nettysync.testing.NeverFiringTimer;
import dev.nettysync.testing.SweptTimersExecutor;
import dev.nettysync.testing.TestEventExecutor;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The wait queue on its own, apart from the primitives (as tokio tests its batch_semaphore):
 * a toy "one unit per waiter" policy stands for the primitive's decision of whom to serve.
 */
class WaitQueueTest {
    private static final EventExecutor IMMEDIATE = ImmediateEventExecutor.INSTANCE;

    /** A toy primitive: {@code units} free units, one per waiter, served FIFO. */
    private final class Units implements WaitQueue.Policy<Waiter<Integer>> {
        int units;                                   // guarded by queue
        int serveCalls;                              // guarded by queue
        final List<Waiter<Integer>> takenBack = new ArrayList<>();

        @Override
        public void serveLocked() {
            assertThat(Thread.holdsLock(queue)).isTrue();
            serveCalls++;
            while (units > 0 && queue.peekFirst() != null) {
                if (queue.grantFirst()) {
                    units--;
                }
            }
        }

        @Override
        public void takeBackLocked(Waiter<Integer> refused) {
            assertThat(Thread.holdsLock(queue)).isTrue();
            takenBack.add(refused);
            units++;
        }
    }

    private final Units units = new Units();
    private final WaitQueue<Waiter<Integer>> queue = new WaitQueue<>("toy", units);

    private Waiter<Integer> enqueue(EventExecutor executor) {
        Waiter<Integer> w = new Indexed(executor, queue);
        synchronized (queue) {
            queue.enqueue(w);
        }
        return w;
    }

    /** Completes with its index in the granted chain, as a barrier party does. */
    private static final class Indexed extends Waiter<Integer> {
        Indexed(EventExecutor executor, WaitQueue<?> queue) {
            super(executor, queue);
        }

        @Override
        protected Integer grantedValue(int index) {
            return index;
        }
    }

    /** Adds units and serves, as a primitive's release does: decide under the monitor, complete after. */
    private void release(int n) {
        Waiter<Integer> chain;
        synchronized (queue) {
            units.units += n;
            units.serveLocked();
            chain = queue.takeChain();
        }
        queue.completeGranted(chain);
    }

    @Test
    void waitersAreQueuedInFifoOrderAndLinkedBothWays() {
        Waiter<Integer> a = enqueue(IMMEDIATE);
        Waiter<Integer> b = enqueue(IMMEDIATE);
        Waiter<Integer> c = enqueue(IMMEDIATE);
        synchronized (queue) {
            assertThat(queue.peekFirst()).isSameAs(a);
            assertThat(queue.nextOf(a)).isSameAs(b);
            assertThat(queue.nextOf(b)).isSameAs(c);
            assertThat(queue.nextOf(c)).isNull();
            assertThat(queue.contains(b)).isTrue();
        }
        assertThat(queue.size()).isEqualTo(3);
    }

    @Test
    void randomEnqueuesGrantsCancelsAndTakeOutsKeepTheQueueEqualToAModelList() {
        // Every way of leaving at every position (the only waiter, the head, the tail, one in
        // the middle), an empty queue filled again, and batches, against a plain list: after each
        // step the queue walked from its head, its size, each waiter's membership and the order
        // of what was granted must match the model.
        java.util.Random random = new java.util.Random(20261128);
        List<Waiter<Integer>> model = new ArrayList<>();
        List<Waiter<Integer>> granted = new ArrayList<>();
        List<Waiter<Integer>> expectedGranted = new ArrayList<>();
        for (int step = 0; step < 20_000; step++) {
            int op = random.nextInt(10);
            if (op < 4 || model.isEmpty()) {
                Waiter<Integer> w = enqueue(IMMEDIATE);
                w.addListener(f -> {
                    if (f.isSuccess()) {
                        granted.add(w);
                    }
                });
                model.add(w);
            } else if (op < 7) {                                   // cancel anywhere
                Waiter<Integer> w = model.remove(random.nextInt(model.size()));
                assertThat(w.cancel(false)).isTrue();
            } else if (op < 9) {                                   // grant a batch from the head
                int n = 1 + random.nextInt(Math.min(3, model.size()));
                for (int i = 0; i < n; i++) {
                    expectedGranted.add(model.remove(0));
                }
                release(n);
            } else {                                               // take one out and fail it
                Waiter<Integer> w = model.remove(random.nextInt(model.size()));
                Waiter<Integer> chain;
                synchronized (queue) {
                    queue.takeOut(w);
                    chain = queue.takeChain();
                }
                assertThat(chain).isSameAs(w);
                assertThat(WaitQueue.peekNext(chain)).as("a chain of one").isNull();
                WaitQueue.failAll(chain, new IllegalStateException("taken out"));
            }
            synchronized (queue) {
                List<Waiter<Integer>> walked = new ArrayList<>();
                for (Waiter<Integer> w = queue.peekFirst(); w != null; w = queue.nextOf(w)) {
                    walked.add(w);
                    assertThat(walked.size()).as("the walk ends").isLessThanOrEqualTo(model.size());
                }
                assertThat(walked).as("step %d", step).isEqualTo(model);
                assertThat(queue.isEmpty()).isEqualTo(model.isEmpty());
                for (Waiter<Integer> w : model) {
                    assertThat(queue.contains(w)).isTrue();
                }
            }
            assertThat(queue.size()).isEqualTo(model.size());
        }
        assertThat(granted).as("granted in FIFO order").isEqualTo(expectedGranted);
    }

    @Test
    void aGrantedChainIsCompletedInFifoOrderOutsideTheMonitorWithItsIndexes() {
        Waiter<Integer> a = enqueue(IMMEDIATE);
        Waiter<Integer> b = enqueue(IMMEDIATE);
        Waiter<Integer> c = enqueue(IMMEDIATE);
        List<String> order = new ArrayList<>();
        for (Waiter<Integer> w : List.of(a, b, c)) {
            w.addListener(f -> {
                assertThat(Thread.holdsLock(queue)).as("no listener under the monitor").isFalse();
                order.add(String.valueOf(f.getNow()));
            });
        }
        release(2);
        assertThat(order).containsExactly("0", "1");
        assertThat(c.isDone()).isFalse();
        assertThat(queue.size()).isEqualTo(1);
    }

    @Test
    void aGrantIsFinalBeforeItsCompletionRuns() {
        Waiter<Integer> a = enqueue(IMMEDIATE);
        Waiter<Integer> chain;
        synchronized (queue) {
            assertThat(queue.grantFirst()).isTrue();
            chain = queue.takeChain();
        }
        assertThat(a.cancel(false)).as("granted: the cancel loses").isFalse();
        assertThat(a.isDone()).isFalse();
        queue.completeGranted(chain);
        assertThat(a.isSuccess()).isTrue();
    }

    @Test
    void aCancelledWaiterLeavesInO1AndThePolicyServesTheNext() {
        Waiter<Integer> a = enqueue(IMMEDIATE);
        Waiter<Integer> b = enqueue(IMMEDIATE);
        Waiter<Integer> c = enqueue(IMMEDIATE);
        assertThat(b.cancel(false)).isTrue();
        synchronized (queue) {
            assertThat(queue.contains(b)).isFalse();
            assertThat(queue.nextOf(a)).isSameAs(c);
            assertThat(units.serveCalls).as("the policy looked again after the leave").isEqualTo(1);
        }
        release(2);
        assertThat(a.isSuccess()).isTrue();
        assertThat(c.isSuccess()).isTrue();
        assertThat(b.isCancelled()).isTrue();
    }

    @Test
    void removeOnlyUnlinksOnceAndNeverAfterAGrant() {
        Waiter<Integer> a = enqueue(IMMEDIATE);
        Waiter<Integer> b = enqueue(IMMEDIATE);
        Waiter<Integer> c = enqueue(IMMEDIATE);
        Waiter<Integer> chain;
        synchronized (queue) {
            assertThat(queue.remove(b)).isTrue();
            assertThat(queue.remove(b)).as("it left already").isFalse();
            assertThat(queue.nextOf(a)).isSameAs(c);
            assertThat(queue.takeChain()).as("not added to the chain").isNull();
            assertThat(units.serveCalls).as("the policy was not called").isZero();
            assertThat(queue.grantFirst()).isTrue();
            assertThat(queue.remove(a)).as("granted: the grant stands").isFalse();
            chain = queue.takeChain();
        }
        assertThat(queue.size()).isEqualTo(1);
        assertThat(b.isDone()).as("the caller completes what it removed").isFalse();
        assertThat(b.cancel(false)).as("a removed waiter is no longer cancellable by the queue").isFalse();
        queue.completeGranted(chain);
        assertThat(a.isSuccess()).isTrue();
        assertThat(c.isDone()).isFalse();
    }

    @Test
    void aWaiterCompletedBehindTheQueuesBackIsSkippedWhenGranting() {
        Waiter<Integer> a = enqueue(IMMEDIATE);
        Waiter<Integer> b = enqueue(IMMEDIATE);
        a.setUncancellable();           // someone cast it to Promise and made it uncancellable...
        a.trySuccess(42);               // ...then completed it
        release(1);
        assertThat(a.getNow()).isEqualTo(42);
        assertThat(b.getNow()).as("the unit went to the next waiter").isZero();
        synchronized (queue) {
            assertThat(queue.isEmpty()).isTrue();
            assertThat(units.units).isZero();
        }
    }

    @Test
    void aGrantRefusedAfterTheClaimIsTakenBackAndServedOn() {
        Waiter<Integer> a = enqueue(IMMEDIATE);
        Waiter<Integer> b = enqueue(IMMEDIATE);
        Waiter<Integer> chain;
        synchronized (queue) {
            units.units = 1;
            units.serveLocked();        // grants a
            chain = queue.takeChain();
        }
        a.trySuccess(7);                // completed behind the queue's back after the claim
        queue.completeGranted(chain);
        assertThat(units.takenBack).containsExactly(a);
        assertThat(b.isSuccess()).as("the unit taken back went to b").isTrue();
    }

    @Test
    void aWaiterWhoseExecutorShutDownWhileQueuedRefusesItsGrantAndTheNextIsServed() {
        DefaultEventExecutor dying = new DefaultEventExecutor();
        Waiter<Integer> a = enqueue(dying);
        Waiter<Integer> b = enqueue(dying);
        Waiter<Integer> c = enqueue(IMMEDIATE);
        dying.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        release(1);
        assertThat(a.cause()).isInstanceOf(RejectedExecutionException.class).hasMessageContaining("shut down")
                .hasMessageContaining("toy");
        assertThat(b.cause()).as("the unit taken back from a is refused by b too")
                .isInstanceOf(RejectedExecutionException.class);
        assertThat(units.takenBack).containsExactly(a, b);
        assertThat(c.getNow()).as("the unit went on to the first waiter that can run a listener").isZero();
        synchronized (queue) {
            assertThat(queue.isEmpty()).isTrue();
            assertThat(units.units).as("nothing lost, nothing duplicated").isZero();
        }
    }

    @Test
    void aTimerThatCannotBeCancelledOnAShutDownExecutorDoesNotStopTheCompletion() {
        // Netty's ScheduledFutureTask.cancel() from another thread submits its removal to the
        // executor, which throws once it has shut down (a timer it never cancelled itself: one
        // whose scheduling task it ran after its last cancelScheduledTasks()).
        RefusingExecutor executor = new RefusingExecutor(false, ThrowingTimer::new);
        Waiter<Integer> a = queue.armTimer(enqueue(executor), MILLISECONDS.toNanos(50));
        Waiter<Integer> b = queue.armTimer(enqueue(executor), MILLISECONDS.toNanos(50));
        Waiter<Integer> c = enqueue(IMMEDIATE);
        executor.shutDown = true;
        release(1);
        assertThat(a.cause()).isInstanceOf(RejectedExecutionException.class).hasMessageContaining("shut down");
        assertThat(b.cause()).isInstanceOf(RejectedExecutionException.class);
        assertThat(c.isSuccess()).as("the unit went on, past the timers that threw").isTrue();
        assertThat(units.takenBack).containsExactly(a, b);
    }

    @Test
    void aTimerWhoseCancelThrowsAnythingElseStopsNeitherTheChainNorTheCaller() {
        // Netty's cancel from another thread submits the timer's removal; a full task queue
        // hands it to the executor's RejectedExecutionHandler, which may throw what it likes
        // (AsyncSemaphoreTest plays that on a real executor). Before: the exception left
        // completeGranted mid-chain, a, b and c unlinked, their units counted as given and never
        // completed, the releaser and the cancel thrown at; d left the queue, never cancelled.
        RefusingExecutor running = new RefusingExecutor(false,
                executor -> new ThrowingTimer(executor, () -> new IllegalStateException("task queue full")));
        Waiter<Integer> a = queue.armTimer(enqueue(running), MILLISECONDS.toNanos(50));
        Waiter<Integer> b = queue.armTimer(enqueue(running), MILLISECONDS.toNanos(50));
        Waiter<Integer> c = enqueue(IMMEDIATE);
        Waiter<Integer> d = queue.armTimer(enqueue(running), MILLISECONDS.toNanos(50));
        release(3);
        assertThat(List.of(a.getNow(), b.getNow(), c.getNow())).containsExactly(0, 1, 2);
        assertThat(d.cancel(false)).isTrue();
        assertThat(d.isCancelled()).isTrue();
        assertThat(queue.size()).isZero();
        assertThat(units.takenBack).isEmpty();
    }

    /** A timer that throws on cancel: as Netty's do once their executor has shut down, by default. */
    private static final class ThrowingTimer extends NeverFiringTimer {
        private final Supplier<RuntimeException> thrown;

        ThrowingTimer(EventExecutor executor) {
            this(executor, () -> new RejectedExecutionException("event executor terminated"));
        }

        ThrowingTimer(EventExecutor executor, Supplier<RuntimeException> thrown) {
            super(executor);
            this.thrown = thrown;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            throw thrown.get();
        }
    }

    @Test
    void withoutAPolicyAWaiterOnAShutDownExecutorIsCompletedAsGranted() {
        // An event or a barrier: a grant has no share to take back, so the waiter is told the
        // truth (the event was set, the barrier tripped) even if no listener of it can run.
        WaitQueue<Waiter<Integer>> plain = new WaitQueue<>("plain", null);
        DefaultEventExecutor dead = new DefaultEventExecutor();
        dead.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        Waiter<Integer> a = new Indexed(dead, plain);
        Waiter<Integer> b = new Indexed(IMMEDIATE, plain);
        Waiter<Integer> chain;
        synchronized (plain) {
            plain.enqueue(a);
            plain.enqueue(b);
            plain.grant(Integer.MAX_VALUE);
            chain = plain.takeChain();
        }
        plain.completeGranted(chain);
        assertThat(a.getNow()).isZero();
        assertThat(b.getNow()).isEqualTo(1);
    }

    @Test
    void takenOutWaitersAreFailedTogetherAndTheChainStartsAfresh() {
        Waiter<Integer> a = enqueue(IMMEDIATE);
        Waiter<Integer> b = enqueue(IMMEDIATE);
        Waiter<Integer> chain;
        synchronized (queue) {
            queue.takeOut(Integer.MAX_VALUE);
            chain = queue.takeChain();
            assertThat(queue.takeChain()).isNull();
            assertThat(queue.isEmpty()).isTrue();
        }
        IllegalStateException closed = new IllegalStateException("closed");
        WaitQueue.failAll(chain, closed);
        assertThat(a.cause()).isSameAs(closed);
        assertThat(b.cause()).isSameAs(closed);
        assertThat(queue.size()).isZero();
    }

    @Test
    void aTimedWaiterTimesOutLeavesTheQueueAndTheTimeoutIsFinal() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        Waiter<Integer> w = queue.armTimer(enqueue(ch.eventLoop()), MILLISECONDS.toNanos(50));
        ch.advanceTimeBy(50, MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(w.cause()).isInstanceOf(WaitTimeoutException.class).hasMessageContaining("50 ms")
                .hasMessageContaining("toy");
        assertThat(w.cancel(false)).isFalse();
        assertThat(queue.size()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void aGrantCancelsTheTimer() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        Waiter<Integer> w = queue.armTimer(enqueue(ch.eventLoop()), MILLISECONDS.toNanos(50));
        release(1);
        ch.runPendingTasks();
        assertThat(w.isSuccess()).isTrue();
        assertThat(ch.runScheduledPendingTasks()).as("no timer left scheduled").isEqualTo(-1);
        ch.advanceTimeBy(1, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(w.isSuccess()).as("the timer found nothing to do").isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void aCancelCancelsTheTimerSoALongTimeoutHoldsNothing() {
        // A timer that stayed scheduled would find nothing to do when it fired, but would keep
        // the waiter (and what it references) reachable from its executor until then.
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        Waiter<Integer> w = queue.armTimer(enqueue(ch.eventLoop()), TimeUnit.HOURS.toNanos(1));
        assertThat(ch.runScheduledPendingTasks()).as("the timer is scheduled").isPositive();
        assertThat(w.cancel(false)).isTrue();
        assertThat(ch.runScheduledPendingTasks()).as("no timer left scheduled").isEqualTo(-1);
        assertThat(queue.size()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void aTimeoutThatCannotBeScheduledEndsTheWaitAtOnce() {
        Waiter<Integer> w = queue.armTimer(enqueue(IMMEDIATE), 1_000);
        assertThat(w.cause()).isInstanceOf(UnsupportedOperationException.class);
        assertThat(queue.size()).isZero();
    }

    @Test
    void aTimerCancelledByItsExecutorsShutdownEndsTheQueuedWaitAsATimeoutWouldAndNoGrantedOne() {
        SweptTimersExecutor swept = new SweptTimersExecutor();
        Waiter<Integer> granted = queue.armTimer(enqueue(swept), MILLISECONDS.toNanos(50));
        Waiter<Integer> dead = queue.armTimer(enqueue(swept), MILLISECONDS.toNanos(50));
        Waiter<Integer> next = enqueue(IMMEDIATE);
        release(1);
        assertThat(granted.isSuccess()).isTrue();
        swept.cancelOldestTimer();                  // granted's: cancelled already by the grant
        assertThat(granted.isSuccess()).as("a grant is final").isTrue();
        assertThat(queue.size()).isEqualTo(2);
        int serveCalls = units.serveCalls;
        swept.cancelOldestTimer();                  // dead's: as a shutting-down executor does
        assertThat(dead.cause()).isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("is shut down").hasMessageContaining("the timeout of its wait for toy");
        assertThat(dead.cancel(false)).as("the end is final").isFalse();
        assertThat(queue.size()).as("it left the queue").isEqualTo(1);
        assertThat(units.serveCalls).as("the policy served after it left, as after a timeout").isEqualTo(serveCalls + 1);
        release(1);
        assertThat(next.isSuccess()).isTrue();
        assertThat(units.takenBack).isEmpty();
    }

    @Test
    void aTimedWaitOnAnExecutorShuttingDownEndsAtOnceWithoutSchedulingATimerItWouldCancel() {
        RefusingExecutor shuttingDown = new RefusingExecutor(true, executor -> {
            throw new AssertionError("asked to time a wait while shutting down");
        });
        Waiter<Integer> w = queue.armTimer(enqueue(shuttingDown), MILLISECONDS.toNanos(50));
        assertThat(w.cause()).isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("cancels its timers");
        assertThat(queue.size()).isZero();
    }

    @Test
    void aTimerCancelledBeforeItsListenerWasAddedEndsTheWaitAtOnce() {
        // Scheduled from another thread, swept by the shutdown before the waiter listened to it:
        // the notification of a listener added then goes through execute(), which a shut-down
        // executor refuses, so the waiter looks for itself.
        RefusingExecutor swept = new RefusingExecutor(false, executor -> {
            NeverFiringTimer t = new NeverFiringTimer(executor);
            t.cancel(false);
            return t;
        });
        Waiter<Integer> w = queue.armTimer(enqueue(swept), MILLISECONDS.toNanos(50));
        assertThat(w.cause()).isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("the timeout of its wait");
        assertThat(queue.size()).isZero();
    }

    /**
     * An executor that refuses every task, as one that is shutting down or has shut down does:
     * it says it is shutting down if built so, and shut down once the test sets {@link #shutDown};
     * its timers are what {@code timers} makes (never due: the test plays the rest).
     */
    private static final class RefusingExecutor extends TestEventExecutor {
        private final boolean shuttingDown;
        private final Function<EventExecutor, ScheduledFuture<?>> timers;
        volatile boolean shutDown;                   // written by the test

        RefusingExecutor(boolean shuttingDown, Function<EventExecutor, ScheduledFuture<?>> timers) {
            this.shuttingDown = shuttingDown;
            this.timers = timers;
        }

        @Override
        public boolean isShuttingDown() {
            return shuttingDown;
        }

        @Override
        public boolean isShutdown() {
            return shutDown;
        }

        @Override
        public boolean inEventLoop(Thread thread) {
            return false;
        }

        @Override
        public void execute(Runnable task) {
            throw new RejectedExecutionException("shut down");
        }

        @Override
        public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
            return timers.apply(this);
        }
    }

    @Test
    void negativeTimeoutsMeanDoNotWait() {
        assertThat(WaitQueue.toNanos(-5, TimeUnit.SECONDS)).isZero();
        assertThat(WaitQueue.toNanos(2, MILLISECONDS)).isEqualTo(2_000_000);
    }

    @Test
    void aHundredThousandGrantedWaitersCompleteWithoutRecursion() {
        int n = 100_000;
        List<Waiter<Integer>> all = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            all.add(enqueue(IMMEDIATE));
        }
        release(n);
        assertThat(all).allMatch(Waiter::isSuccess);
        assertThat(all.get(n - 1).getNow()).isEqualTo(n - 1);
    }
}
