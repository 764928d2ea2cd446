package dev.nettysync.limit;

import dev.nettysync.AsyncCondition;
import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.LockGivenUpException;
import dev.nettysync.QueueFullException;
import dev.nettysync.channel.ChannelLimits;
import dev.nettysync.testing.AnsweringLimiter;
import dev.nettysync.testing.LogCapture;
import dev.nettysync.testing.Poll;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link AsyncLimiter#withPermit}'s shared body: how the wait's ending reaches the returned future. */
class PermitsTest {
    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;

    /** {@code limiter.withPermit} of an action that counts its runs in {@code ran} and succeeds. */
    private static Future<String> counted(AsyncLimiter limiter, AtomicInteger ran) {
        return limiter.withPermit(NOW, () -> {
            ran.incrementAndGet();
            return NOW.newSucceededFuture("ran");
        });
    }

    /** A limiter built around {@code lock}, whose other parts are {@code sem} and {@code otherLock}. */
    @FunctionalInterface
    interface AroundALock {
        AsyncLimiter build(AsyncLock lock, AsyncSemaphore sem, AsyncLock otherLock);
    }

    /**
     * The ways this package holds a lock's permit: alone, in a composite on either side, by key,
     * fail-open, and beside a permit of another lock (which the failure does not name).
     */
    static Stream<Arguments> viewsOfALock() {
        return Stream.of(
                Arguments.of("of(lock)", (AroundALock) (lock, sem, other) -> AsyncLimiter.of(lock)),
                Arguments.of("all(of(lock), of(sem))", (AroundALock)
                        (lock, sem, other) -> AsyncLimiter.all(AsyncLimiter.of(lock), AsyncLimiter.of(sem))),
                Arguments.of("all(of(sem), of(other lock), of(lock))", (AroundALock)
                        (lock, sem, other) -> AsyncLimiter.all(AsyncLimiter.of(sem), AsyncLimiter.of(other), AsyncLimiter.of(lock))),
                Arguments.of("all(keyed forKey, of(sem))", (AroundALock)
                        (lock, sem, other) -> AsyncLimiter.all(
                                KeyedLimiter.<String>builder(key -> AsyncLimiter.of(lock)).build().forKey("k"),
                                AsyncLimiter.of(sem))),
                Arguments.of("failOpen(of(lock))", (AroundALock)
                        (lock, sem, other) -> AsyncLimiter.failOpen(AsyncLimiter.of(lock), cause -> false)),
                // Parts the failure does not concern, which must end as usual: a permit of a
                // subclass of AbstractPermit that holds nothing, and one of another package.
                Arguments.of("all(of(lock), permits extending AbstractPermit)", (AroundALock)
                        (lock, sem, other) -> AsyncLimiter.all(AsyncLimiter.of(lock),
                                new RecordingLimiter("sem", sem, new ArrayList<>()))),
                Arguments.of("all(of(lock), permits of another package)", (AroundALock)
                        (lock, sem, other) -> AsyncLimiter.all(AsyncLimiter.of(lock), new ForwardingLimiter(AsyncLimiter.of(sem)) {
                            @Override
                            protected Permit map(Permit inner) {
                                return new ForeignPermit(inner);
                            }
                        })));
    }

    /** A permit that implements {@link Permit} itself, as a user's limiter may: forwards to {@code inner}. */
    private record ForeignPermit(Permit inner) implements Permit {
        @Override
        public boolean release() {
            return inner.release();
        }

        @Override
        public boolean releaseDropped() {
            return inner.releaseDropped();
        }

        @Override
        public boolean releaseIgnored() {
            return inner.releaseIgnored();
        }

        @Override
        public boolean isReleased() {
            return inner.isReleased();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("viewsOfALock")
    void aConditionWaitThatGaveTheLockUpEndsTheLocksPermitWithoutUnlockingTheNextHolder(String view, AroundALock around)
            throws Exception {
        // AsyncConditionTest's withLock case, through a limiter view of the lock. The executor
        // refuses one task, the waiter's resumption (its queue full for an instant), then accepts
        // the notification of the failure, so withPermit's end runs. The wait gave the lock up to
        // the holder queued behind its relock: the lock's permit must end without unlocking (it
        // used to unlock, releasing that holder's lock), and every other part still gives back,
        // another lock's permit included.
        AtomicBoolean refuseOnce = new AtomicBoolean();
        DefaultEventLoop busy = new DefaultEventLoop() {
            @Override
            public void execute(Runnable task) {
                if (refuseOnce.compareAndSet(true, false)) {
                    throw new RejectedExecutionException("full, this once");
                }
                super.execute(task);
            }
        };
        try {
            AsyncLock lock = new AsyncLock();
            AsyncLock otherLock = new AsyncLock();
            AsyncCondition cond = new AsyncCondition(lock);
            AsyncSemaphore sem = new AsyncSemaphore(1);
            AsyncLimiter limiter = around.build(lock, sem, otherLock);
            Future<Void> held = limiter.withPermit(busy, () -> cond.await(busy));
            Poll.assertEventually("the action waits on the condition", Duration.ofSeconds(10),
                    () -> cond.queueLength() == 1 && !lock.isLocked());
            assertThat(lock.tryLock()).isTrue();
            cond.signal();                                   // its relock queues first
            Future<Void> next = lock.lock(NOW);              // then the next holder
            refuseOnce.set(true);
            lock.unlock();                                   // the relock is refused; the lock goes on
            assertThat(next.isSuccess()).as("the next holder got the lock").isTrue();
            assertThat(held.await(10, TimeUnit.SECONDS)).as("withPermit's future completed").isTrue();
            assertThat(held.cause()).as("the wait's failure").isInstanceOf(LockGivenUpException.class);
            assertThat(lock.isGivenUpBy(held.cause())).as("names this lock").isTrue();
            assertThat(otherLock.isGivenUpBy(held.cause())).as("not the other").isFalse();
            assertThat(lock.isLocked()).as("the next holder still holds the lock").isTrue();
            assertThat(sem.availablePermits()).as("a semaphore part was given back").isEqualTo(1);
            assertThat(otherLock.isLocked()).as("another lock's part was unlocked").isFalse();
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
            Permit again = limiter.tryAcquire();
            assertThat(again).as("the view admits again: nothing lost, nothing held twice").isNotNull();
            assertThat(again.release()).isTrue();
            assertThat(lock.isLocked()).isFalse();
        } finally {
            busy.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void aWaitCancelledByTheLimiterCancelsTheReturnedFuture() {
        // A limiter whose one wait is a promise the test ends, as a limiter that cancels its own waits would.
        Promise<Permit> wait = NOW.newPromise();
        AsyncLimiter limiter = new AnsweringLimiter(executor -> wait,
                () -> new LimiterStatistics(1, 0, 0, wait.isDone() ? 0 : 1));
        AtomicInteger ran = new AtomicInteger();
        Future<String> result = counted(limiter, ran);
        assertThat(result.isDone()).isFalse();

        wait.cancel(false);             // not by the caller: e.g. a bound wait whose channel closed

        assertThat(result.isCancelled()).as("the caller's future ends").isTrue();
        assertThat(ran).hasValue(0);
    }

    @Test
    void thePermitEndsAsTheActionsFutureEnded() {
        RecordingLimiter limiter = new RecordingLimiter(1, 1);
        Promise<String> cancelled = NOW.newPromise();
        Future<String> ok = limiter.withPermit(NOW, () -> NOW.newSucceededFuture("ok"));
        Future<String> slow = limiter.withPermit(NOW, () -> NOW.newFailedFuture(new TimeoutException("backend slow")));
        Future<String> busy = limiter.withPermit(NOW, () -> NOW.newFailedFuture(new RejectedExecutionException("busy")));
        Future<String> broke = limiter.withPermit(NOW, () -> NOW.newFailedFuture(new IOException("says nothing of load")));
        Future<String> gone = limiter.withPermit(NOW, () -> cancelled);
        cancelled.cancel(false);

        assertThat(limiter.outcomes).as("success, overload, overload, not overload, never finished")
                .containsExactly(Permit.Outcome.SUCCESS, Permit.Outcome.DROPPED, Permit.Outcome.DROPPED,
                        Permit.Outcome.SUCCESS, Permit.Outcome.IGNORED);
        assertThat(ok.getNow()).isEqualTo("ok");
        assertThat(slow.cause()).isInstanceOf(TimeoutException.class);
        assertThat(busy.cause()).isInstanceOf(RejectedExecutionException.class);
        assertThat(broke.cause()).isInstanceOf(IOException.class);
        assertThat(gone.isCancelled()).isTrue();
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
    }

    @Test
    void cancellingTheReturnedFutureWhileItWaitsLeavesTheQueue() {
        RecordingLimiter limiter = new RecordingLimiter(1, 1);
        Permit held = limiter.tryAcquire();
        AtomicInteger ran = new AtomicInteger();
        Future<String> result = counted(limiter, ran);
        assertThat(limiter.semaphore.queueLength()).isEqualTo(1);

        assertThat(result.cancel(false)).isTrue();

        assertThat(limiter.semaphore.queueLength()).as("left the queue at once").isZero();
        held.release();
        assertThat(ran).hasValue(0);
        assertThat(limiter.semaphore.availablePermits()).as("the permit went to nobody").isEqualTo(1);
    }

    @Test
    void aWaitThatFailsFailsTheReturnedFutureWithItsCause() {
        RecordingLimiter limiter = new RecordingLimiter(1, 0);
        Permit held = limiter.tryAcquire();
        AtomicInteger ran = new AtomicInteger();
        Future<String> result = counted(limiter, ran);
        assertThat(result.cause()).as("failed, not cancelled").isInstanceOf(QueueFullException.class);
        assertThat(ran).hasValue(0);
        held.release();
    }

    @Test
    void aCompositeWaitingOnAChannelBoundPartEndsWhenTheChannelCloses() {
        EmbeddedChannel channel = new EmbeddedChannel();
        AsyncSemaphore perClient = new AsyncSemaphore(1, 10);
        AsyncSemaphore global = new AsyncSemaphore(1, 10);
        assertThat(perClient.tryAcquire()).isTrue();            // the client's slot is taken: the next one queues
        AsyncLimiter both = AsyncLimiter.all(
                ChannelLimits.forChannel(AsyncLimiter.of(perClient), channel), AsyncLimiter.of(global));
        AtomicInteger ran = new AtomicInteger();

        Future<String> result = both.withPermit(channel.eventLoop(), () -> {
            ran.incrementAndGet();
            return channel.eventLoop().newSucceededFuture("ran");
        });
        channel.runPendingTasks();
        assertThat(result.isDone()).isFalse();
        assertThat(perClient.queueLength()).isEqualTo(1);

        channel.close();                                        // the client goes away while queued
        channel.runPendingTasks();

        assertThat(perClient.queueLength()).as("left the queue").isZero();
        assertThat(result.isCancelled()).as("the caller's future ends").isTrue();
        assertThat(ran).hasValue(0);
        assertThat(global.availablePermits()).isEqualTo(1);
        perClient.release();
        assertThat(perClient.availablePermits()).isEqualTo(1);
    }

    /** A limiter that admits at once with permits whose end throws, counting the ends. */
    private static AsyncLimiter permitsThatThrowOnEnd(AtomicInteger ends) {
        return new AnsweringLimiter(executor -> executor.newSucceededFuture(new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
                ends.incrementAndGet();
                throw new IllegalStateException("end broke on purpose");
            }
        }));
    }

    @Test
    void aPermitWhoseEndThrowsStillCompletesTheReturnedFutureAsTryWithResourcesWould() {
        AtomicInteger ends = new AtomicInteger();
        AsyncLimiter limiter = permitsThatThrowOnEnd(ends);

        Future<String> succeeded = limiter.withPermit(NOW, () -> NOW.newSucceededFuture("ran"));
        assertThat(succeeded.cause()).as("the action succeeded: the end's exception is the outcome")
                .isInstanceOf(IllegalStateException.class).hasMessage("end broke on purpose");

        Exception actionFailure = new Exception("the action failed");
        Future<String> failed = limiter.withPermit(NOW, () -> NOW.newFailedFuture(actionFailure));
        assertThat(failed.cause()).as("the action's failure, the end's suppressed in it").isSameAs(actionFailure);
        assertThat(actionFailure.getSuppressed()).extracting(Throwable::getMessage).containsExactly("end broke on purpose");

        RuntimeException thrown = new RuntimeException("the action threw");
        Future<String> threw = limiter.withPermit(NOW, () -> {
            throw thrown;
        });
        assertThat(threw.cause()).isSameAs(thrown);
        assertThat(thrown.getSuppressed()).extracting(Throwable::getMessage).containsExactly("end broke on purpose");

        try (LogCapture log = LogCapture.of(Permits.class)) {
            Promise<String> running = NOW.newPromise();
            Future<String> cancelled = limiter.withPermit(NOW, () -> running);
            running.cancel(false);
            assertThat(cancelled.isCancelled()).isTrue();
            assertThat(log.records()).as("a cancellation has no cause to carry the end's failure: it is logged")
                    .singleElement().satisfies(r -> {
                        assertThat(r.getLevel()).isEqualTo(Level.WARNING);
                        assertThat(r.getMessage()).contains("after its action was cancelled threw");
                        assertThat(r.getThrown()).hasMessage("end broke on purpose");
                    });
        }
        assertThat(ends).as("every permit ended once").hasValue(4);
    }

    @Test
    void aNullActionIsRefusedBeforeAnythingIsAcquired() {
        AsyncSemaphore semaphore = new AsyncSemaphore(1, 10);
        AsyncLimiter limiter = AsyncLimiter.of(semaphore);

        assertThatThrownBy(() -> limiter.withPermit(NOW, null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("action");
        assertThatThrownBy(() -> limiter.withPermit(NOW, 1, TimeUnit.SECONDS, null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("action");

        assertThat(semaphore.availablePermits()).as("nothing taken").isEqualTo(1);
    }

    @Test
    void anExecutorAlreadyShutDownIsRefusedBeforeAnythingIsAcquired() {
        io.netty.util.concurrent.DefaultEventExecutor dead = new io.netty.util.concurrent.DefaultEventExecutor();
        dead.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        AsyncSemaphore semaphore = new AsyncSemaphore(1, 10);
        AsyncLimiter limiter = AsyncLimiter.of(semaphore);
        AtomicInteger ran = new AtomicInteger();

        Future<String> r = limiter.withPermit(dead, () -> {
            ran.incrementAndGet();
            return NOW.newSucceededFuture("x");
        });
        Future<String> timed = limiter.withPermit(dead, 1, TimeUnit.SECONDS, () -> NOW.newSucceededFuture("y"));

        assertThat(r.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class)
                .hasMessageContaining("shut down");
        assertThat(timed.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(ran).hasValue(0);
        assertThat(semaphore.availablePermits()).as("nothing taken for an action that can never run").isEqualTo(1);
    }
}
