package dev.nettysync.channel;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.ForwardingLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RecordingLimiter;
import dev.nettysync.testing.AnsweringLimiter;
import dev.nettysync.testing.Poll;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPipelineException;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link LimitingHandler} where a handler author meets it: removal, autoRead, failures, buffers, deep queues. */
class LimitingHandlerEdgeTest {

    private static ResourceLeakDetector.Level saved;

    @BeforeAll
    static void paranoid() {
        saved = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @AfterAll
    static void restore() {
        ResourceLeakDetector.setLevel(saved);
    }

    private final LimitingHandlerTest.Sink sink = new LimitingHandlerTest.Sink();

    /** Counts the read() calls that reach the head (it sits in front of the limiter). */
    static final class ReadCounter extends ChannelOutboundHandlerAdapter {
        int reads;

        @Override
        public void read(ChannelHandlerContext ctx) throws Exception {
            reads++;
            super.read(ctx);
        }
    }

    private static ByteBuf buf(int b) {
        return Unpooled.buffer(1).writeByte(b);
    }

    @Test
    void removedWhileAnExplicitReadIsHeldItForwardsThatRead() {
        ReadCounter counter = new ReadCounter();
        EmbeddedChannel ch = new EmbeddedChannel(counter, LimitingHandler.builder().perChannel(1).build(), sink);
        ch.config().setAutoRead(false);                        // the user reads by hand
        ch.writeInbound("m1", "m2");
        int before = counter.reads;
        ch.read();                                             // held: m2 waits
        assertThat(counter.reads).isEqualTo(before);
        ch.pipeline().remove(LimitingHandler.class);
        assertThat(sink.read).containsExactly("m1", "m2");
        assertThat(counter.reads).as("the held read went on when the handler left").isEqualTo(before + 1);
        assertThat(ch.config().isAutoRead()).as("the user's choice kept").isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void aCompletionFunctionThatThrowsFailsTheWriteAndReleasesItsMessageOnce() {
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().perChannel(1)
                .completion(m -> {
                    throw new IllegalStateException("bad completion");
                }).build(), sink);
        ch.writeInbound("m1");
        ByteBuf response = buf(1);
        var f = ch.writeAndFlush(response);
        assertThat(f.isDone()).isTrue();
        assertThat(f.cause()).isInstanceOf(IllegalStateException.class).hasMessage("bad completion");
        assertThat(response.refCnt()).as("released, once").isZero();
        ch.close();
        assertThat(ch.pipeline().get(LimitingHandler.class)).isNull();
    }

    @Test
    void aCompletionFunctionThatReturnsNullCompletesNothing() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).completion(m -> null).build(), sink);
        ch.writeInbound("m1");
        ch.writeOutbound("r1", "r2");
        assertThat(limiter.outcomes).isEmpty();
        assertThat(ch.pipeline().get(LimitingHandler.class).inFlight()).isEqualTo(1);
        ch.close();
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED);
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void aNextHandlerThatThrowsLeavesThePermitHeldUntilItsAnswerOrTheClose() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        List<Throwable> caught = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).build(),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        throw new IllegalArgumentException("bad request " + msg);
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        caught.add(cause);
                        ctx.close();
                    }
                });
        ch.writeInbound("m1");
        assertThat(caught).hasSize(1);
        assertThat(limiter.outcomes).containsExactly(Permit.Outcome.IGNORED);
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
    }

    @Test
    void buffersRejectedOrDroppedAreReleasedExactlyOnce() {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Permit held = limiter.tryAcquire();
        // reject mode: the tail releases the unhandled event, so its message
        EmbeddedChannel rejecting = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).reject().build());
        ByteBuf r = buf(1);
        rejecting.writeInbound(r);
        assertThat(r.refCnt()).isZero();
        // back-pressure: queued, then the channel closes
        EmbeddedChannel waiting = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).build(), sink);
        ByteBuf w1 = buf(2);
        ByteBuf w2 = buf(3);
        waiting.writeInbound(w1, w2);
        waiting.close();
        assertThat(w1.refCnt()).isZero();
        assertThat(w2.refCnt()).isZero();
        // a message that arrives after the close (a decoder's last one) is released too
        waiting.pipeline().fireChannelRead(buf(4));
        held.release();
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
        assertThat(limiter.semaphore.queueLength()).isZero();
        rejecting.finishAndReleaseAll();
    }

    @Test
    void aBufferRejectedAfterItsWaitTimedOutIsReleasedOnceByTheTail() throws Exception {
        RecordingLimiter limiter = new RecordingLimiter(1, 10);
        Permit held = limiter.tryAcquire();
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter)
                .backPressure(10, TimeUnit.MILLISECONDS).build());
        ByteBuf m = buf(1);
        ch.writeInbound(m);
        Thread.sleep(30);
        ch.runScheduledPendingTasks();
        assertThat(m.refCnt()).isZero();
        assertThat(ch.config().isAutoRead()).isTrue();
        held.release();
        ch.close();
        assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
    }

    @Test
    void oneInstanceInTwoPipelinesIsAClearError() {
        LimitingHandler h = LimitingHandler.builder().perChannel(1).build();
        new EmbeddedChannel(h);
        EmbeddedChannel other = new EmbeddedChannel();
        assertThatThrownBy(() -> other.pipeline().addLast(h))
                .isInstanceOf(ChannelPipelineException.class).hasMessageContaining("Sharable");
    }

    @Test
    void aHandlerRemovedCannotBeAddedAgain() {
        LimitingHandler h = LimitingHandler.builder().perChannel(1).build();
        EmbeddedChannel ch = new EmbeddedChannel(h, sink);
        ch.pipeline().remove(h);
        assertThatThrownBy(() -> ch.pipeline().addFirst(h))
                .isInstanceOf(ChannelPipelineException.class).hasMessageContaining("Sharable");
        ch.finishAndReleaseAll();
    }

    @Test
    void autoReadTurnedOnByTheUserWhileReadingIsPausedIsTurnedOffAgainByTheNextWaitingMessage() {
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().perChannel(1).build(), sink);
        ch.writeInbound("m1", "m2");
        assertThat(ch.config().isAutoRead()).isFalse();
        ch.config().setAutoRead(true);                          // someone else turns it on
        ch.writeInbound("m3");
        assertThat(ch.config().isAutoRead()).as("paused again").isFalse();
        ch.writeOutbound("r1");
        ch.writeOutbound("r2");
        assertThat(sink.read).containsExactly("m1", "m2", "m3");
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void autoReadTurnedOnByTheUserWhileReadingIsPausedStillReadsOnceTheBacklogIsAdmitted() {
        ReadCounter counter = new ReadCounter();
        EmbeddedChannel ch = new EmbeddedChannel(counter, LimitingHandler.builder().perChannel(1).build(), sink);
        ch.writeInbound("m1", "m2");
        assertThat(ch.config().isAutoRead()).isFalse();
        int before = counter.reads;
        ch.config().setAutoRead(true);                          // someone else turns it on: its read() is held, m2 waits
        assertThat(counter.reads).isEqualTo(before);
        ch.writeOutbound("r1");                                 // m2 admitted: the backlog is empty, no message comes after
        assertThat(sink.read).containsExactly("m1", "m2");
        assertThat(ch.config().isAutoRead()).isTrue();
        assertThat(counter.reads).as("a read reaches the transport (the held one: setAutoRead(true) issues none"
                + " when autoRead is already on), else a socket channel never reads again").isEqualTo(before + 1);
        ch.finishAndReleaseAll();
    }

    @Test
    void autoReadOffByTheUserBeforeThePauseStaysOff() {
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().perChannel(1).build(), sink);
        ch.config().setAutoRead(false);
        ch.writeInbound("m1", "m2");
        ch.writeOutbound("r1");
        assertThat(sink.read).containsExactly("m1", "m2");
        assertThat(ch.config().isAutoRead()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void aDeepBacklogIsAdmittedWithoutOverflowingTheStack() {
        int n = 200_000;
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        Permit held = limiter.tryAcquire();
        int[] answered = {0};
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().limiter(limiter).perChannel(1).build(),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        answered[0]++;
                        ctx.writeAndFlush(msg);                  // answered at once: re-enters the handler
                    }
                });
        Object[] msgs = new Object[n];
        for (int i = 0; i < n; i++) {
            msgs[i] = i;
        }
        ch.writeInbound(msgs);
        held.release();                                          // the grant admits the whole backlog
        ch.runPendingTasks();
        assertThat(answered[0]).isEqualTo(n);
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void aDeepBacklogRejectedWhenTheLimiterClosesDoesNotOverflowTheStack() {
        int n = 200_000;
        AsyncSemaphore sem = new AsyncSemaphore(1);
        Permit held = AsyncLimiter.of(sem).tryAcquire();
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().limiter(AsyncLimiter.of(sem)).build(), sink);
        Object[] msgs = new Object[n];
        for (int i = 0; i < n; i++) {
            msgs[i] = i;
        }
        ch.writeInbound(msgs);
        sem.close();
        ch.runPendingTasks();
        assertThat(sink.rejected).hasSize(n);
        held.release();
        ch.finishAndReleaseAll();
    }

    /** Ends its semaphore's permits, noting on which thread each end ran. */
    static final class ThreadRecordingLimiter extends ForwardingLimiter {
        final AsyncSemaphore semaphore;
        final ConcurrentLinkedQueue<Thread> endedOn = new ConcurrentLinkedQueue<>();

        ThreadRecordingLimiter() {
            this(new AsyncSemaphore(1, 100));
        }

        private ThreadRecordingLimiter(AsyncSemaphore semaphore) {
            super(AsyncLimiter.of(semaphore));
            this.semaphore = semaphore;
        }

        @Override
        protected Permit map(Permit p) {
            return new Permit() {
                @Override
                public boolean release() {
                    endedOn.add(Thread.currentThread());
                    return p.release();
                }

                @Override
                public boolean releaseDropped() {
                    endedOn.add(Thread.currentThread());
                    return p.releaseDropped();
                }

                @Override
                public boolean releaseIgnored() {
                    endedOn.add(Thread.currentThread());
                    return p.releaseIgnored();
                }

                @Override
                public boolean isReleased() {
                    return p.isReleased();
                }
            };
        }
    }

    @Test
    void addedWithItsOwnExecutorGroupItsPermitsEndOnThatExecutor() throws Exception {
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventExecutorGroup handlers = new DefaultEventExecutorGroup(1);
        ThreadRecordingLimiter limiter = new ThreadRecordingLimiter();
        ConcurrentLinkedQueue<Thread> handlerThreads = new ConcurrentLinkedQueue<>();
        int n = 200;
        try {
            Channel server = new ServerBootstrap().group(loops).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new LineBasedFrameDecoder(100),
                                    new StringDecoder(StandardCharsets.US_ASCII), new StringEncoder(StandardCharsets.US_ASCII));
                            ch.pipeline().addLast(handlers, LimitingHandler.builder().limiter(limiter).perChannel(2).build());
                            ch.pipeline().addLast(handlers, new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    handlerThreads.add(Thread.currentThread());
                                    // the channel's write: its promise belongs to the channel's loop, not to this executor
                                    ctx.channel().writeAndFlush("answer to " + msg + "\n");
                                }
                            });
                        }
                    }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            try (Socket socket = new Socket("127.0.0.1", port)) {
                socket.setSoTimeout(10_000);
                StringBuilder requests = new StringBuilder();
                for (int i = 0; i < n; i++) {
                    requests.append('m').append(i).append('\n');
                }
                socket.getOutputStream().write(requests.toString().getBytes(StandardCharsets.US_ASCII));
                socket.getOutputStream().flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
                for (int i = 0; i < n; i++) {
                    assertThat(in.readLine()).isEqualTo("answer to m" + i);
                }
            }
            Thread handlerThread = handlerThreads.peek();
            assertThat(handlerThreads).containsOnly(handlerThread);
            Poll.until(Duration.ofSeconds(5), () -> limiter.endedOn.size() >= n);
            assertThat(limiter.endedOn).hasSize(n);
            assertThat(limiter.endedOn).as("ended on the handler's executor, where its state lives").containsOnly(handlerThread);
            assertThat(limiter.semaphore.availablePermits()).isEqualTo(1);
            server.close().sync();
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            handlers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void removedByTheHandlerBehindWhileAnsweringAMessageAdmittedLaterThatAnswerIsStillFlushed() {
        List<Object> seen = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().perChannel(1).build(),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        seen.add(msg);
                        ctx.write("response to " + msg);
                        if (msg.equals("upgrade")) {             // e.g. a protocol switch: no limit from here on
                            ctx.pipeline().remove(LimitingHandler.class);
                        }
                    }

                    @Override
                    public void channelReadComplete(ChannelHandlerContext ctx) {
                        ctx.flush();
                    }
                });
        ch.writeInbound("m1", "upgrade");
        assertThat(seen).containsExactly("m1", "upgrade");
        List<Object> out = new ArrayList<>();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            out.add(o);
        }
        assertThat(out).as("the message admitted later was followed by a read-complete")
                .containsExactly("response to m1", "response to upgrade");
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.finishAndReleaseAll();
    }

    /** A limiter with a bug: every call throws. */
    static final class ThrowingLimiter implements AsyncLimiter {
        @Override
        public Future<Permit> acquire(EventExecutor executor) {
            throw new IllegalStateException("acquire broke");
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
            throw new IllegalStateException("acquire broke");
        }

        @Override
        public Permit tryAcquire() {
            throw new IllegalStateException("tryAcquire broke");
        }

        @Override
        public LimiterStatistics statistics() {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void aLimiterThatThrowsRejectsTheMessageWithItsExceptionAndLosesNothing() {
        for (boolean backPressure : new boolean[] {true, false}) {
            LimitingHandlerTest.Sink s = new LimitingHandlerTest.Sink();
            LimitingHandler.Builder b = LimitingHandler.builder().limiter(new ThrowingLimiter());
            EmbeddedChannel ch = new EmbeddedChannel((backPressure ? b.backPressure() : b.reject()).build(), s);
            ByteBuf m1 = buf(1);
            ByteBuf m2 = buf(2);
            ch.writeInbound(m1, m2);
            assertThat(s.rejected).as("backPressure=" + backPressure).hasSize(2);
            assertThat(s.rejected.get(0).message()).isSameAs(m1);
            assertThat(s.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.LIMITER);
            assertThat(s.rejected.get(0).cause()).isInstanceOf(IllegalStateException.class);
            assertThat(ch.config().isAutoRead()).isTrue();
            s.rejected.forEach(r -> assertThat(r.release()).isTrue());
            assertThat(m1.refCnt()).isZero();
            assertThat(m2.refCnt()).isZero();
            ch.checkException();
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void aPermitWhoseEndThrowsStillLetsTheNextMessageOfTheChannelIn() {
        AsyncSemaphore semaphore = new AsyncSemaphore(10);
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder().perChannel(1)
                .limiter(ForwardingLimiter.endingThenThrowing(semaphore, "a part's end broke")).build(), sink);
        LimitingHandler h = ch.pipeline().get(LimitingHandler.class);
        ch.writeInbound("m1", "m2");
        assertThat(sink.read).containsExactly("m1");

        assertThatThrownBy(() -> ch.writeOutbound("r1"))    // ends m1's permit, which throws
                .as("fired down the pipeline (EmbeddedChannel rethrows what reaches its tail)")
                .hasMessage("a part's end broke");

        assertThat(sink.read).as("m1 was answered: m2 is admitted").containsExactly("m1", "m2");
        assertThat(h.inFlight()).isEqualTo(1);
        assertThat(ch.config().isAutoRead()).isTrue();
        assertThatThrownBy(() -> ch.writeOutbound("r2")).hasMessage("a part's end broke");
        assertThat(h.inFlight()).isZero();
        assertThat(semaphore.availablePermits()).isEqualTo(10);
        ch.finishAndReleaseAll();
    }

    @Test
    void aPermitWhoseEndThrowsOnCloseStillReleasesEverythingAndTheCloseReachesTheHandlersBehind() {
        AsyncSemaphore semaphore = new AsyncSemaphore(2);
        List<Object> behind = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder()
                .limiter(ForwardingLimiter.endingThenThrowing(semaphore, "a part's end broke")).build(), sink, new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        behind.add("inactive");
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        behind.add(cause.getMessage());
                        for (Throwable s : cause.getSuppressed()) {
                            behind.add("suppressed: " + s.getMessage());
                        }
                    }
                });
        ByteBuf m1 = buf(1);
        ByteBuf m2 = buf(2);
        ByteBuf m3 = buf(3);
        ch.writeInbound(m1, m2, m3);                         // m1 and m2 admitted, m3 waits
        assertThat(sink.read).containsExactly(m1, m2);
        assertThat(semaphore.queueLength()).isEqualTo(1);

        ch.close();                                          // m1's permit throws as it ends

        assertThat(semaphore.availablePermits()).as("m2's permit ended too").isEqualTo(2);
        assertThat(semaphore.queueLength()).isZero();
        assertThat(m3.refCnt()).as("the message not admitted was released").isZero();
        assertThat(behind).as("the first failure is reported, m2's in it, and the close still reaches the handlers behind")
                .containsExactly("a part's end broke", "suppressed: a part's end broke", "inactive");
        sink.read.forEach(ReferenceCountUtil::release);
    }

    @Test
    void aLimiterWhoseAcquireReturnsANullFutureRejectsTheMessageAndLosesNothing() {
        // a user's limiter with a bug, as CompositeLimiterTest and KeyedLimiterTest have it
        EmbeddedChannel ch = new EmbeddedChannel(LimitingHandler.builder()
                .limiter(new AnsweringLimiter(executor -> null)).build(), sink);
        ByteBuf m1 = buf(1);
        ByteBuf m2 = buf(2);
        ch.writeInbound(m1, m2);
        ch.checkException();
        assertThat(sink.rejected).extracting(LimitingHandler.Rejected::message).containsExactly(m1, m2);
        assertThat(sink.rejected.get(0).reason()).isEqualTo(LimitingHandler.Reason.LIMITER_WAIT);
        assertThat(sink.rejected.get(0).cause()).isInstanceOf(NullPointerException.class).hasMessageContaining("null future");
        assertThat(ch.config().isAutoRead()).as("reading resumed").isTrue();
        assertThat(ch.pipeline().get(LimitingHandler.class).waitingMessages()).isZero();
        sink.rejected.forEach(r -> assertThat(r.release()).isTrue());
        assertThat(m1.refCnt()).isZero();
        assertThat(m2.refCnt()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void whenTheChannelsEventLoopShutsDownEveryPermitWaitAndMessageIsGivenBackOnce() throws Exception {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup child = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        RecordingLimiter limiter = new RecordingLimiter(2, 10);
        Permit held = limiter.tryAcquire();                      // one of two: the handler gets the other
        ConcurrentLinkedQueue<ByteBuf> frames = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Object> admitted = new ConcurrentLinkedQueue<>();
        AtomicReference<LimitingHandler> handler = new AtomicReference<>();
        try {
            Channel server = new ServerBootstrap().group(boss, child).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            LimitingHandler h = LimitingHandler.builder().limiter(limiter).build();
                            handler.set(h);
                            ch.pipeline().addLast(new LineBasedFrameDecoder(100), new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    frames.add((ByteBuf) msg);   // every frame the handler is given
                                    ctx.fireChannelRead(msg);
                                }
                            }, h, new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    admitted.add(msg);          // never answered: its permit stays held
                                    ReferenceCountUtil.release(msg);
                                }
                            });
                        }
                    }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            try (Socket socket = new Socket("127.0.0.1", port)) {
                socket.getOutputStream().write("m1\nm2\nm3\nm4\n".getBytes(StandardCharsets.US_ASCII));
                socket.getOutputStream().flush();
                // m1 admitted with the second permit, m2 in the limiter's queue, m3 and m4 behind it
                Poll.assertEventually("m1 admitted and m2 queued in the limiter", Duration.ofSeconds(10),
                        () -> admitted.size() == 1 && limiter.semaphore.queueLength() == 1 && frames.size() == 4);
                assertThat(child.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(limiter.outcomes).as("the admitted message's permit, ended once").containsExactly(Permit.Outcome.IGNORED);
            assertThat(limiter.semaphore.queueLength()).as("the wait left the queue").isZero();
            assertThat(frames).as("every frame released").allSatisfy(f -> assertThat(f.refCnt()).isZero());
            assertThat(handler.get().inFlight()).isZero();
            assertThat(handler.get().waitingMessages()).isZero();
            held.release();
            assertThat(limiter.semaphore.availablePermits()).isEqualTo(2);
            server.close().sync();
        } finally {
            child.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void onASocketAutoReadTurnedOnByAnotherPartyWhilePausedLeavesTheConnectionReading() throws Exception {
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        io.netty.util.concurrent.Promise<Void> gate = loops.next().newPromise();
        AtomicReference<Channel> accepted = new AtomicReference<>();
        AtomicReference<LimitingHandler> handler = new AtomicReference<>();
        try {
            Channel server = new ServerBootstrap().group(loops).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            accepted.set(ch);
                            handler.set(LimitingHandler.builder().perChannel(1).build());
                            ch.pipeline().addLast(new LineBasedFrameDecoder(100),
                                    new StringDecoder(StandardCharsets.US_ASCII), new StringEncoder(StandardCharsets.US_ASCII),
                                    handler.get(), new ChannelInboundHandlerAdapter() {
                                        @Override
                                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                            gate.addListener(g -> ctx.writeAndFlush("answer to " + msg + "\n"));
                                        }
                                    });
                        }
                    }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            try (Socket socket = new Socket("127.0.0.1", port)) {
                socket.setSoTimeout(5_000);
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
                socket.getOutputStream().write("m1\nm2\n".getBytes(StandardCharsets.US_ASCII));
                socket.getOutputStream().flush();
                Poll.assertEventually("m2 waits behind m1", Duration.ofSeconds(10),
                        () -> handler.get() != null && handler.get().waitingMessages() == 1);
                Channel ch = accepted.get();
                ch.eventLoop().submit(() -> ch.config().setAutoRead(true)).sync();   // another party's flow control
                ch.eventLoop().submit(() -> gate.setSuccess(null)).sync();           // m1 answered, m2 admitted and answered
                assertThat(in.readLine()).isEqualTo("answer to m1");
                assertThat(in.readLine()).isEqualTo("answer to m2");
                socket.getOutputStream().write("m3\n".getBytes(StandardCharsets.US_ASCII));
                socket.getOutputStream().flush();
                assertThat(in.readLine()).as("the connection still reads").isEqualTo("answer to m3");
            }
            server.close().sync();
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
