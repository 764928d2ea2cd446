package dev.nettysync.demo;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;

/**
 * Closes connections that hold the server up without sending requests.
 * <pre>
 *              first byte of a request (requestBegun)
 *   IDLE ─────────────────────────────────────────────▶ READING
 *    ▲  idle timeout: close                               │ read timeout: 408 + close
 *    │                                                    │ request decoded, started (requestStarted)
 *    │    response written, nothing of the next request   ▼
 *    └──────────────────────────────────────────────── PROCESSING ──▶ READING
 *                                                       response written, part of the next
 *                                                       request already received
 * </pre>
 * The read deadline runs from a request's first byte to its full decoding, so a client that
 * trickles its headers a byte at a time (slowloris) is cut off as surely as a silent one, which a
 * plain read-idle timer would miss. While a request is processed no deadline applies: the
 * backend call has its own timeouts, and the answer to a request received meanwhile could not be
 * sent before it anyway. When that answer is written and part of the next request has already
 * arrived (in the same read as the one answered, or during its processing: a pipelined request
 * cut mid-way, headers without their blank line), the read deadline starts then, not the idle
 * one: such a connection gets its 408 after the read timeout, never a silent close after the
 * (longer) idle timeout. An answer that cannot be written at once (the client does not read)
 * must go out within the idle timeout, else the connection closes: a client that never reads
 * would otherwise hold its connection for ever.
 *
 * <p>The boundaries of requests in the byte stream come from the decoder of {@link GatewayCodec}
 * ({@link #requestBegun()}, {@link #requestDecoded()}); the {@link GatewayHandler} of the same
 * pipeline calls {@link #requestStarted()} and {@link #responseDone()}. One instance per
 * connection; every method runs on the connection's event loop.
 */
final class ConnectionDeadlineHandler extends ChannelInboundHandlerAdapter {

    private final long idleTimeoutNanos;
    private final long readTimeoutNanos;
    private final DemoMetrics metrics;
    private ChannelHandlerContext ctx;      // set in handlerAdded; event loop only
    private boolean partial;                // part of a request received, not all of it; event loop only
    private boolean processing;             // between requestStarted and responseDone; event loop only
    private boolean writing;                // an answer did not go out at once and is not written yet; loop only
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
    public void channelInactive(ChannelHandlerContext ctx) {
        disarm();
        ctx.fireChannelInactive();
    }

    /** The decoder received the first byte of a request. */
    void requestBegun() {
        partial = true;
        if (!processing) {
            arm(readTimeoutNanos);
        }
    }

    /** The decoder decoded the last byte of a request (or gave up on it). */
    void requestDecoded() {
        partial = false;
        if (!processing) {
            // The gateway starts it now (requestStarted), in the same read; it is never dropped.
            disarm();
        }
    }

    /** A complete request was decoded and is being answered: no deadline while it is. */
    void requestStarted() {
        processing = true;
        disarm();
    }

    /**
     * An answer did not go out at once (the client is not reading, or the flush was deferred):
     * it must be written within the idle timeout, else the connection closes. A client that
     * does not read its answers is as idle as one that sends nothing, and would otherwise hold
     * its connection for ever.
     */
    void writePending() {
        writing = true;
        arm(idleTimeoutNanos);
    }

    /** The response went out on a connection that stays open: wait for the rest of the next request, or for one. */
    void responseDone() {
        processing = false;
        writing = false;
        arm(partial ? readTimeoutNanos : idleTimeoutNanos);
    }

    private void arm(long nanos) {
        disarm();
        if (ctx.channel().isActive()) {    // not after channelInactive (the decoder's last decode runs then)
            timer = ctx.executor().schedule(this::expire, nanos, TimeUnit.NANOSECONDS);
        }
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
        if (writing) {
            ctx.close();                   // the client has not read its answer for the idle timeout
            return;
        }
        if (processing) {
            return;
        }
        if (!partial) {
            ctx.close();
            return;
        }
        // Through the whole pipeline so the HTTP encoder writes it; nothing else is being
        // answered on this connection while a request is still being read.
        processing = true;
        metrics.recordRequest(Route.OTHER, 408, readTimeoutNanos);
        long expired = System.nanoTime();
        ChannelFuture written = ctx.channel().writeAndFlush(Responses.text(ctx.alloc(),
                HttpResponseStatus.REQUEST_TIMEOUT, "request not received in time", false));
        written.addListener(f -> {
            // Like every answer of the GatewayHandler, counted once flushed. No request was decoded:
            // its latency is the read timeout (from the request's first byte) plus the flush.
            if (f.isSuccess()) {
                metrics.recordResponseFlushed(HttpResponseStatus.REQUEST_TIMEOUT.code(),
                        readTimeoutNanos + (System.nanoTime() - expired));
            }
        });
        written.addListener(ChannelFutureListener.CLOSE);
        if (!written.isDone()) {
            writePending();                // closes anyway if the client does not read the 408
        }
    }
}
