package dev.nettysync.demo;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Caps the number of open client connections ({@code --max-connections}): sits in the listening
 * channel's pipeline, sees each accepted connection before it is registered, and closes at once
 * any beyond the cap, so the process keeps file descriptors for the connections it serves, its
 * upstream calls and its probes. Refusals are counted ({@code demo_connections_refused_total});
 * {@code demo_connections_open} and {@code demo_connections_max} are exported.
 *
 * <p>Accepts run on the listening channel's loop; closes on each connection's loop: the count is
 * atomic. Shared by nothing else.
 */
@ChannelHandler.Sharable
final class ConnectionLimit extends ChannelInboundHandlerAdapter {

    private final int max;
    private final AtomicInteger open = new AtomicInteger();   // accepted, not yet closed; any loop
    private final Counter refused;

    ConnectionLimit(int max, DemoMetrics metrics) {
        this.max = max;
        this.refused = metrics.counter("demo.connections.refused", "Connections closed at once: --max-connections reached");
        Gauge.builder("demo.connections.open", open, AtomicInteger::get)
                .description("Client connections open now").register(metrics.registry());
        Gauge.builder("demo.connections.max", () -> max)
                .description("Most client connections open at once (--max-connections)").register(metrics.registry());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Channel child = (Channel) msg;
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            refused.increment();
            child.unsafe().closeForcibly();        // not registered yet: just the file descriptor
            return;
        }
        child.closeFuture().addListener(f -> open.decrementAndGet());
        ctx.fireChannelRead(child);
    }

    int open() {
        return open.get();
    }
}
