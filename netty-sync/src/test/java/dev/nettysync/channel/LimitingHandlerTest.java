package dev.nettysync.channel;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.AsyncRateLimiter;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RateLimitedException;
import dev.nettysync.limit.RecordingLimiter;
import dev.nettysync.testing.AnsweringLimiter;
import dev.nettysync.testing.ManualExecutor;
import dev.nettysync.testing.TestEventExecutor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.Ticker;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link LimitingHandler} on {@link EmbeddedChannel}s: admission, order, reading, ending, closing. */
class LimitingHandlerTest {

    /** Collects what gets past the limiter: messages, Rejected events, and counts read-completes. */
    static final class Sink extends ChannelInboundHandlerAdapter {
        final List<Object> read = new ArrayList<>();
        final List<LimitingHandler.Rejected> rejected = new ArrayList<>();
        int readCompletes;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            read.add(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            readCompletes++;
            ctx.fireChannelReadComplete();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof LimitingHandler.Rejected r) {
                rejected.add(r);
            }
        }
    }

    private final Sink sink = new Sink();

    private EmbeddedChannel channel(LimitingHandler.Builder b) {
        return new EmbeddedChannel(b.build(), sink);
    }

    @Test
    void backPressureStopsReadingKeepsOrderAndAdmitsAsResponsesComplete() {
        EmbeddedChannel ch = channel(LimitingHandler.builder().perChannel(2));
        LimitingHandler h = ch.pipeline().get(LimitingHandler.class);
        ch.writeInbound("m1", "m2", "m3", "m4", "m5");
        assertThat(sink.read).containsExactly("m1", "m2");
        assertThat(h.inFlight()).isEqualTo(2);
        assertThat(h.waitingMessages()).isEqualTo(3);
        assertThat(ch.config().isAutoRead()).as("reading paused").isFalse();

        ch.writeOutbound("r1");
        assertThat(sink.read).containsExactly("m1", "m2", "m3");
        ch.writeOutbound("r2", "r3");
        assertThat(sink.read).containsExactly("m1", "m2", "m3", "m4", "m5");
        assertThat(ch.config().isAutoRead()).as("reading resumed once the backlog was admitted").isTrue();
        assertThat(sink.rejected).isEmpty();
        ch.writeOutbound("r4", "r5");
        assertThat(h.inFlight()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void aSharedLimiterIsAcquiredPerMessageAndReleasedWhenTheResponseIsWritten() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Sink sink2 = new Sink();
        EmbeddedChannel ch1 = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).build(), sink);
        EmbeddedChannel ch2 = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).build(), sink2);

        ch1.writeInbound("a1");
        ch2.writeInbound("b1", "b2");
        assertThat(sink.read).containsExactly("a1");
        assertThat(sink2.read).isEmpty();
        assertThat(limiter.semaphore.queueLength()).as("b1 waits in the limiter's queue").isEqualTo(1);
        assertThat(ch2.config().isAutoRead()).isFalse();

        ch1.writeOutbound("response to a1");
        assertThat(sink2.read).containsExactly("b1");
        ch2.writeOutbound("response to b1");
        assertThat(sink2.read).containsExactly("b1", "b2");
        ch2.writeOutbound("response to b2");
        assertThat(ch2.config().isAutoRead()).isTrue();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.SUCCESS, Permit.Outcome.SUCCESS, Permit.Outcome.SUCCESS);
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
    }

    @Test
    void aRateThatCannotAdmitWithinTheWaitRejectsAtOnceSayingWhenItCould() {
        MockTicker clock = Ticker.newMockTicker();
        AsyncRateLimiter rate = AsyncRateLimiter.builder(10, Duration.ofSeconds(1)).ticker(clock).build();   // one per 100 ms
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(rate).backPressure(50, TimeUnit.MILLISECONDS));
        ch.writeInbound("m1", "m2", "m3");
        assertThat(sink.read).containsExactly("m1");
        assertThat(sink.rejected).as("waiting 50 ms could not help: refused now, not at the timeout").hasSize(2);
        for (LimitingHandler.Rejected r : sink.rejected) {
            assertThat(r.reason()).isEqualTo(LimitingHandler.Reason.LIMITER_WAIT);
            assertThat(r.cause()).isInstanceOf(RateLimitedException.class);
            assertThat(((RateLimitedException) r.cause()).retryAfterNanos())
                    .as("for a 429's Retry-After").isEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
        }
        assertThat(rate.queueLength()).isZero();
        ch.writeOutbound("r1", "503", "503");
        clock.advance(100, TimeUnit.MILLISECONDS);
        ch.writeInbound("m4");
        assertThat(sink.read).as("the refusals spent nothing").containsExactly("m1", "m4");
        ch.finishAndReleaseAll();
    }

    @Test
    void theCompletionFunctionDecidesWhichWritesEndAPermitAndHow() {
        RecordingLimiter limiter = new RecordingLimiter(2, 10);
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(limiter)
                .completion(msg -> switch ((String) msg) {
                    case "ok-end" -> Permit.Outcome.SUCCESS;
                    case "503-end" -> Permit.Outcome.DROPPED;
                    default -> null;                        // a header or a chunk
                }));
        ch.writeInbound("m1", "m2");
        ch.writeOutbound("head", "chunk");
        assertThat(limiter.outcomes).isEmpty();
        ch.writeOutbound("503-end", "head", "ok-end");
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.DROPPED, Permit.Outcome.SUCCESS);
        ch.finishAndReleaseAll();
    }

    @Test
    void closingGivesBackHeldPermitsCancelsTheWaitAndReleasesUnadmittedMessages() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        EmbeddedChannel holder = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).build(), new Sink());
        EmbeddedChannel waiter = channel(LimitingHandler.builder().limiter(limiter));
        holder.writeInbound("h1");
        ByteBuf w1 = Unpooled.copiedBuffer(new byte[] {1});
        ByteBuf w2 = Unpooled.copiedBuffer(new byte[] {2});
        waiter.writeInbound(w1, w2);
        assertThat(limiter.semaphore.queueLength()).isEqualTo(1);

        waiter.close();
        assertThat(limiter.semaphore.queueLength()).as("the wait left the queue").isZero();
        assertThat(w1.refCnt()).as("unadmitted messages released").isZero();
        assertThat(w2.refCnt()).isZero();

        holder.close();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED);
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
        assertThat(sink.read).isEmpty();
    }

    @Test
    void rejectModeFiresRejectedAndKeepsResponsesMatchedToMessages() {
        RecordingLimiter limiter = new RecordingLimiter(5, 10);
        EmbeddedChannel ch = channel(LimitingHandler.builder().perChannel(1).limiter(limiter).reject());
        ch.writeInbound("m1", "m2");
        assertThat(sink.read).containsExactly("m1");
        assertThat(sink.rejected).hasSize(1);
        assertThat(sink.rejected.get(0).message()).isEqualTo("m2");
        assertThat(sink.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.CHANNEL_LIMIT);
        assertThat(ch.config().isAutoRead()).as("reject mode never stops reading").isTrue();

        ch.writeInbound("m3");                               // m1 still in flight: rejected too
        ch.writeOutbound("r1");                              // answers m1: ends its permit
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.SUCCESS);
        ch.writeOutbound("503 for m2", "503 for m3");       // answers the rejected ones: end nothing
        ch.writeInbound("m4");
        assertThat(sink.read).containsExactly("m1", "m4");
        ch.writeOutbound("r4");
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.SUCCESS, Permit.Outcome.SUCCESS);
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(5);
    }

    @Test
    void rejectModeWithASharedLimiterRefusesWhatTheLimiterRefuses() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Permit held = limiter.tryAcquire();
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(limiter).reject());
        ByteBuf m = Unpooled.copiedBuffer(new byte[] {1});
        ch.writeInbound(m);
        assertThat(sink.rejected).hasSize(1);
        assertThat(sink.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.LIMITER);
        assertThat(sink.rejected.get(0).cause()).as("tryAcquire refused: no exception, no acquire asked").isNull();
        assertThat(limiter.semaphore.queueLength()).as("reject mode does not queue").isZero();
        assertThat(sink.rejected.get(0).release()).as("the event owns the message").isTrue();
        assertThat(m.refCnt()).isZero();
        held.release();
    }

    @Test
    void aRejectedEventHoldsTheMessageUntilItsLastReleaseAndAnUnhandledOneIsFreedByTheTail() {
        EmbeddedChannel ch = channel(LimitingHandler.builder().perChannel(1).reject());
        ch.writeInbound("m1");
        ByteBuf m2 = Unpooled.copiedBuffer(new byte[] {2});
        ch.writeInbound(m2);
        LimitingHandler.Rejected r = sink.rejected.get(0);
        assertThat(r.message()).isSameAs(m2);
        assertThat(r.touch("hint")).isSameAs(r);
        assertThat(r.retain().refCnt()).isEqualTo(2);
        assertThat(r.release()).isFalse();
        assertThat(m2.refCnt()).as("the event still holds it").isEqualTo(1);
        assertThat(r.release()).isTrue();
        assertThat(m2.refCnt()).isZero();

        EmbeddedChannel alone = new EmbeddedChannel(LimitingHandler.builder().perChannel(1).reject().build());
        alone.writeInbound("m1");
        ByteBuf m3 = Unpooled.copiedBuffer(new byte[] {3});
        alone.writeInbound(m3);
        assertThat(m3.refCnt()).as("the pipeline's tail released the unhandled event").isZero();
    }

    @Test
    void aTimedOutWaitRejectsThatMessageAndTheNextOneIsTried() throws Exception {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Permit held = limiter.tryAcquire();
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(limiter).backPressure(20, TimeUnit.MILLISECONDS));
        ch.writeInbound("m1", "m2");
        Thread.sleep(40);
        ch.runScheduledPendingTasks();
        assertThat(sink.rejected).extracting(LimitingHandler.Rejected::message).contains("m1");
        assertThat(sink.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.LIMITER_WAIT);
        assertThat(sink.rejected.get(0).cause()).isInstanceOf(WaitTimeoutException.class);
        held.release();                                        // m2 is waiting (or timed out too on a slow machine)
        ch.runScheduledPendingTasks();
        assertThat(sink.read.size() + sink.rejected.size()).isEqualTo(2);
        ch.close();
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
        assertThat(limiter.semaphore.queueLength()).isZero();
    }

    @Test
    void removedFromALivePipelineItPassesOnWhatItHeldBackAndGivesBackItsPermits() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(limiter));
        ch.writeInbound("m1", "m2", "m3");
        assertThat(sink.read).containsExactly("m1");
        assertThat(ch.config().isAutoRead()).isFalse();
        ch.pipeline().remove(LimitingHandler.class);
        assertThat(sink.read).containsExactly("m1", "m2", "m3");
        assertThat(ch.config().isAutoRead()).isTrue();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED);
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
        assertThat(limiter.semaphore.queueLength()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void aHandlerThatLimitsNothingIsRefused() {
        assertThatThrownBy(() -> LimitingHandler.builder().build()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> LimitingHandler.builder().perChannel(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aResponseWrittenSynchronouslyFromChannelReadAdmitsTheNextMessageInOrder() {
        List<Object> seen = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().perChannel(1).build(),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        seen.add(msg);
                        ctx.writeAndFlush("response to " + msg);   // re-enters the handler
                    }
                });
        ch.writeInbound("m1", "m2", "m3");
        assertThat(seen).containsExactly("m1", "m2", "m3");
        assertThat(ch.config().isAutoRead()).isTrue();
        assertThat(ch.pipeline().get(LimitingHandler.class).inFlight()).isZero();
        ch.finishAndReleaseAll();
    }

    /**
     * The shape of Netty's HTTP examples: answers in {@code channelRead} (and a Rejected event
     * with a "503") with a plain {@code write}, and flushes only in {@code channelReadComplete}.
     */
    static final class FlushesOnReadComplete extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write("response to " + msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof LimitingHandler.Rejected r) {
                ctx.write("503 for " + r.message());
                ReferenceCountUtil.release(r);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    private static List<Object> flushed(EmbeddedChannel ch) {
        List<Object> out = new ArrayList<>();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            out.add(o);
        }
        return out;
    }

    @Test
    void messagesAdmittedAfterTheirReadAreFollowedByAReadCompleteSoTheirAnswersAreFlushed() {
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().perChannel(1).build(),
                new FlushesOnReadComplete());
        ch.writeInbound("m1", "m2", "m3");
        // m1 is answered at the read's end; its write completing admits m2, outside any read,
        // and so on: without a read-complete of their own, m2's and m3's answers would wait forever
        assertThat(flushed(ch)).containsExactly("response to m1", "response to m2", "response to m3");
        assertThat(ch.config().isAutoRead()).isTrue();
        assertThat(ch.pipeline().get(LimitingHandler.class).inFlight()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void messagesRejectedAfterTheirReadAreFollowedByAReadCompleteSoTheir503IsFlushed() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Permit held = limiter.tryAcquire();
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).build(),
                new FlushesOnReadComplete());
        ch.writeInbound("m1", "m2");
        assertThat(flushed(ch)).as("both wait").isEmpty();
        limiter.semaphore.close();                      // m1's wait fails, m2 is refused at once
        assertThat(flushed(ch)).containsExactly("503 for m1", "503 for m2");
        held.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void aGrantThatLandsAsTheHandlerStartsListeningIsNotLost() {
        AsyncLimiter permits = AsyncLimiter.of(new AsyncSemaphore(1));
        // Refuses tryAcquire, so the message waits; its wait is granted between the handler's
        // isDone() and its addListener(), whose listener then runs inline, inside drain()
        AsyncLimiter grantsAsTheListenerIsAdded = new AnsweringLimiter(executor -> new DefaultPromise<Permit>(executor) {
            @Override
            public Promise<Permit> addListener(GenericFutureListener<? extends Future<? super Permit>> l) {
                trySuccess(permits.tryAcquire());
                return super.addListener(l);
            }
        }, permits::statistics);
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(grantsAsTheListenerIsAdded));
        ch.writeInbound("m1");
        assertThat(sink.read).as("admitted with the grant that came inline").containsExactly("m1");
        assertThat(ch.config().isAutoRead()).as("reading resumed").isTrue();
        ch.writeOutbound("r1");
        assertThat(permits.statistics().inUse()).isZero();
        ch.finishAndReleaseAll();
    }

    /**
     * A limiter that, like the Redis ones (or a composite with a Redis part), cannot decide without
     * I/O: {@code tryAcquire} throws {@link UnsupportedOperationException}; its acquires are a
     * semaphore's, answered on a later task of the caller's executor (the round trip).
     */
    private static AsyncLimiter decidesOnlyAsynchronously(AsyncSemaphore sem) {
        AsyncLimiter view = AsyncLimiter.of(sem);
        return new AsyncLimiter() {
            @Override
            public Future<Permit> acquire(io.netty.util.concurrent.EventExecutor executor) {
                return later(executor, () -> view.acquire(executor));
            }

            @Override
            public Future<Permit> acquire(io.netty.util.concurrent.EventExecutor executor, long timeout, TimeUnit unit) {
                return later(executor, () -> view.acquire(executor, timeout, unit));
            }

            private Future<Permit> later(io.netty.util.concurrent.EventExecutor executor,
                                         java.util.function.Supplier<Future<Permit>> wait) {
                Promise<Permit> p = executor.newPromise();
                executor.execute(() -> wait.get().addListener(f -> {
                    if (f.isSuccess()) {
                        if (!p.trySuccess((Permit) f.getNow())) {
                            ((Permit) f.getNow()).releaseIgnored();
                        }
                    } else {
                        p.tryFailure(f.cause());
                    }
                }));
                return p;
            }

            @Override
            public Permit tryAcquire() {
                throw new UnsupportedOperationException("cannot answer without a round trip");
            }

            @Override
            public dev.nettysync.limit.LimiterStatistics statistics() {
                return view.statistics();
            }
        };
    }

    @Test
    void aLimiterThatCannotDecideAtOnceIsWaitedForInBackPressureMode() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(decidesOnlyAsynchronously(sem)));
        ch.writeInbound("m1", "m2");
        ch.runPendingTasks();                                   // the round trips
        assertThat(sink.rejected).as("not refused for lacking tryAcquire").isEmpty();
        assertThat(sink.read).containsExactly("m1");
        assertThat(ch.config().isAutoRead()).isFalse();
        ch.writeOutbound("r1");
        ch.runPendingTasks();
        assertThat(sink.read).containsExactly("m1", "m2");
        ch.writeOutbound("r2");
        assertThat(ch.config().isAutoRead()).isTrue();
        assertThat(sem.availablePermits()).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void aLimiterThatCannotDecideAtOnceIsAskedNowOrNeverInRejectMode() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(decidesOnlyAsynchronously(sem)).reject());
        ch.writeInbound("m1", "m2");
        ch.runPendingTasks();
        assertThat(sink.read).containsExactly("m1");
        assertThat(sink.rejected).extracting(LimitingHandler.Rejected::message).containsExactly("m2");
        assertThat(sink.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.LIMITER);
        assertThat(sink.rejected.get(0).cause()).as("the limiter's own refusal").isInstanceOf(WaitTimeoutException.class);
        assertThat(sem.queueLength()).as("reject mode does not queue in the limiter").isZero();
        ch.writeOutbound("r1", "503 for m2");
        ch.writeInbound("m3");
        ch.runPendingTasks();
        assertThat(sink.read).containsExactly("m1", "m3");
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.writeOutbound("r3");
        assertThat(sem.availablePermits()).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void aZeroTimeoutRejectsAtOnceWhatTheLimiterCannotGrantInsteadOfWaiting() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Permit held = limiter.tryAcquire();
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(limiter).backPressure(0, TimeUnit.SECONDS));
        ch.writeInbound("m1");
        assertThat(sink.rejected).extracting(LimitingHandler.Rejected::message).containsExactly("m1");
        assertThat(sink.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.LIMITER_WAIT);
        assertThat(sink.rejected.get(0).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(limiter.semaphore.queueLength()).as("no wait left in the limiter's queue").isZero();
        assertThat(ch.config().isAutoRead()).isTrue();
        held.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void aWaitCancelledByAnotherPartyRejectsItsMessageAndTheNextOneWaits() {
        List<Promise<Permit>> waits = new ArrayList<>();
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(new AnsweringLimiter(executor -> {
            Promise<Permit> p = executor.newPromise();
            waits.add(p);
            return p;
        })));
        ch.writeInbound("m1", "m2");
        assertThat(waits).as("m1 waits, m2 behind it").hasSize(1);

        waits.get(0).cancel(false);                    // not by the handler: the limiter's, say
        assertThat(sink.rejected).extracting(LimitingHandler.Rejected::message).containsExactly("m1");
        assertThat(sink.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.LIMITER_WAIT);
        assertThat(sink.rejected.get(0).cause()).isInstanceOf(CancellationException.class);
        assertThat(waits).as("m2's wait started").hasSize(2);
        assertThat(ch.pipeline().get(LimitingHandler.class).waitingMessages()).isEqualTo(1);

        ch.close();
        assertThat(waits.get(1).isCancelled()).as("the close cancels m2's wait").isTrue();
        assertThat(sink.read).isEmpty();
    }

    @Test
    void aGrantWhoseListenerHasNotRunWhenTheChannelClosesIsGivenBack() {
        RecordingLimiter permits = new RecordingLimiter(1, 10);
        ManualExecutor grants = new ManualExecutor();           // where the wait's listener runs: later
        Promise<Permit> wait = new DefaultPromise<>(grants);
        EmbeddedChannel ch = channel(LimitingHandler.builder().limiter(new AnsweringLimiter(executor -> wait)));
        ch.writeInbound("m1");
        wait.setSuccess(permits.tryAcquire());                 // granted; its listener is still queued
        ch.close();                                            // the close comes first: too late to cancel
        assertThat(permits.outcomes).as("not ended before the handler hears of the grant").isEmpty();

        grants.runPending();
        assertThat(permits.outcomes).as("the grant reaches a closed handler: given back").containsExactly(Permit.Outcome.IGNORED);
        assertThat(permits.semaphore.availablePermits()).isEqualTo(1);
        assertThat(sink.read).isEmpty();
    }

    @Test
    void inRejectModeAMessageQueuedBehindALimiterDecisionIsRejectedIfItsChannelIsFullThen() {
        AsyncSemaphore sem = new AsyncSemaphore(5);
        EmbeddedChannel ch = channel(LimitingHandler.builder().perChannel(1).limiter(decidesOnlyAsynchronously(sem)).reject());
        ch.writeInbound("m1", "m2");                            // m2 waits behind m1's round trip
        ch.runPendingTasks();
        assertThat(sink.read).containsExactly("m1");
        assertThat(sink.rejected).extracting(LimitingHandler.Rejected::message).containsExactly("m2");
        assertThat(sink.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.CHANNEL_LIMIT);
        assertThat(sem.availablePermits()).as("the limiter was not asked for m2").isEqualTo(4);
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.writeOutbound("r1", "503 for m2");
        assertThat(sem.availablePermits()).isEqualTo(5);
        ch.finishAndReleaseAll();
    }

    @Test
    void removedFromALivePipelineItFollowsWhatItPassesOnWithOneReadCompleteAndAddsNoneOtherwise() {
        EmbeddedChannel ch = channel(LimitingHandler.builder().perChannel(1));
        ch.writeInbound("m1", "m2", "m3");
        int before = sink.readCompletes;
        ch.pipeline().remove(LimitingHandler.class);
        assertThat(sink.read).containsExactly("m1", "m2", "m3");
        assertThat(sink.readCompletes - before).as("m2 and m3, passed on outside a read").isEqualTo(1);
        ch.finishAndReleaseAll();

        Sink idle = new Sink();
        EmbeddedChannel quiet = new EmbeddedChannel(LimitingHandler.builder().perChannel(1).build(), idle);
        quiet.writeInbound("m1");
        quiet.writeOutbound("r1");
        int settled = idle.readCompletes;
        quiet.pipeline().remove(LimitingHandler.class);
        assertThat(idle.readCompletes).as("nothing passed on: no read-complete").isEqualTo(settled);
        quiet.finishAndReleaseAll();
    }

    /** A handler's own executor: runs tasks inline until it is {@link #gone}, then refuses them. */
    private static final class EndingExecutor extends TestEventExecutor {
        boolean gone;

        @Override
        public boolean inEventLoop(Thread thread) {
            return !gone;
        }

        @Override
        public void execute(Runnable task) {
            if (gone) {
                throw new RejectedExecutionException("terminated");
            }
            task.run();
        }

        @Override
        public boolean isShutdown() {
            return gone;
        }

        @Override
        public boolean isTerminated() {
            return gone;
        }
    }

    @Test
    void onAnExecutorOfItsOwnThatIsGoneAPermitIsEndedWhereItsWriteCompleted() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        EndingExecutor own = new EndingExecutor();
        ChannelDuplexHandler front = new ChannelDuplexHandler();   // on the channel's loop, as a codec would be
        EmbeddedChannel ch = new EmbeddedChannel(front);
        ch.pipeline().addLast(own, LimitingHandler.builder().limiter(limiter).build());
        ch.pipeline().addLast(sink);
        ch.writeInbound("m1");
        assertThat(sink.read).containsExactly("m1");
        ch.write("r1");                                         // through the handler; not flushed yet
        own.gone = true;
        ch.pipeline().context(front).flush();                   // the write completes on the channel's loop
        assertThat(limiter.outcomes).as("ended there, as the handler's executor refuses the end")
                .containsExactly(Permit.Outcome.IGNORED);
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
    }
}
