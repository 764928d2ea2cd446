package dev.nettysync.demo;

import dev.nettysync.AsyncEvent;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Probes a real database by TCP connect to {@code host:port} until a connection is accepted
 * (PostgreSQL, MySQL and most servers accept before any protocol exchange), then closes the probe
 * connection and sets the event. Failed attempts are retried every {@code interval} by a task
 * scheduled on one event loop; the connect is Netty's, non-blocking. The first failure and the
 * success are logged, later failures only at debug level.
 *
 * <p>Host names are resolved on a private daemon thread, because the JDK resolver blocks (hosts
 * file, DNS) and must not run on an event loop; they are resolved again on each attempt, so a
 * database whose name appears late (containers) is found.
 *
 * <p>Readiness is one-way here: once set it stays set (a database lost later shows up as backend
 * errors, not as a readiness flip).
 */
public final class TcpDatabaseProbe implements DbReadiness {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(TcpDatabaseProbe.class);

    private final String host;
    private final int port;
    private final Duration interval;
    private final Duration connectTimeout;
    private final Class<? extends Channel> channelType;
    private final ExecutorService resolver = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "demo-db-probe-resolver");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean stopped;   // set by stop() on any thread, read by the probe's loop
    private int attempts;               // the probe's loop only

    public TcpDatabaseProbe(String host, int port, Duration interval, Duration connectTimeout,
                            Class<? extends Channel> channelType) {
        this.host = host;
        this.port = port;
        this.interval = interval;
        this.connectTimeout = connectTimeout;
        this.channelType = channelType;
    }

    @Override
    public void start(EventLoopGroup loops, AsyncEvent dbReady) {
        EventLoop loop = loops.next();
        Bootstrap bootstrap = new Bootstrap()
                .group(loop)
                .channel(channelType)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                        (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()))
                .handler(ProbeHandler.INSTANCE);        // one instance for every attempt's channel
        resolveThenConnect(bootstrap, loop, dbReady);
    }

    private void resolveThenConnect(Bootstrap bootstrap, EventLoop loop, AsyncEvent dbReady) {
        if (stopped) {
            return;
        }
        try {
            resolver.execute(() -> {
                InetSocketAddress address = new InetSocketAddress(host, port);   // may block: not a loop
                loop.execute(() -> connect(bootstrap, loop, dbReady, address));
            });
        } catch (RejectedExecutionException e) {
            // stopped meanwhile
        }
    }

    private void connect(Bootstrap bootstrap, EventLoop loop, AsyncEvent dbReady, InetSocketAddress address) {
        if (stopped) {
            return;
        }
        attempts++;
        if (address.isUnresolved()) {
            retry(bootstrap, loop, dbReady, new UnknownHostException(host));
            return;
        }
        bootstrap.connect(address).addListener(f -> {
            if (f.isSuccess()) {
                ((io.netty.channel.ChannelFuture) f).channel().close();
                logger.info("database at {}:{} accepts connections (attempt {}): ready", host, port, attempts);
                dbReady.set();
                resolver.shutdown();
            } else {
                retry(bootstrap, loop, dbReady, f.cause());
            }
        });
    }

    private void retry(Bootstrap bootstrap, EventLoop loop, AsyncEvent dbReady, Throwable cause) {
        if (attempts == 1) {
            logger.info("database at {}:{} not reachable yet ({}); retrying every {}", host, port,
                    cause.toString(), DurationConverter.format(interval));
        } else if (logger.isDebugEnabled()) {
            logger.debug("database probe attempt {} failed: {}", attempts, cause.toString());
        }
        if (!stopped && !loop.isShuttingDown()) {
            loop.schedule(() -> resolveThenConnect(bootstrap, loop, dbReady),
                    interval.toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void stop() {
        stopped = true;
        resolver.shutdown();
    }

    /**
     * The handler of every attempt's channel (shareable): the probe reads nothing, and the
     * connect's own result says whether the database accepts connections. An exception on the
     * channel (a reset by the database while the probe's connection is open) closes it, logged
     * at debug level, instead of reaching the pipeline's tail, which logs a WARN
     * ("An exceptionCaught() event was fired, and it reached at the tail of the pipeline").
     */
    @ChannelHandler.Sharable
    static final class ProbeHandler extends ChannelInboundHandlerAdapter {
        static final ProbeHandler INSTANCE = new ProbeHandler();

        private ProbeHandler() {
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            logger.debug("database probe connection {} failed: {}", ctx.channel(), cause.toString());
            ctx.close();
        }
    }

    @Override
    public String describe() {
        return "TCP probe of " + host + ':' + port + " every " + DurationConverter.format(interval);
    }
}
