package dev.nettysync.demo;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;

/**
 * Closes connections that hold the server up without sending requests: it sits in front of the
 * HTTP codec and sees raw bytes.
 * <pre>
 *            first byte of a request           request decoded (requestStarted)
 *   IDLE ───────────────────────────▶ READING ───────────────────────────────▶ PROCESSING
 *    ▲  idle timeout: close             │ read timeout: 408 + close               │
 *    └──────────────────────────────────┴──────── response written (responseDone) ◀┘
 * </pre>
 * The read deadline runs from a request's first byte to its full decoding, so a client that
 * trickles its headers a byte at a time (slowloris) is cut off as surely as a silent one, which a
 * plain read-idle timer would miss. While a request is processed no deadline applies: the
 * backend call has its own timeouts.
 *
 * <p>One instance per connection; every method runs on the connection's event loop. The
 * {@link GatewayHandler} of the same pipeline calls {@link #requestStarted()} and
 * {@link #responseDone()}.
 */
final class ConnectionDeadlineHandler extends ChannelInboundHandlerAdapter {

    private enum State { IDLE, READING, PROCESSING }

    private final long idleTimeoutNanos;
    private final long readTimeoutNanos;
    private final DemoMetrics metrics;
    private ChannelHandlerContext ctx;      // set in handlerAdded; event loop only
    private State state = State.IDLE;       // event loop only
    private ScheduledFuture<?> timer;       // the armed deadline, or null; event loop only

    ConnectionDeadlineHandler(long idleTimeoutNanos, long readTimeoutNanos, DemoMetrics metrics) {
        this.idleTimeoutNanos = idleTimeoutNanos;
        this.readTimeoutNanos = readTimeoutNanos;
        this.metrics = metrics;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        arm(idleTimeoutNanos);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == State.IDLE && msg instanceof ByteBuf buf && buf.isReadable()) {
            state = State.READING;
            arm(readTimeoutNanos);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        disarm();
        ctx.fireChannelInactive();
    }

    /** A complete request was decoded: no deadline while it is processed. */
    void requestStarted() {
        state = State.PROCESSING;
        disarm();
    }

    /** The response went out on a connection that stays open: wait for the next request. */
    void responseDone() {
        state = State.IDLE;
        if (ctx.channel().isActive()) {
            arm(idleTimeoutNanos);
        }
    }

    private void arm(long nanos) {
        disarm();
        timer = ctx.executor().schedule(this::expire, nanos, TimeUnit.NANOSECONDS);
    }

    private void disarm() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expire() {
        timer = null;
        if (!ctx.channel().isActive()) {
            return;
        }
        switch (state) {
            case IDLE -> ctx.close();
            case READING -> {
                // Through the whole pipeline so the HTTP encoder writes it; nothing else is being
                // answered on this connection while a request is still being read.
                state = State.PROCESSING;
                metrics.recordRequest(Route.OTHER, 408, readTimeoutNanos);
                ctx.channel().writeAndFlush(Responses.text(ctx.alloc(), HttpResponseStatus.REQUEST_TIMEOUT,
                                "request not received in time", false))
                        .addListener(ChannelFutureListener.CLOSE);
            }
            case PROCESSING -> { }
            default -> throw new IllegalStateException("unknown state " + state);
        }
    }
}
