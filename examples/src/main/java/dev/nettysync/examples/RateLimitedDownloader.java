package dev.nettysync.examples;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Practice problem 1, solved: download 10 URLs concurrently with at most 3 downloads at once,
 * through an {@code AsyncSemaphore(3)}, and print the timing. The downloads are real: a Netty
 * HTTP client (one connection per download) against a {@link SlowFileServer} that this example
 * starts on 127.0.0.1 and a free port, which answers each file after 1 s. Ten files, three at a
 * time, 1 s each: four waves, about 4 s.
 * <pre>{@code
 * async def download(url, sem):                 static Future<String> download(URI url, AsyncSemaphore sem, ...) {
 *     async with sem:                               return sem.withPermit(ex, () -> {
 *         print(f"downloading {url}")                   t.log("downloading " + url);
 *         return await http_get(url)                    return httpGet(url, ex, ...); });
 * }</pre>
 * A download that fails (connection refused, 404, no answer within 10 s) fails its future with
 * a clear message; the permit is released all the same.
 */
public final class RateLimitedDownloader {

    /** Longest a download may wait for its answer (real seconds, whatever the time scale). */
    static final long READ_TIMEOUT_SECONDS = 10;

    /**
     * The outcome.
     *
     * @param bodies       the downloaded files, in URL order
     * @param seconds      real seconds for all downloads
     * @param serverMaxInFlight the most requests the server was serving at once
     */
    public record Outcome(List<String> bodies, double seconds, int serverMaxInFlight) {
    }

    private RateLimitedDownloader() {
    }

    /** {@code async with sem: return await http_get(url)}. */
    static Future<String> download(URI url, AsyncSemaphore sem, Bootstrap http, EventExecutor ex, Timeline t) {
        return sem.withPermit(ex, () -> {
            t.log("  " + url.getPath() + ": downloading...");
            return Futures.map(httpGet(http, url, ex), ex, body -> {
                t.log("  " + url.getPath() + ": done, " + body.length() + " chars");
                return body;
            });
        });
    }

    /**
     * GET {@code url} on a new connection with Netty's HTTP client; the future (of
     * {@code executor}) succeeds with the body of a 200 answer and fails otherwise. Cancelling it
     * closes the connection.
     */
    static Future<String> httpGet(Bootstrap http, URI url, EventExecutor executor) {
        Promise<String> body = executor.newPromise();
        Bootstrap b = http.clone().handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.pipeline().addLast(
                        new ReadTimeoutHandler(READ_TIMEOUT_SECONDS, TimeUnit.SECONDS),
                        new HttpClientCodec(),
                        new HttpObjectAggregator(1 << 20),
                        new SimpleChannelInboundHandler<FullHttpResponse>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
                                String text = res.content().toString(StandardCharsets.UTF_8);
                                if (res.status().equals(HttpResponseStatus.OK)) {
                                    body.trySuccess(text);
                                } else {
                                    body.tryFailure(new IOException("GET " + url + ": " + res.status() + ": " + text.strip()));
                                }
                                ctx.close();
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                body.tryFailure(new IOException("GET " + url + ": " + cause, cause));
                                ctx.close();
                            }

                            @Override
                            public void channelInactive(ChannelHandlerContext ctx) {
                                body.tryFailure(new IOException("GET " + url + ": connection closed before the answer"));
                            }
                        });
            }
        });
        b.connect(url.getHost(), url.getPort()).addListener(connected -> {
            if (!connected.isSuccess()) {
                body.tryFailure(new IOException("GET " + url + ": cannot connect: " + connected.cause(), connected.cause()));
                return;
            }
            Channel ch = ((ChannelFuture) connected).channel();
            body.addListener(f -> {
                if (f.isCancelled()) {
                    ch.close();                   // the caller gave up: drop the connection
                }
            });
            String target = (url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath())
                    + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target);
            req.headers().set(HttpHeaderNames.HOST, url.getHost() + ':' + url.getPort())
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ch.writeAndFlush(req).addListener(written -> {
                if (!written.isSuccess()) {
                    body.tryFailure(new IOException("GET " + url + ": cannot send: " + written.cause(), written.cause()));
                    ch.close();
                }
            });
        });
        return body;
    }

    /** A client bootstrap on {@code group} (the handler is set per download). */
    static Bootstrap client(EventLoopGroup group) {
        return new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5_000);
    }

    /** Downloads {@code urls} with at most {@code limit} at once; the result is the bodies in order. */
    public static Future<List<String>> downloadAll(List<URI> urls, int limit, EventLoopGroup group, Timeline t) {
        AsyncSemaphore sem = new AsyncSemaphore(limit);
        Bootstrap http = client(group);
        List<Future<String>> downloads = new ArrayList<>();
        for (URI url : urls) {
            EventExecutor ex = group.next();
            downloads.add(Futures.task(ex, () -> download(url, sem, http, ex, t)));
        }
        return Futures.gather(group.next(), downloads);
    }

    /**
     * Starts the server (files take 1 tutorial second each), downloads file0..file9 three at a
     * time, prints the total, stops the server. Blocks: for a plain thread such as main.
     */
    public static Outcome runBlocking(EventLoopGroup group, Timeline t, TimeScale time) {
        try (SlowFileServer server = SlowFileServer.start(group, time.nanos(1.0))) {
            List<URI> urls = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                urls.add(URI.create(server.baseUrl() + "/file" + i));
            }
            long start = System.nanoTime();
            Future<List<String>> all = downloadAll(urls, 3, group, t).awaitUninterruptibly();
            double seconds = (System.nanoTime() - start) / 1e9;
            if (!all.isSuccess()) {
                throw new IllegalStateException("download failed", all.cause());
            }
            t.log(String.format(Locale.ROOT, "Total: %.2fs (10 files, 3 at a time, ~%.1fs each)", seconds, time.factor()));
            return new Outcome(all.getNow(), seconds, server.maxInFlight());
        }
    }

    /** The only argument is an optional time scale. */
    public static void main(String[] args) {
        TimeScale time = TimeScale.parse(args);
        EventLoopGroup group = ExampleMain.newGroup(2);
        System.out.println("== practice 1: a rate-limited downloader (10 URLs, Semaphore(3))"
                + (time.factor() == 1.0 ? "" : " (time scale " + time.factor() + ")"));
        try (Timeline t = Timeline.printingTo(System.out)) {
            runBlocking(group, t, time);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        System.out.println();
    }
}
