package dev.nettysync.demo;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.FixedChannelPool;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * A backend that calls a real HTTP/1.1 upstream, {@code GET <base>/items/{id}}, with Netty's HTTP
 * client over pooled keep-alive connections.
 *
 * <p>One {@link FixedChannelPool} per event loop, whose connections live on that same loop, so a
 * call never hops threads. Each pool holds at most {@code poolSize} connections and queues
 * further acquires (the gateway's limiter normally keeps calls well below that).
 *
 * <p>A call ends in one of these ways: the upstream's final response (any status: the gateway
 * maps it; interim {@code 1xx} responses before it, such as {@code 103 Early Hints}, are skipped);
 * a failure (connect refused, connection closed before a response, malformed response: the
 * gateway answers 502); or a cancel by the gateway (client gone, backend timeout), which closes
 * the connection, since the response still due on it could not be told apart from the next
 * one's. Each acquired connection is released to its pool exactly once ({@link Lease}).
 *
 * <p>The upstream address is resolved once, at construction, on the constructing thread (the
 * JDK resolver may block, so not on an event loop).
 */
public final class UpstreamHttpBackend implements Backend {

    private static final AttributeKey<Lease> LEASE = AttributeKey.valueOf(UpstreamHttpBackend.class, "lease");

    private final InetSocketAddress address;
    private final String hostHeader;
    private final String basePath;
    private final int poolSize;
    private final Class<? extends Channel> channelType;
    private final ConcurrentMap<EventLoop, FixedChannelPool> pools = new ConcurrentHashMap<>(); // created lazily per loop
    private final ChannelGroup connections = new DefaultChannelGroup("demo-upstream", GlobalEventExecutor.INSTANCE);

    public UpstreamHttpBackend(URI base, int poolSize, Class<? extends Channel> channelType) {
        int port = base.getPort() == -1 ? 80 : base.getPort();
        this.address = new InetSocketAddress(base.getHost(), port);
        this.hostHeader = base.getPort() == -1 ? base.getHost() : base.getHost() + ':' + port;
        String path = base.getRawPath() == null ? "" : base.getRawPath();
        this.basePath = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        this.poolSize = poolSize;
        this.channelType = channelType;
    }

    @Override
    public Future<BackendResponse> fetch(String id, EventLoop loop) {
        Promise<BackendResponse> result = loop.newPromise();
        FixedChannelPool pool = pools.computeIfAbsent(loop, this::newPool);
        Future<Channel> acquired = pool.acquire(loop.newPromise());
        result.addListener(r -> {
            if (r.isCancelled()) {
                acquired.cancel(false);   // a connection acquired anyway is released below
            }
        });
        acquired.addListener(a -> {
            if (!a.isSuccess()) {
                if (!a.isCancelled()) {
                    result.tryFailure(a.cause());
                }
                return;
            }
            Channel ch = (Channel) a.getNow();
            Lease lease = new Lease(ch, pool, result);
            if (result.isDone()) {         // cancelled while connecting
                lease.end(false);
                return;
            }
            ch.attr(LEASE).set(lease);
            result.addListener(r -> {
                if (r.isCancelled()) {
                    lease.end(true);       // abandoned mid-exchange: the connection cannot be reused
                }
            });
            FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
                    basePath + "/items/" + id);
            request.headers().set(HttpHeaderNames.HOST, hostHeader);
            request.headers().set(HttpHeaderNames.ACCEPT, "application/json");
            ch.writeAndFlush(request).addListener(w -> {
                if (!w.isSuccess()) {
                    lease.fail(w.cause());
                }
            });
        });
        return result;
    }

    private FixedChannelPool newPool(EventLoop loop) {
        Bootstrap bootstrap = new Bootstrap()
                .group(loop)
                .channel(channelType)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5_000)
                .remoteAddress(address);
        return new FixedChannelPool(bootstrap, new AbstractChannelPoolHandler() {
            @Override
            public void channelCreated(Channel ch) {
                connections.add(ch);
                ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 20),
                        new ResponseHandler());
            }
        }, ChannelHealthChecker.ACTIVE, FixedChannelPool.AcquireTimeoutAction.FAIL, 5_000,
                poolSize, Integer.MAX_VALUE, true, true);
    }

    /**
     * Closes every upstream connection, without waiting. Not {@code FixedChannelPool.closeAsync()}:
     * it closes pooled channels with {@code awaitUninterruptibly()} on the GlobalEventExecutor
     * thread, which BlockHound (rightly) reports as blocking a Netty thread. The pools hold
     * nothing else: no thread, no timer once their channels are gone.
     */
    @Override
    public void close() {
        connections.close();
    }

    /**
     * One call's hold on a pooled connection. Confined to the connection's event loop. The
     * connection goes back to the pool exactly once, when the call ends; closed first if it
     * cannot carry another request.
     */
    private static final class Lease {
        final Channel ch;
        final FixedChannelPool pool;
        final Promise<BackendResponse> result;
        boolean ended;                     // event loop only

        Lease(Channel ch, FixedChannelPool pool, Promise<BackendResponse> result) {
            this.ch = ch;
            this.pool = pool;
            this.result = result;
        }

        void succeed(BackendResponse response, boolean reusable) {
            if (end(!reusable)) {
                result.trySuccess(response);
            }
        }

        void fail(Throwable cause) {
            if (end(true)) {
                result.tryFailure(cause);
            }
        }

        /** Ends the lease once: returns false if it had already ended. */
        boolean end(boolean close) {
            if (ended) {
                return false;
            }
            ended = true;
            if (ch.attr(LEASE).get() == this) {
                ch.attr(LEASE).set(null);
            }
            if (close) {
                ch.close();
            }
            pool.release(ch);
            return true;
        }
    }

    /** Completes the current lease of its connection with the response, or fails it. */
    private static final class ResponseHandler extends SimpleChannelInboundHandler<FullHttpResponse> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
            Lease lease = ctx.channel().attr(LEASE).get();
            if (lease == null) {
                ctx.close();               // a response nobody asked for: the stream is out of step
                return;
            }
            if (!msg.decoderResult().isSuccess()) {
                lease.fail(new IOException("malformed upstream response", msg.decoderResult().cause()));
                return;
            }
            int status = msg.status().code();
            if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL && status != 101) {
                return;                    // 100, 103 Early Hints: interim (RFC 9110 §15.2), the final answer follows
            }
            String type = msg.headers().get(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
            BackendResponse response = new BackendResponse(status, ByteBufUtil.getBytes(msg.content()), type);
            lease.succeed(response, HttpUtil.isKeepAlive(msg) && status != 101);   // 101: no longer HTTP
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Lease lease = ctx.channel().attr(LEASE).get();
            if (lease != null) {
                lease.fail(new IOException("upstream closed the connection before answering"));
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Lease lease = ctx.channel().attr(LEASE).get();
            if (lease != null) {
                lease.fail(cause);
            } else {
                ctx.close();
            }
        }
    }
}
