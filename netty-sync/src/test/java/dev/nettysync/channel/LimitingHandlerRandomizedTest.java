package dev.nettysync.channel;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.Permit;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link LimitingHandler} under random interleavings, on {@link EmbeddedChannel}s sharing one
 * limiter: messages arrive, are answered in order, other holders take and give back the
 * limiter's permits, someone else turns {@code autoRead} on, channels close and handlers are
 * removed; in half the runs the limiter cannot decide without I/O ({@code tryAcquire} throws,
 * as the Redis limiters' does). After every step: every message reached the handler behind once, in arrival order (or
 * still waits, in back-pressure mode), the per-channel bound holds, the limiter's permits are all
 * accounted for, nothing waits while it could be admitted, and reading is on whenever nothing
 * waits. At the end every permit is back and every buffer released once.
 */
class LimitingHandlerRandomizedTest {

    private static final int PERMITS = 3;

    /** One connection: its channel, its handler, and the protocol handler behind it. */
    private static final class Conn {
        final EmbeddedChannel ch;
        final LimitingHandler handler;
        final int perChannel;
        final boolean backPressure;
        final List<Integer> seen = new ArrayList<>();          // ids passed on, admitted or rejected, in order
        final ArrayDeque<ByteBuf> toAnswer = new ArrayDeque<>(); // passed on, not answered yet
        int sent;
        boolean removed;

        Conn(AsyncLimiter limiter, Random rnd, List<ByteBuf> all) {
            perChannel = 1 + rnd.nextInt(3);
            backPressure = rnd.nextInt(4) != 0;
            LimitingHandler.Builder b = LimitingHandler.builder().perChannel(perChannel).limiter(limiter);
            handler = (backPressure ? b.backPressure() : b.reject()).build();
            ch = new EmbeddedChannel(handler, new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    take((ByteBuf) msg);
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof LimitingHandler.Rejected r) {
                        take(((ByteBuf) r.message()).retain());
                        r.release();
                    }
                }
            });
        }

        private void take(ByteBuf msg) {
            seen.add(msg.getInt(0));
            toAnswer.add(msg);
        }
    }

    @Test
    void randomInterleavingsKeepOrderPermitsBuffersAndReading() {
        long seed0 = System.nanoTime();
        for (int run = 0; run < 300; run++) {
            long seed = seed0 + run;
            try {
                run(new Random(seed));
            } catch (AssertionError e) {
                throw new AssertionError("seed " + seed + ": " + e.getMessage(), e);
            }
        }
    }

    private static void run(Random rnd) {
        AsyncSemaphore sem = new AsyncSemaphore(PERMITS, 1_000);
        AsyncLimiter view = AsyncLimiter.of(sem);
        // half the runs: a limiter that cannot decide without I/O (tryAcquire throws, as Redis's)
        AsyncLimiter limiter = rnd.nextBoolean() ? view : new AsyncLimiter() {
            @Override
            public io.netty.util.concurrent.Future<Permit> acquire(io.netty.util.concurrent.EventExecutor executor) {
                return view.acquire(executor);
            }

            @Override
            public io.netty.util.concurrent.Future<Permit> acquire(io.netty.util.concurrent.EventExecutor executor,
                                                                   long timeout, java.util.concurrent.TimeUnit unit) {
                return view.acquire(executor, timeout, unit);
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
        List<ByteBuf> all = new ArrayList<>();
        List<Conn> conns = new ArrayList<>();
        List<Conn> closed = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            conns.add(new Conn(limiter, rnd, all));
        }
        ArrayDeque<Permit> foreign = new ArrayDeque<>();
        for (int step = 0; step < 200; step++) {
            Conn c = conns.get(rnd.nextInt(conns.size()));
            int action = rnd.nextInt(100);
            if (action < 40) {
                int n = 1 + rnd.nextInt(3);
                for (int i = 0; i < n; i++) {
                    ByteBuf m = Unpooled.buffer(4).writeInt(c.sent++);
                    all.add(m);
                    c.ch.writeInbound(m);
                }
            } else if (action < 75) {
                ByteBuf m = c.toAnswer.poll();
                if (m != null) {
                    m.release();
                    c.ch.writeOutbound("answer");
                }
            } else if (action < 85) {
                Permit p = view.tryAcquire();             // another holder of the same permits
                if (p != null) {
                    foreign.add(p);
                }
            } else if (action < 93) {
                Permit p = foreign.poll();
                if (p != null) {
                    p.release();
                }
            } else if (action < 96) {
                c.ch.config().setAutoRead(true);            // someone else's flow control
            } else if (action < 98) {
                if (!c.removed) {
                    c.removed = true;
                    c.ch.pipeline().remove(c.handler);      // what waited is passed on, unlimited
                }
            } else {
                c.ch.close();
                conns.remove(c);
                closed.add(c);
                conns.add(new Conn(limiter, rnd, all));
            }
            for (Conn x : conns) {
                check(x, sem, foreign.size(), conns);
            }
        }
        for (Conn x : conns) {
            x.ch.close();
        }
        foreign.forEach(Permit::release);
        conns.addAll(closed);
        for (Conn x : conns) {
            x.toAnswer.forEach(ReferenceCountUtil::release);
            x.ch.finishAndReleaseAll();
        }
        assertThat(sem.availablePermits()).as("every permit back").isEqualTo(PERMITS);
        assertThat(sem.queueLength()).isZero();
        assertThat(all).as("every buffer released once").allSatisfy(b -> assertThat(b.refCnt()).isZero());
    }

    private static void check(Conn c, AsyncSemaphore sem, int foreign, List<Conn> conns) {
        c.ch.checkException();
        for (int i = 0; i < c.seen.size(); i++) {
            assertThat(c.seen.get(i)).as("passed on once, in arrival order").isEqualTo(i);
        }
        int waiting = c.removed ? 0 : c.handler.waitingMessages();
        assertThat(c.seen.size() + waiting).as("every message passed on or waiting").isEqualTo(c.sent);
        if (c.removed) {
            return;
        }
        assertThat(c.handler.inFlight()).isLessThanOrEqualTo(c.perChannel);
        if (!c.backPressure) {
            assertThat(waiting).isZero();
        }
        if (waiting == 0) {
            assertThat(c.ch.config().isAutoRead()).as("reading on while nothing waits").isTrue();
        } else if (c.handler.inFlight() < c.perChannel) {
            assertThat(sem.availablePermits()).as("waits while a permit is free: stalled").isZero();
        }
        int inFlight = 0;
        for (Conn x : conns) {
            inFlight += x.removed ? 0 : x.handler.inFlight();
        }
        assertThat(sem.availablePermits() + inFlight + foreign)
                .as("permits: available + held by handlers + held by others").isEqualTo(PERMITS);
    }
}
