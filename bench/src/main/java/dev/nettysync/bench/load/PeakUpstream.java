package dev.nettysync.bench.load;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An upstream for fleet load tests that records its own peak concurrency: every
 * {@code GET /items/{id}} is answered after {@code --delay-ms}, and the most requests it held at
 * once is kept. {@code GET /peak} answers {@code peak=P current=C total=T}; {@code GET /reset}
 * zeroes the peak (after a warm-up). A malformed request is answered 400 and not counted; an
 * answer without keep-alive closes the connection. The fleet script checks that the peak never exceeded the
 * fleet limit, whatever the number of gateway instances in front.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.nettysync.bench.load.PeakUpstream --port=18090 --delay-ms=20
 * </pre>
 */
@Command(name = "peak-upstream", mixinStandardHelpOptions = true,
        description = "HTTP upstream that delays each answer and records its peak concurrency")
public final class PeakUpstream implements Callable<Integer> {

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "18090", description = "Port (default ${DEFAULT-VALUE}; 0 = any).")
    int port;

    @Option(names = "--delay-ms", defaultValue = "20", description = "Delay of each item answer (default ${DEFAULT-VALUE}).")
    long delayMs;

    @Option(names = "--io-threads", defaultValue = "1", description = "Event loops (default ${DEFAULT-VALUE}).")
    int ioThreads;

    final AtomicInteger current = new AtomicInteger();   // item requests held now
    final AtomicInteger peak = new AtomicInteger();      // most held at once since the last reset
    final AtomicLong total = new AtomicLong();           // item requests answered
    private MultiThreadIoEventLoopGroup group;
    private Channel channel;

    public static void main(String[] args) {
        int code = new CommandLine(new PeakUpstream()).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    @Override
    public Integer call() throws Exception {
        start();
        System.out.println("peak-upstream listening on " + host + ":" + port() + ", delay " + delayMs + " ms");
        channel.closeFuture().sync();
        return 0;
    }

    /** Binds and returns; the server runs until {@link #stop()}. */
    public void start() throws InterruptedException {
        group = new MultiThreadIoEventLoopGroup(ioThreads, NioIoHandler.newFactory());
        channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536), new Handler());
                    }
                })
                .bind(host, port).sync().channel();
    }

    public int port() {
        return ((java.net.InetSocketAddress) channel.localAddress()).getPort();
    }

    public int peak() {
        return peak.get();
    }

    public void stop() {
        if (channel != null) {
            channel.close();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (!req.decoderResult().isSuccess()) {
                // The decoder discards everything after a request it could not decode: 400, close.
                answer(ctx, false, HttpResponseStatus.BAD_REQUEST, "malformed request\n");
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            String uri = req.uri();
            if (uri.startsWith("/peak")) {
                answer(ctx, keepAlive, HttpResponseStatus.OK, "peak=" + peak.get() + " current=" + current.get() + " total=" + total.get() + "\n");
            } else if (uri.startsWith("/reset")) {
                peak.set(current.get());
                answer(ctx, keepAlive, HttpResponseStatus.OK, "reset\n");
            } else {
                int now = current.incrementAndGet();
                peak.accumulateAndGet(now, Math::max);
                ctx.executor().schedule(() -> {
                    current.decrementAndGet();
                    total.incrementAndGet();
                    answer(ctx, keepAlive, HttpResponseStatus.OK, "{\"id\":\"" + uri.substring(uri.lastIndexOf('/') + 1) + "\"}");
                }, delayMs, TimeUnit.MILLISECONDS);
            }
        }

        /** Answers; closes the connection after the answer unless it is kept alive. */
        private void answer(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String body) {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, body.startsWith("{") ? "application/json" : "text/plain");
            HttpUtil.setContentLength(r, r.content().readableBytes());
            HttpUtil.setKeepAlive(r, keepAlive);
            ChannelFuture written = ctx.writeAndFlush(r);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();                   // a reset by the client, or a pipeline failure: nothing to answer
        }
    }
}
