package dev.nettysync.channel;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RecordingLimiter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ChannelLimits}: waits and permits bound to a channel's life. */
class ChannelLimitsTest {
    private final EmbeddedChannel channel = new EmbeddedChannel();

    @Test
    void aWaitIsCancelledWhenItsChannelClosesAndItsQueueSlotIsFreedAtOnce() {
        RecordingLimiter limiter = new RecordingLimiter(1, 1);
        Permit held = limiter.tryAcquire();
        Future<Permit> wait = ChannelLimits.acquire(limiter, channel);
        assertThat(limiter.semaphore.queueLength()).isEqualTo(1);

        channel.close();
        assertThat(wait.isCancelled()).isTrue();
        assertThat(limiter.semaphore.queueLength()).as("slot freed at once").isZero();
        Future<Permit> next = limiter.acquire(new EmbeddedChannel().eventLoop());
        assertThat(next.isDone()).as("another client may queue in the freed slot").isFalse();
        held.release();
        assertThat(next.isSuccess()).isTrue();
        next.getNow().release();
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.SUCCESS, Permit.Outcome.SUCCESS);
    }

    @Test
    void aHeldPermitIsReleasedIgnoredWhenItsChannelClosesExactlyOnce() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Future<Permit> f = ChannelLimits.acquire(limiter, channel);
        Permit permit = f.getNow();
        assertThat(limiter.semaphore.availablePermits()).isZero();

        channel.close();
        assertThat(permit.isReleased()).isTrue();
        assertThat(permit.release()).as("already ended by the close").isFalse();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED);
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
    }

    @Test
    void aPermitGrantedWhileQueuedIsBoundToo() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Permit held = limiter.tryAcquire();
        Future<Permit> f = ChannelLimits.acquire(limiter, channel, 1, TimeUnit.MINUTES);
        held.release();
        assertThat(f.isSuccess()).isTrue();
        assertThat(f.cancel(false)).as("granted: final").isFalse();
        channel.close();
        assertThat(f.getNow().isReleased()).isTrue();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.SUCCESS, Permit.Outcome.IGNORED);
    }

    @Test
    void endingThePermitFirstRemovesItsCloseListenerSoALongLivedChannelCollectsNone() throws Exception {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        int before = listenerCount(channel.closeFuture());
        for (int i = 0; i < 10_000; i++) {
            Permit p = ChannelLimits.acquire(limiter, channel).getNow();
            switch (i % 3) {
                case 0 -> p.release();
                case 1 -> p.releaseDropped();
                default -> p.close();
            }
        }
        Permit last = ChannelLimits.acquire(limiter, channel).getNow();
        assertThat(listenerCount(channel.closeFuture())).isEqualTo(before + 1);
        last.release();
        assertThat(listenerCount(channel.closeFuture())).isEqualTo(before);

        // Waits too: one that is granted or cancelled leaves no listener behind.
        Permit held = limiter.tryAcquire();
        Future<Permit> w1 = ChannelLimits.acquire(limiter, channel);
        Future<Permit> w2 = ChannelLimits.acquire(limiter, channel, 1, TimeUnit.MINUTES);
        assertThat(listenerCount(channel.closeFuture())).isEqualTo(before + 2);
        w2.cancel(false);
        held.release();
        w1.getNow().release();
        assertThat(listenerCount(channel.closeFuture())).isEqualTo(before);
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void aTimedWaitTimesOutAndLeavesNothingBehind() throws Exception {
        AsyncSemaphore sem = new AsyncSemaphore(0);
        int before = listenerCount(channel.closeFuture());
        Future<Permit> f = ChannelLimits.acquire(AsyncLimiter.of(sem), channel, 10, TimeUnit.MILLISECONDS);
        Thread.sleep(30);
        channel.runScheduledPendingTasks();
        assertThat(f.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(sem.queueLength()).isZero();
        assertThat(listenerCount(channel.closeFuture())).isEqualTo(before);
    }

    @Test
    void aClosedChannelGetsACancelledWaitAndABoundPermitEndsAtOnce() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        channel.close();
        assertThat(ChannelLimits.acquire(limiter, channel).isCancelled()).isTrue();
        assertThat(limiter.semaphore.availablePermits()).as("limiter untouched").isEqualTo(1);

        Permit bound = ChannelLimits.bind(limiter.tryAcquire(), channel);
        assertThat(bound.isReleased()).isTrue();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED);
    }

    @Test
    void waitsBoundToAnAlreadyClosedChannelAreCancelledAndHoldNothing() {
        RecordingLimiter limiter = new RecordingLimiter(0, 10);
        channel.close();
        assertThat(ChannelLimits.acquire(limiter, channel, 1, TimeUnit.SECONDS).isCancelled()).isTrue();
        assertThat(ChannelLimits.forChannel(limiter, channel).withPermit(channel.eventLoop(),
                () -> { throw new AssertionError("the action must not run"); }).isCancelled()).isTrue();
        assertThat(limiter.semaphore.queueLength()).as("the limiter's queue untouched").isZero();
        AsyncSemaphore sem = new AsyncSemaphore(0);
        Future<Void> raw = ChannelLimits.cancelOnClose(sem.acquire(channel.eventLoop()), channel);
        assertThat(raw.isCancelled()).as("cancelled at once").isTrue();
        assertThat(sem.queueLength()).isZero();
    }

    @Test
    void anyWaitCanBeCancelledOnClose() {
        AsyncSemaphore sem = new AsyncSemaphore(0);
        Future<Void> raw = ChannelLimits.cancelOnClose(sem.acquire(channel.eventLoop()), channel);
        channel.close();
        assertThat(raw.isCancelled()).isTrue();
        assertThat(sem.queueLength()).isZero();
    }

    @Test
    void theBoundPermitPassesItsOutcomeOn() {
        RecordingLimiter limiter = new RecordingLimiter(3, 10);
        ChannelLimits.acquire(limiter, channel).getNow().releaseDropped();
        ChannelLimits.acquire(limiter, channel).getNow().releaseIgnored();
        ChannelLimits.acquire(limiter, channel).getNow().close();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.DROPPED, Permit.Outcome.IGNORED, Permit.Outcome.SUCCESS);
    }

    /** A user's permit that guards nothing: records every end call and says each one ended it. */
    private static final class CountingPermit implements Permit {
        final List<Permit.Outcome> ends = new ArrayList<>();

        @Override
        public boolean release() {
            return ends.add(Permit.Outcome.SUCCESS);
        }

        @Override
        public boolean releaseDropped() {
            return ends.add(Permit.Outcome.DROPPED);
        }

        @Override
        public boolean releaseIgnored() {
            return ends.add(Permit.Outcome.IGNORED);
        }

        @Override
        public boolean isReleased() {
            return !ends.isEmpty();
        }
    }

    @Test
    void aBoundPermitEndsEvenAnUnguardedPermitExactlyOnceAndOnlyItsFirstEndReturnsTrue() {
        Map<Permit.Outcome, Predicate<Permit>> firstEnds = new EnumMap<>(Map.of(
                Permit.Outcome.SUCCESS, Permit::release,
                Permit.Outcome.DROPPED, Permit::releaseDropped,
                Permit.Outcome.IGNORED, Permit::releaseIgnored));
        firstEnds.forEach((outcome, end) -> {
            EmbeddedChannel ch = new EmbeddedChannel();
            CountingPermit inner = new CountingPermit();
            Permit bound = ChannelLimits.bind(inner, ch);
            assertThat(bound.isReleased()).as("held").isFalse();
            assertThat(end.test(bound)).as("first end, " + outcome).isTrue();
            assertThat(bound.isReleased()).isTrue();
            assertThat(bound.release()).isFalse();
            assertThat(bound.releaseDropped()).isFalse();
            assertThat(bound.releaseIgnored()).isFalse();
            ch.close();
            assertThat(inner.ends).as("ended once, by the first call").containsExactly(outcome);
        });
    }

    @Test
    void aWaitAlreadyDoneIsReturnedAsItIsWithNoCloseListener() throws Exception {
        Future<Void> done = channel.eventLoop().newSucceededFuture(null);
        int before = listenerCount(channel.closeFuture());
        assertThat(ChannelLimits.cancelOnClose(done, channel)).isSameAs(done);
        assertThat(listenerCount(channel.closeFuture())).isEqualTo(before);
    }

    @Test
    void theChannelsViewTryAcquireBindsItsPermitAndItsStatisticsAreTheLimiters() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        AsyncLimiter view = ChannelLimits.forChannel(limiter, channel);
        Permit p = view.tryAcquire();
        assertThat(p).isNotNull();
        assertThat(view.tryAcquire()).as("none left").isNull();
        assertThat(view.statistics()).isEqualTo(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 1, 0, 0));
        channel.close();
        assertThat(p.isReleased()).as("ended by the close").isTrue();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED);
    }

    @Test
    void withPermitOfTheChannelsViewHoldsThePermitUntilTheActionEndsEvenIfTheClientLeaves() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        AsyncLimiter view = ChannelLimits.forChannel(limiter, channel);
        io.netty.util.concurrent.Promise<String> work = channel.eventLoop().newPromise();
        Future<String> result = view.withPermit(channel.eventLoop(), () -> work);
        assertThat(limiter.semaphore.availablePermits()).isZero();
        EmbeddedChannel other = new EmbeddedChannel();
        Future<Permit> next = ChannelLimits.acquire(limiter, other);

        channel.close();                                    // the client goes away mid-call
        assertThat(result.isCancelled()).as("the caller's future ends at once").isTrue();
        assertThat(limiter.outcomes).as("the work it admitted still runs: the permit stays held").isEmpty();
        assertThat(limiter.semaphore.availablePermits()).isZero();
        assertThat(next.isDone()).as("nobody is let in beside the running work").isFalse();

        work.setSuccess("late");                            // the action's own end ends the permit
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.SUCCESS);
        assertThat(next.isSuccess()).as("the next client gets it now").isTrue();
        next.getNow().release();
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
        assertThat(view.tryAcquire()).as("closed: the view admits nothing").isNull();
        assertThat(view.acquire(channel.eventLoop()).isCancelled()).isTrue();
        assertThat(view.withPermit(channel.eventLoop(), () -> work).isCancelled()).isTrue();
        assertThat(limiter.semaphore.availablePermits()).as("a closed view does not touch the limiter").isEqualTo(1);
    }

    @Test
    void withPermitOfTheChannelsViewLeavesTheQueueIfTheClientLeavesWhileWaiting() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Permit holder = limiter.tryAcquire();
        java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();
        Future<String> result = ChannelLimits.forChannel(limiter, channel).withPermit(channel.eventLoop(), 1, TimeUnit.HOURS,
                () -> {
                    ran.set(true);
                    return channel.eventLoop().newSucceededFuture("ran");
                });
        assertThat(limiter.semaphore.queueLength()).isEqualTo(1);

        channel.close();
        assertThat(result.isCancelled()).isTrue();
        assertThat(limiter.semaphore.queueLength()).as("its slot is free at once").isZero();
        holder.release();
        assertThat(ran).as("the action never runs").isFalse();
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
    }

    @Test
    void aChannelClosedOnALoopThatHasShutDownStillEndsABoundPermitAndCancelsABoundWaitAtOnce() throws Exception {
        io.netty.channel.EventLoopGroup group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
                io.netty.channel.nio.NioIoHandler.newFactory());
        io.netty.channel.Channel closed = new io.netty.channel.socket.nio.NioSocketChannel();
        try {
            group.register(closed).sync();
            closed.close().sync();
            RecordingLimiter limiter = new RecordingLimiter(2, 10);
            // from this thread, not the channel's loop: not "later, on the loop", but at once
            assertThat(ChannelLimits.bind(limiter.tryAcquire(), closed).isReleased()).isTrue();
            assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED);

            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();   // nothing will ever run there again
            Permit late = ChannelLimits.bind(limiter.tryAcquire(), closed);
            assertThat(late.isReleased()).as("ended here, not by a close listener the dead loop cannot run").isTrue();
            assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED, Permit.Outcome.IGNORED);
            assertThat(limiter.semaphore.availablePermits()).isEqualTo(2);

            AsyncSemaphore sem = new AsyncSemaphore(0);
            Future<Void> raw = ChannelLimits.cancelOnClose(sem.acquire(io.netty.util.concurrent.ImmediateEventExecutor.INSTANCE), closed);
            assertThat(raw.isCancelled()).isTrue();
            assertThat(sem.queueLength()).as("the slot is not kept for a client long gone").isZero();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** Listeners on a Netty promise, read from its fields (tests only: no public API has it). */
    static int listenerCount(Future<?> future) throws Exception {
        Field single = DefaultPromise.class.getDeclaredField("listener");
        Field many = DefaultPromise.class.getDeclaredField("listeners");
        single.setAccessible(true);
        many.setAccessible(true);
        synchronized (future) {
            Object listeners = many.get(future);
            if (listeners != null) {
                Field size = listeners.getClass().getDeclaredField("size");
                size.setAccessible(true);
                return (int) size.get(listeners);
            }
            return single.get(future) != null ? 1 : 0;
        }
    }
}
