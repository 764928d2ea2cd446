package dev.nettysync.demo;

import dev.nettysync.redis.RedisLimiters;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;

import dev.nettysync.AsyncEvent;
import dev.nettysync.adaptive.AdaptiveAlgorithm;
import dev.nettysync.adaptive.AdaptiveLimiter;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
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
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The demo HTTP gateway: binds, serves, and shuts down gracefully. Startable in-process (tests,
 * benchmarks) with port 0: {@link #start(DemoConfig)} returns once bound, {@link #port()} tells
 * the port, {@link #shutdown()} drains and stops.
 *
 * <h2>Parts</h2>
 * The server builds the parts and wires them; the {@link GatewayHandler} of each connection sees
 * only a {@link GatewayContext} (readiness, the {@link Admission} policy, the
 * {@linkplain TimedBackend timed} {@link Backend}, the {@link DrainState}, metrics and the
 * {@link HttpErrors} mapping), never the server. The markers they exchange are
 * {@link GatewaySignal}s. To put another admission policy behind a flag, build it where
 * {@link BackendLimiter} is built here.
 *
 * <h2>Pipeline</h2>
 * Listening channel: {@link ConnectionLimit} ({@code --max-connections}). Each connection:
 * {@code FlushConsolidationHandler} (fewer syscalls under pipelining and load) &rarr;
 * {@link ConnectionDeadlineHandler} (idle and slow-request timeouts) &rarr;
 * {@link GatewayCodec} (header validation on, size limits from the config, request boundaries for
 * the deadlines) &rarr;
 * {@link GatewayAggregator} (body limit, {@code Expect}) &rarr; {@link GatewayHandler}.
 *
 * <h2>Graceful shutdown</h2>
 * {@link #shutdown()}, also run by SIGTERM/Ctrl-C in {@link DemoServerMain}: (1) readiness flips
 * to 503; (2) the listening socket closes; (3) the admission policy closes, so every request
 * queued for a permit gets 503, and every connection is told to {@code DRAIN}: requests waiting
 * for the database get 503, and each connection closes after its next response; (4) in-flight
 * requests are given up to {@code --drain-timeout} to finish; (5) all connections close, the
 * backend and the event loops shut down, and {@link #terminationFuture()} completes. Each step is
 * logged at INFO (the drain timeout at WARN) by this class's logger.
 *
 * <p>Thread-safe. Methods never block, except {@link #start}, which waits for the bind on the
 * calling thread (so it must not be called on an event loop).
 */
public final class GatewayServer {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(GatewayServer.class);

    /** The longest Lettuce waits between two attempts to reconnect to --redis. */
    static final Duration REDIS_RECONNECT_MAX = Duration.ofSeconds(1);

    private final DemoConfig config;
    private final DemoMetrics metrics = new DemoMetrics();
    private final AsyncEvent dbReady = new AsyncEvent();
    private final DrainState drain = new DrainState();
    private final BackendLimiter limiter;
    private final Backend backend;                // the chosen backend inside a TimedBackend
    private final DbReadiness readiness;
    private final ConnectionLimit connectionLimit;
    private final GatewayContext context;
    private final EventLoopGroup group;
    private final boolean epoll;
    private final ChannelGroup connections = new DefaultChannelGroup("demo-connections", GlobalEventExecutor.INSTANCE);
    private final Promise<Void> terminated = GlobalEventExecutor.INSTANCE.newPromise();
    private Channel serverChannel;                // written by start() before it returns
    private final ClientResources redisResources; // --redis: the client's threads and reconnect delay, else null
    private final RedisClient redisClient;        // --redis: the fleet limit's client, else null
    private final RedisLimiters fleet;            // --redis: the fleet limiters, else null

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
        Backend chosen = backend != null ? backend
                : config.upstream != null ? new UpstreamHttpBackend(config.upstream, config.upstreamPoolSize, clientType)
                : new SimulatedBackend(config.backendLatency, config.backendCapacity, config.backendCapacitySteps());
        this.backend = new TimedBackend(chosen, config.backendTimeout, metrics);
        if (readiness != null) {
            this.readiness = readiness;
        } else if (config.dbProbe != null) {
            String[] hostPort = config.dbProbeAddress(DemoConfig.newCommandLine(config));
            this.readiness = new TcpDatabaseProbe(hostPort[0], Integer.parseInt(hostPort[1]),
                    config.dbProbeInterval, config.dbProbeConnectTimeout, clientType);
        } else {
            this.readiness = new SimulatedDatabase(config.dbReadyDelay);
        }
        AdaptiveAlgorithm algorithm = config.adaptiveAlgorithm();
        if (algorithm == null) {
            this.limiter = new BackendLimiter(config.effectivePermits(), config.maxQueue, config.maxQueueWait, metrics);
        } else {
            int max = config.adaptiveMaxLimit();
            AdaptiveLimiter adaptive = AdaptiveLimiter.builder().algorithm(algorithm)
                    .initialLimit(Math.min(20, max)).minLimit(1).maxLimit(max).build();
            this.limiter = BackendLimiter.adaptive(adaptive, max, config.maxQueue, config.maxQueueWait, metrics);
        }
        this.connectionLimit = new ConnectionLimit(config.effectiveMaxConnections(), metrics);
        Admission admission = limiter;
        FleetRateLimit fleetRate = null;
        if (config.redis != null) {
            // --redis --fleet-limit / --fleet-rate: connects now (start-up, before any event loop exists)
            // Lettuce reconnects by itself; its default delay doubles up to 30 s, which would keep
            // the fleet limits away for up to 30 s after a long outage ends. Capped at 1 s here.
            this.redisResources = ClientResources.builder()
                    .reconnectDelay(Delay.exponential(Duration.ZERO, REDIS_RECONNECT_MAX, 2, TimeUnit.MILLISECONDS))
                    .build();
            this.redisClient = RedisClient.create(redisResources, RedisURI.create(config.redis));
            try {
                this.fleet = RedisLimiters.builder(redisClient).commandTimeout(config.redisCommandTimeout()).connect();
            } catch (RuntimeException e) {
                shutdownRedis(null);
                throw new ServerStartException("cannot connect to --redis " + config.redis + ": " + e.getMessage(), e);
            }
            FleetOutage outage = new FleetOutage(config.fleetWhenDown, metrics);
            metrics.flag("demo.fleet.redis.connected", "1 while the fleet limits' connection to Redis is up",
                    fleet::isConnected);
            logger.info("fleet limits: when Redis is unreachable or gives no reply within {}, {}",
                    DurationConverter.format(config.redisCommandTimeout()), config.fleetWhenDown == DemoConfig.FleetWhenDown.OPEN
                    ? "admit without them (--fleet-when-down=open)" : "refuse with 503 (--fleet-when-down=closed)");
            if (config.fleetLimit > 0) {
                admission = new FleetAdmission(limiter,
                        fleet.semaphore("demo-backend", config.fleetLimit, config.fleetLease), config.maxQueueWait, outage);
                logger.info("fleet limit: {} backend calls at once across every instance on {} (semaphore demo-backend, "
                        + "lease {}); this instance's lease ids start with {}", config.fleetLimit, config.redis,
                        DurationConverter.format(config.fleetLease), fleet.instanceId());
            }
            if (config.fleetRate > 0) {
                fleetRate = new FleetRateLimit(fleet.rateLimiter("demo-requests", config.fleetRate,
                        config.effectiveFleetBurst()), outage);
                logger.info("fleet rate: {} requests/s, burst {}, across every instance on {} (rate limiter demo-requests)",
                        config.fleetRate, config.effectiveFleetBurst(), config.redis);
            }
        } else {
            this.redisResources = null;
            this.redisClient = null;
            this.fleet = null;
        }
        this.context = new GatewayContext(dbReady, config.beforeReady, config.readyWaitTimeout, admission,
                this.backend, drain, metrics, HttpErrors.of(config), ClientRateLimit.of(config), fleetRate);
        metrics.flag("demo.db.ready", "1 when the database is ready", dbReady::isSet);
        metrics.flag("demo.server.draining", "1 while shutting down", drain::isDraining);
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
     * @throws ServerStartException if the bind fails (the event loops are shut down then)
     */
    public static GatewayServer start(DemoConfig config, Backend backend, DbReadiness readiness) {
        GatewayServer server = new GatewayServer(config, backend, readiness);
        server.bind();
        return server;
    }

    private void bind() {
        Class<? extends ServerChannel> serverType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        long idleNanos = config.idleTimeout.toNanos();
        long readNanos = config.requestReadTimeout.toNanos();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(serverType)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .handler(connectionLimit)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (drain.isDraining()) {
                            ch.close();
                            return;
                        }
                        connections.add(ch);
                        ConnectionDeadlineHandler deadline = new ConnectionDeadlineHandler(idleNanos, readNanos, metrics);
                        ch.pipeline().addLast(
                                new FlushConsolidationHandler(256, true),
                                deadline,
                                newCodec(config, deadline),
                                new GatewayAggregator(config.maxBody),
                                new GatewayHandler(context, deadline));
                    }
                });
        // Not syncUninterruptibly(): it rethrows the bind's IOException sneakily, past any
        // catch (RuntimeException), and the event loops would keep the JVM alive.
        ChannelFuture bound = bootstrap.bind(config.host, config.port).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            readiness.stop();
            backend.close();
            if (fleet != null) {
                shutdownRedis(fleet);
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            Throwable cause = bound.cause();
            throw new ServerStartException("cannot listen on " + config.host + ":" + config.port + ": "
                    + (cause.getMessage() != null ? cause.getMessage() : cause.toString()), cause);
        }
        serverChannel = bound.channel();
        readiness.start(group, dbReady);
        logger.info("demo-server listening on http://{}:{} ({}, {} io threads); db: {}; {}",
                config.host, port(), epoll ? "epoll" : "nio",
                ((MultiThreadIoEventLoopGroup) group).executorCount(), readiness.describe(), config.summary());
    }

    /**
     * The HTTP codec of a connection ({@link GatewayCodec}): header validation on, size limits
     * from the config, request boundaries reported to {@code deadline}, and no pipelining limit
     * of its own (Netty's {@code HttpServerCodec} closes the connection after the next response
     * once 128 requests await one, silently dropping the others; the {@link GatewayHandler}
     * bounds pipelining itself: back-pressure, then an explicit 503).
     */
    static GatewayCodec newCodec(DemoConfig config, ConnectionDeadlineHandler deadline) {
        return new GatewayCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(config.maxInitialLine)
                .setMaxHeaderSize(config.maxHeaderSize)
                .setValidateHeaders(true), config.maxBody, deadline);
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

    /** What every connection's handler shares (its parts, for tests). */
    GatewayContext context() {
        return context;
    }

    public boolean isDraining() {
        return drain.isDraining();
    }

    /** The number of requests started and not yet answered. */
    public int activeRequests() {
        return drain.activeRequests();
    }

    /** Client connections open now (counted by {@code --max-connections}). */
    public int openConnections() {
        return connectionLimit.open();
    }

    /**
     * Starts the graceful shutdown described in the class documentation; idempotent. Never blocks.
     *
     * @return {@link #terminationFuture()}
     */
    public Future<Void> shutdown() {
        if (!drain.startDraining()) {
            return terminated;
        }
        long t0 = System.nanoTime();
        logger.info("draining: /readyz now answers 503; closing the listening socket; {} request(s) in progress, "
                        + "of which {} queued for the backend (refused now, 503); {} connection(s) open; waiting up to {}",
                drain.activeRequests(), limiter.queued(), connections.size(), DurationConverter.format(config.drainTimeout));
        serverChannel.close();
        readiness.stop();
        limiter.close();
        for (Channel ch : connections) {
            ch.pipeline().fireUserEventTriggered(GatewaySignal.DRAIN);
        }
        ScheduledFuture<?> timer = GlobalEventExecutor.INSTANCE.schedule(() -> {
            // Logged before giving up: the failure runs the listener below, which logs the next step.
            if (!drain.drained().isDone()) {
                logger.warn("drain timeout of {} reached with {} request(s) in flight: closing their connections",
                        DurationConverter.format(config.drainTimeout), drain.activeRequests());
                drain.giveUp(new IllegalStateException("drain timeout"));
            }
        }, config.drainTimeout.toNanos(), TimeUnit.NANOSECONDS);
        drain.drained().addListener(f -> {
            timer.cancel(false);
            if (f.isSuccess()) {
                logger.info("drained: every request answered after {} ms",
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
            }
            logger.info("closing {} connection(s), the backend and the event loops", connections.size());
            connections.close();
            backend.close();
            if (fleet != null) {
                shutdownRedis(fleet);
            }
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
     * Closes the fleet limiters (if any), then the Lettuce client, then its resources, none
     * waited for (a client does not shut down resources it was given).
     */
    private void shutdownRedis(RedisLimiters limiters) {
        java.util.concurrent.CompletionStage<?> closed = limiters != null
                ? limiters.closeAsync() : java.util.concurrent.CompletableFuture.completedFuture(null);
        closed.whenComplete((v, e) -> redisClient.shutdownAsync()
                .whenComplete((w, f) -> redisResources.shutdown(0, 2, TimeUnit.SECONDS)));
    }
}
