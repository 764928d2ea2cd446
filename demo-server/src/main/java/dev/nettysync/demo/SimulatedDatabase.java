package dev.nettysync.demo;

import dev.nettysync.AsyncEvent;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.ScheduledFuture;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A simulated database that becomes ready after a fixed delay, like asyncio's {@code Event}
 * example: a timer on one event loop sets the event. A delay of 0 is ready at once. The
 * {@link GatewayServer} calls {@link #start} once its port is bound, so the delay counts from
 * when the server listens, not from the JVM's start.
 */
public final class SimulatedDatabase implements DbReadiness {

    private final Duration delay;
    private volatile ScheduledFuture<?> timer;   // written once by start(), read by stop()

    public SimulatedDatabase(Duration delay) {
        this.delay = delay;
    }

    @Override
    public void start(EventLoopGroup loops, AsyncEvent dbReady) {
        if (delay.isZero()) {
            dbReady.set();
            return;
        }
        timer = loops.next().schedule(dbReady::set, delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void stop() {
        ScheduledFuture<?> t = timer;
        if (t != null) {
            t.cancel(false);
        }
    }

    @Override
    public String describe() {
        return "simulated database, ready after " + DurationConverter.format(delay);
    }
}
