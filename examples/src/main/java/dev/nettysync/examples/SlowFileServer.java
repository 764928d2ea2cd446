package dev.nettysync.examples;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The local HTTP server the downloader example downloads from: {@code GET /file<n>} answers,
 * after a fixed delay (a slow network, timed by the event loop's scheduler, never a sleep), with
 * the file's contents, {@link #contents(int)}. Anything else gets a 404 or 405 and the server
 * keeps serving. It counts the requests being served, so that the example's limit is checked
 * where it matters: at the server.
 */
public final class SlowFileServer implements AutoCloseable {

    private static final Pattern FILE = Pattern.compile("/file(\\d{1,6})");

    private volatile Channel serverChannel;                           // set once by start(), when bound
    private final long delayNanos;
    private final AtomicInteger inFlight = new AtomicInteger();    // requests received, not yet answered
    private final AtomicInteger maxInFlight = new AtomicInteger(); // the most ever at once
    private final AtomicInteger served = new AtomicInteger();      // 200 answers sent

    private SlowFileServer(long delayNanos) {
        this.delayNanos = delayNanos;
    }

    /**
     * Starts a server on 127.0.0.1 and a free port, answering each request after {@code delayNanos}.
     * Returns once it is bound. Blocks: call it from a plain thread.
     */
    public static SlowFileServer start(EventLoopGroup group, long delayNanos) {
        SlowFileServer server = new SlowFileServer(delayNanos);
        server.serverChannel = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        c.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(8192), server.new Handler());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
        return server;
    }

    /** What {@code GET /file<n>} returns. */
    public static String contents(int n) {
        return "contents of file" + n + "\n" + "x".repeat(1000 + n);
    }

    /** {@code http://127.0.0.1:<port>}. */
    public String baseUrl() {
        return "http://127.0.0.1:" + ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** The most requests the server was serving at once. */
    public int maxInFlight() {
        return maxInFlight.get();
    }

    /** The number of files served (200 answers). */
    public int served() {
        return served.get();
    }

    /** Stops listening; open connections close with the event loops. */
    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            Matcher m = FILE.matcher(new QueryStringDecoder(req.uri()).path());   // the query is ignored
            if (!req.method().equals(HttpMethod.GET)) {
                respond(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET\n", keepAlive);
                return;
            }
            if (!m.matches()) {
                respond(ctx, HttpResponseStatus.NOT_FOUND, "no such file: " + req.uri() + "\n", keepAlive);
                return;
            }
            int n = Integer.parseInt(m.group(1));
            int now = inFlight.incrementAndGet();
            maxInFlight.accumulateAndGet(now, Math::max);
            ctx.executor().schedule(() -> {
                inFlight.decrementAndGet();
                served.incrementAndGet();
                respond(ctx, HttpResponseStatus.OK, contents(n), keepAlive);
            }, delayNanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        private void respond(ChannelHandlerContext ctx, HttpResponseStatus status, String body, boolean keepAlive) {
            ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            HttpUtil.setKeepAlive(res, keepAlive);
            ChannelFuture written = ctx.writeAndFlush(res);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }
}
