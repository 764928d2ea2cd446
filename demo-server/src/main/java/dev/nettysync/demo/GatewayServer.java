package dev.nettysync.demo;

import dev.nettysync.AsyncEvent;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The demo HTTP gateway: binds, serves, and shuts down gracefully. Startable in-process (tests,
 * benchmarks) with port 0: {@link #start(DemoConfig)} returns once bound, {@link #port()} tells
 * the port, {@link #shutdown()} drains and stops.
 *
 * <h2>Pipeline of a connection</h2>
 * {@code FlushConsolidationHandler} (fewer syscalls under pipelining and load) &rarr;
 * {@link ConnectionDeadlineHandler} (idle and slow-request timeouts) &rarr;
 * {@code HttpServerCodec} (header validation on, size limits from the config) &rarr;
 * {@code HttpObjectAggregator} (body limit, 413) &rarr; {@link GatewayHandler}.
 *
 * <h2>Graceful shutdown</h2>
 * {@link #shutdown()}, also run by SIGTERM/Ctrl-C in {@link DemoServerMain}: (1) readiness flips
 * to 503; (2) the listening socket closes; (3) the limiter closes, so every request queued for a
 * permit gets 503, and every connection is told to {@code DRAIN}: requests waiting for the
 * database get 503, and each connection closes after its next response; (4) in-flight requests
 * are given up to {@code --drain-timeout} to finish; (5) all connections close, the backend and
 * the event loops shut down, and {@link #terminationFuture()} completes.
 *
 * <p>Thread-safe. Methods never block, except {@link #start}, which waits for the bind on the
 * calling thread (so it must not be called on an event loop).
 */
public final class GatewayServer {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(GatewayServer.class);

    private final DemoConfig config;
    private final DemoMetrics metrics = new DemoMetrics();
    private final AsyncEvent dbReady = new AsyncEvent();
    private final BackendLimiter limiter;
    private final Backend backend;
    private final DbReadiness readiness;
    private final EventLoopGroup group;
    private final boolean epoll;
    private final ChannelGroup connections = new DefaultChannelGroup("demo-connections", GlobalEventExecutor.INSTANCE);
    private final AtomicBoolean draining = new AtomicBoolean();   // set once by shutdown()
    private final AtomicInteger activeRequests = new AtomicInteger(); // started, not yet answered; any loop
    private final Promise<Void> drained = GlobalEventExecutor.INSTANCE.newPromise(); // done when draining and idle
    private final Promise<Void> terminated = GlobalEventExecutor.INSTANCE.newPromise();
    private Channel serverChannel;                // written by start() before it returns

    private GatewayServer(DemoConfig config, Backend backend, DbReadiness readiness) {
        this.config = Objects.requireNonNull(config, "config");
        this.epoll = switch (config.transport) {
            case AUTO -> Epoll.isAvailable();
            case EPOLL -> {
                Epoll.ensureAvailability();
                yield true;
            }
            case NIO -> false;
        };
        Class<? extends SocketChannel> clientType = epoll ? EpollSocketChannel.class : NioSocketChannel.class;
        this.backend = backend != null ? backend
                : config.upstream != null ? new UpstreamHttpBackend(config.upstream, config.upstreamPoolSize, clientType)
                : new SimulatedBackend(config.backendLatency);
        if (readiness != null) {
            this.readiness = readiness;
        } else if (config.dbProbe != null) {
            String[] hostPort = config.dbProbeAddress(DemoConfig.newCommandLine(config));
            this.readiness = new TcpDatabaseProbe(hostPort[0], Integer.parseInt(hostPort[1]),
                    config.dbProbeInterval, config.dbProbeConnectTimeout, clientType);
        } else {
            this.readiness = new SimulatedDatabase(config.dbReadyDelay);
        }
        this.limiter = new BackendLimiter(config.effectivePermits(), config.maxQueue, config.maxQueueWait, metrics);
        metrics.flag("demo.db.ready", "1 when the database is ready", dbReady::isSet);
        metrics.flag("demo.server.draining", "1 while shutting down", draining::get);
        // Last, so that nothing above can fail with threads already started.
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(config.ioThreads, io);
    }

    /** Starts a server with the backend and database readiness chosen by {@code config}. */
    public static GatewayServer start(DemoConfig config) {
        return start(config, null, null);
    }

    /**
     * Starts a server with the given backend and readiness source; a {@code null} one is chosen
     * by {@code config}. Returns once the port is bound.
     *
     * @throws RuntimeException if the bind fails (the event loops are shut down then)
     */
    public static GatewayServer start(DemoConfig config, Backend backend, DbReadiness readiness) {
        GatewayServer server = new GatewayServer(config, backend, readiness);
        server.bind();
        return server;
    }

    private void bind() {
        Class<? extends ServerChannel> serverType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        HttpDecoderConfig decoderConfig = new HttpDecoderConfig()
                .setMaxInitialLineLength(config.maxInitialLine)
                .setMaxHeaderSize(config.maxHeaderSize)
                .setValidateHeaders(true);
        long idleNanos = config.idleTimeout.toNanos();
        long readNanos = config.requestReadTimeout.toNanos();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(serverType)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (draining.get()) {
                            ch.close();
                            return;
                        }
                        connections.add(ch);
                        ConnectionDeadlineHandler deadline = new ConnectionDeadlineHandler(idleNanos, readNanos, metrics);
                        ch.pipeline().addLast(
                                new FlushConsolidationHandler(256, true),
                                deadline,
                                new HttpServerCodec(decoderConfig),
                                new LimitedAggregator(config.maxBody),
                                new GatewayHandler(GatewayServer.this, deadline));
                    }
                });
        try {
            serverChannel = bootstrap.bind(config.host, config.port).syncUninterruptibly().channel();
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
        readiness.start(group, dbReady);
        logger.info("demo-server listening on http://{}:{} ({}, {} io threads); db: {}; {}",
                config.host, port(), epoll ? "epoll" : "nio",
                ((MultiThreadIoEventLoopGroup) group).executorCount(), readiness.describe(), config.summary());
    }

    /** The bound port. */
    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** Whether the native epoll transport is in use (else NIO). */
    public boolean isEpoll() {
        return epoll;
    }

    /** The event set when the database is ready. */
    public AsyncEvent dbReady() {
        return dbReady;
    }

    public BackendLimiter limiter() {
        return limiter;
    }

    public DemoMetrics metrics() {
        return metrics;
    }

    public boolean isDraining() {
        return draining.get();
    }

    DemoConfig config() {
        return config;
    }

    Backend backend() {
        return backend;
    }

    /** The number of requests started and not yet answered. */
    public int activeRequests() {
        return activeRequests.get();
    }

    void requestStarted() {
        activeRequests.incrementAndGet();
    }

    void requestEnded() {
        if (activeRequests.decrementAndGet() == 0 && draining.get()) {
            drained.trySuccess(null);
        }
    }

    /**
     * Starts the graceful shutdown described in the class documentation; idempotent. Never blocks.
     *
     * @return {@link #terminationFuture()}
     */
    public Future<Void> shutdown() {
        if (!draining.compareAndSet(false, true)) {
            return terminated;
        }
        logger.info("draining: readiness now 503, no new connections; {} request(s) in flight, {} queued; "
                + "waiting up to {}", activeRequests.get(), limiter.queued(), DurationConverter.format(config.drainTimeout));
        serverChannel.close();
        readiness.stop();
        limiter.close();
        for (Channel ch : connections) {
            ch.pipeline().fireUserEventTriggered(GatewayHandler.DRAIN);
        }
        if (activeRequests.get() == 0) {
            drained.trySuccess(null);
        }
        var timer = GlobalEventExecutor.INSTANCE.schedule(() -> {
            int left = activeRequests.get();     // before the failure's listener closes connections
            if (!drained.isDone()) {
                logger.warn("drain timeout of {} reached with {} request(s) in flight: closing their connections",
                        DurationConverter.format(config.drainTimeout), left);
                drained.tryFailure(new IllegalStateException("drain timeout"));
            }
        }, config.drainTimeout.toNanos(), TimeUnit.NANOSECONDS);
        drained.addListener(f -> {
            timer.cancel(false);
            connections.close();
            backend.close();
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).addListener(g -> {
                logger.info("demo-server stopped");
                terminated.trySuccess(null);
            });
        });
        return terminated;
    }

    /** Completes once the server has stopped after {@link #shutdown()}. */
    public Future<Void> terminationFuture() {
        return terminated;
    }

    /**
     * The aggregator with the body limit; an oversized request becomes the
     * {@link GatewayHandler#BODY_TOO_LARGE} marker, answered 413 (and counted) in turn by the
     * gateway handler, instead of Netty's direct answer.
     */
    private static final class LimitedAggregator extends HttpObjectAggregator {
        LimitedAggregator(int maxContentLength) {
            super(maxContentLength);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            ctx.fireChannelRead(GatewayHandler.BODY_TOO_LARGE);
        }
    }
}
