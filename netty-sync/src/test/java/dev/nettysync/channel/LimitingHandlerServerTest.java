package dev.nettysync.channel;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.testing.Poll;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
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
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link LimitingHandler} in a real HTTP server on an ephemeral port, with real clients: a
 * pipelining client is slowed down (back-pressure), not refused, and gets its answers in order;
 * in reject mode the protocol layer answers 503 for what the limiter refuses, and the
 * connection keeps serving.
 */
class LimitingHandlerServerTest {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Answers each request after {@code delay} (or when `gate` opens), 503 for each Rejected event. */
    private final class App extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final Promise<Void> gate;

        App(Promise<Void> gate) {
            this.gate = gate;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            int now = inFlight.incrementAndGet();
            maxInFlight.accumulateAndGet(now, Math::max);
            String uri = req.uri();
            Runnable answer = () -> {
                inFlight.decrementAndGet();
                ctx.writeAndFlush(response(HttpResponseStatus.OK, uri));
            };
            if (gate != null) {
                gate.addListener(g -> ctx.executor().execute(answer));
            } else {
                ctx.executor().schedule(answer, 5, TimeUnit.MILLISECONDS);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof LimitingHandler.Rejected r) {
                String uri = ((FullHttpRequest) r.message()).uri();
                r.release();
                ctx.writeAndFlush(response(HttpResponseStatus.SERVICE_UNAVAILABLE, uri));
            } else {
                ReferenceCountUtil.release(evt);
            }
        }
    }

    private static FullHttpResponse response(HttpResponseStatus status, String body) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
        return res;
    }

    private int start(Supplier<LimitingHandler> limiting, Promise<Void> gate) {
        return startWith(limiting, () -> new App(gate));
    }

    private int startWith(Supplier<LimitingHandler> limiting, Supplier<? extends ChannelHandler> app) {
        Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 16),
                                limiting.get(), app.get());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Test
    void pipeliningClientsAreSlowedDownNotRefusedAndAnsweredInOrder() throws Exception {
        AsyncSemaphore sem = new AsyncSemaphore(3);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        int port = start(() -> LimitingHandler.builder().perChannel(2).limiter(limiter)
                .completion(m -> m instanceof LastHttpContent ? dev.nettysync.limit.Permit.Outcome.SUCCESS : null)
                .build(), null);
        int clients = 4;
        int perClient = 25;
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            List<java.util.concurrent.Future<List<String>>> results = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                results.add(pool.submit(() -> pipeline(port, client, perClient)));
            }
            for (int c = 0; c < clients; c++) {
                List<String> lines = results.get(c).get(60, TimeUnit.SECONDS);
                List<String> expected = new ArrayList<>();
                for (int i = 0; i < perClient; i++) {
                    expected.add("200 /" + c + "/" + i);
                }
                assertThat(lines).as("client " + c + ": all answered 200, in order").isEqualTo(expected);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(maxInFlight.get()).as("the shared limit held").isLessThanOrEqualTo(3).isPositive();
        awaitPermits(sem, 3);
        assertThat(sem.queueLength()).isZero();
    }

    /**
     * The shape of Netty's {@code HttpHelloWorldServerHandler}: answers each request at once with a
     * plain {@code write} and flushes only in {@code channelReadComplete}.
     */
    private static final class FlushesOnReadComplete extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            ctx.write(response(HttpResponseStatus.OK, req.uri()));
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    @Test
    void aHandlerThatFlushesOnlyOnReadCompleteAnswersEveryPipelinedRequest() throws Exception {
        // One at a time per connection: every request after the first is admitted when the
        // previous answer's write completes, outside the channel's read.
        int port = startWith(() -> LimitingHandler.builder().perChannel(1).build(), FlushesOnReadComplete::new);
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            expected.add("200 /0/" + i);
        }
        assertThat(pipeline(port, 0, 25)).as("all answered 200, in order").isEqualTo(expected);
    }

    /** Writes all requests at once (HTTP/1.1 pipelining), then reads the answers in order. */
    private static List<String> pipeline(int port, int client, int n) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            StringBuilder all = new StringBuilder();
            for (int i = 0; i < n; i++) {
                all.append("GET /").append(client).append('/').append(i).append(" HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            OutputStream out = s.getOutputStream();
            out.write(all.toString().getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            List<String> answers = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String status = in.readLine();
                int length = 0;
                for (String h; !(h = in.readLine()).isEmpty(); ) {
                    if (h.toLowerCase().startsWith("content-length:")) {
                        length = Integer.parseInt(h.substring(15).trim());
                    }
                }
                char[] body = new char[length];
                for (int read = 0; read < length; ) {
                    read += in.read(body, read, length - read);
                }
                answers.add(status.split(" ")[1] + ' ' + new String(body));
            }
            return answers;
        }
    }

    @Test
    void rejectModeAnswers503ForWhatTheLimiterRefusesAndKeepsServing() throws Exception {
        AsyncSemaphore sem = new AsyncSemaphore(2);
        Promise<Void> gate = GlobalEventExecutor.INSTANCE.newPromise();
        int port = start(() -> LimitingHandler.builder().limiter(AsyncLimiter.of(sem)).reject().build(), gate);
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        int n = 12;
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            calls.add(client.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/" + i)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        // While two requests hold the permits (the gate is shut), every other one is refused at once.
        Poll.until(Duration.ofSeconds(30), () -> calls.stream().filter(CompletableFuture::isDone).count() >= n - 2);
        assertThat(calls.stream().filter(CompletableFuture::isDone).map(CompletableFuture::join)
                .allMatch(r -> r.statusCode() == 503)).as("the refused ones got 503").isTrue();
        gate.setSuccess(null);
        int ok = 0;
        for (CompletableFuture<HttpResponse<String>> call : calls) {
            HttpResponse<String> r = call.get(30, TimeUnit.SECONDS);
            if (r.statusCode() == 200) {
                ok++;
            } else {
                assertThat(r.statusCode()).isEqualTo(503);
            }
        }
        assertThat(ok).as("exactly the permits' worth admitted").isEqualTo(2);
        // The connections keep serving: a later request is admitted.
        HttpResponse<String> later = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/later")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(later.statusCode()).isEqualTo(200);
        assertThat(later.body()).isEqualTo("/later");
        awaitPermits(sem, 2);
    }

    /** A permit ends when its response's write completes, which a fast client may beat by a hair. */
    private static void awaitPermits(AsyncSemaphore sem, int expected) throws InterruptedException {
        Poll.until(Duration.ofSeconds(5), () -> sem.availablePermits() == expected);
        assertThat(sem.availablePermits()).as("permits back").isEqualTo(expected);
    }
}
