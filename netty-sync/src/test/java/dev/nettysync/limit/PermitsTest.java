package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.QueueFullException;
import dev.nettysync.channel.ChannelLimits;
import dev.nettysync.testing.AnsweringLimiter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

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

        Promise<String> running = NOW.newPromise();
        Future<String> cancelled = limiter.withPermit(NOW, () -> running);
        running.cancel(false);
        assertThat(cancelled.isCancelled()).isTrue();
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
