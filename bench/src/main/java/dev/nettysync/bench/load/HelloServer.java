package dev.nettysync.bench.load;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.ArrayDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The P4 baseline: a bare Netty HTTP/1.1 hello-world server, shaped like Netty's
 * {@code example/http/helloworld}: {@code HttpServerCodec}, one handler that answers every
 * request with a fixed body (a request the decoder could not decode: 400, then close), flush at
 * the end of each read batch. No aggregation, no routing, no
 * limiter: the most a Netty HTTP server does per request. The body is a JSON object of the same
 * size as demo-server's answer for {@code /api/items/1}, so both move the same bytes.
 *
 * <p>With {@code --delay-ms L --capacity K} it plays instead a saturable upstream for demo-server's
 * {@code --upstream}: each answer takes {@code L} ms and at most {@code K} are in progress at once,
 * the rest wait in an unbounded FIFO (like a database behind a pool of {@code K} connections).
 * Offered more than {@code K/L} requests per second, its latency grows without bound, which is
 * what a limiter in front of it is for.
 *
 * <p>Run: {@code java -cp bench/target/benchmarks.jar dev.nettysync.bench.load.HelloServer --port 8081}
 */
@Command(name = "hello-server", mixinStandardHelpOptions = true,
        description = "Bare Netty HTTP hello-world server (the baseline of the P4 load comparison).")
public final class HelloServer implements Callable<Integer> {

    /** Same length as demo-server's {"id":"1","name":"item 1","source":"simulated"}. */
    static final byte[] BODY = "{\"id\":\"1\",\"name\":\"item 1\",\"source\":\"hello-srv\"}"
            .getBytes(StandardCharsets.US_ASCII);

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8081", description = "Port (default ${DEFAULT-VALUE}; 0 = any free port).")
    int port;

    @Option(names = "--io-threads", defaultValue = "0",
            description = "Event-loop threads; 0 = Netty's default, 2 x cores (as demo-server).")
    int ioThreads;

    @Option(names = "--transport", defaultValue = "auto",
            description = "auto (epoll when available), epoll or nio (as demo-server).")
    Transport transport;

    @Option(names = "--delay-ms", defaultValue = "0",
            description = "Upstream mode: each answer takes this long (default ${DEFAULT-VALUE}: answer at once).")
    double delayMs;

    @Option(names = "--capacity", defaultValue = "0",
            description = "Upstream mode: most answers in progress at once, others queue FIFO (0 = unbounded).")
    int capacity;

    public static void main(String[] args) {
        System.exit(new CommandLine(new HelloServer()).setCaseInsensitiveEnumValuesAllowed(true).setOverwrittenOptionsAllowed(true).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (delayMs < 0 || capacity < 0) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--delay-ms and --capacity must be >= 0");
        }
        SlowUpstream upstream = upstream();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(ioThreads, transport.ioHandlerFactory());
        try {
            Channel server = bind(group, upstream);
            System.out.println("hello-server listening on http://" + host + ":"
                    + ((InetSocketAddress) server.localAddress()).getPort() + " ("
                    + (transport.epoll() ? "epoll" : "nio") + ")"
                    + (upstream == null ? "" : ", upstream mode: " + delayMs + " ms per answer, capacity "
                    + (capacity == 0 ? "unbounded" : capacity)));
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown, "hello-server-stop"));
            server.closeFuture().addListener(f -> stop.countDown());
            stop.await();
            return 0;
        } finally {
            group.shutdownGracefully().sync();
        }
    }

    SlowUpstream upstream() {
        return delayMs > 0 ? new SlowUpstream((long) (delayMs * 1e6), capacity) : null;
    }

    /** Binds the server on {@code group}; the returned channel is the listening socket. */
    Channel bind(EventLoopGroup group, SlowUpstream upstream) throws InterruptedException {
        return new ServerBootstrap()
                .group(group)
                .channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpServerExpectContinueHandler(),
                                new HelloHandler(upstream));
                    }
                })
                .bind(host, port).sync().channel();
    }

    /**
     * Upstream mode: at most {@code capacity} answers in progress, each {@code delayNanos} long;
     * the others wait in FIFO order. Shared by all loops; fields guarded by {@code this}.
     */
    static final class SlowUpstream {
        final long delayNanos;
        final int capacity;
        int busy;                                              // guarded by this
        final ArrayDeque<Runnable> waiting = new ArrayDeque<>(); // guarded by this

        SlowUpstream(long delayNanos, int capacity) {
            this.delayNanos = delayNanos;
            this.capacity = capacity;
        }

        void submit(ChannelHandlerContext ctx, boolean keepAlive) {
            Runnable start = () -> ctx.executor().schedule(() -> {
                ctx.writeAndFlush(response(keepAlive)).addListener(keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE
                        : ChannelFutureListener.CLOSE);
                done();
            }, delayNanos, TimeUnit.NANOSECONDS);
            boolean now;
            synchronized (this) {
                now = capacity == 0 || busy < capacity;
                if (now) {
                    busy++;
                } else {
                    waiting.addLast(start);
                }
            }
            if (now) {
                start.run();
            }
        }

        private void done() {
            Runnable next;
            synchronized (this) {
                next = waiting.pollFirst();
                if (next == null) {
                    busy--;
                }
            }
            if (next != null) {
                next.run();                // the slot passes on to the next waiting answer
            }
        }
    }

    static FullHttpResponse response(boolean keepAlive) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                Unpooled.wrappedBuffer(BODY));
        res.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, BODY.length);
        if (!keepAlive) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return res;
    }

    /** The answer to a request the decoder could not decode; the connection closes after it. */
    static FullHttpResponse badRequest() {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST,
                Unpooled.wrappedBuffer(BAD_REQUEST_BODY));
        res.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, BAD_REQUEST_BODY.length)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return res;
    }

    private static final byte[] BAD_REQUEST_BODY = "malformed request\n".getBytes(StandardCharsets.US_ASCII);

    static final class HelloHandler extends SimpleChannelInboundHandler<HttpObject> {
        private final SlowUpstream upstream;      // null: answer at once

        HelloHandler(SlowUpstream upstream) {
            this.upstream = upstream;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpRequest req) {
                if (!req.decoderResult().isSuccess()) {
                    // The decoder discards everything after a request it could not decode: answer
                    // it 400 and close, or the connection would hang (as Netty's helloworld does).
                    ctx.writeAndFlush(badRequest()).addListener(ChannelFutureListener.CLOSE);
                    return;
                }
                boolean keepAlive = HttpUtil.isKeepAlive(req);
                if (upstream != null) {
                    upstream.submit(ctx, keepAlive);
                    return;
                }
                if (keepAlive) {
                    ctx.write(response(true));
                } else {
                    ctx.write(response(false)).addListener(ChannelFutureListener.CLOSE);
                }
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
