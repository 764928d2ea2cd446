package dev.nettysync.demo;

import dev.nettysync.channel.ChannelLimits;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.redis.RedisSemaphore;
import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * {@code --redis --fleet-limit}: the local admission first (its queue bound, its permits), then
 * the fleet-wide {@link RedisSemaphore} shared by every demo instance using the same Redis, then
 * the call. A request holds its local permit while it waits for the fleet permit, so the local
 * limit also bounds how many requests of this instance ask Redis. A fleet wait longer than
 * {@code --max-queue-wait} fails with {@code WaitTimeoutException} (503, like a local one).
 *
 * <p>When Redis cannot decide ({@link FleetOutage}, {@code --fleet-when-down}): the fleet wait
 * fails at once while the connection is down, else within the limiters' command timeout
 * ({@link DemoConfig#redisCommandTimeout()}: shorter than the wait, so that the outage, not the
 * wait's own timeout, decides).
 * Closed (default): the request fails with the limiter's {@link io.lettuce.core.RedisException}, answered 503
 * "fleet limit unavailable: Redis unreachable"; its local permit is given back. Open: the call
 * runs under its local permit only ({@link AsyncLimiter#failOpen}).
 *
 * <p>Thread-safe; futures complete on the executor passed in (both layers guarantee it).
 */
final class FleetAdmission implements Admission {

    private final Admission local;
    private final AsyncLimiter fleet;             // the RedisSemaphore, as --fleet-when-down wants it
    private final long waitNanos;

    FleetAdmission(Admission local, AsyncLimiter fleet, Duration wait, FleetOutage outage) {
        this.local = Objects.requireNonNull(local, "local");
        Objects.requireNonNull(outage, "outage");
        // Open: a failure Redis could not decide admits under the local permit only; closed (and
        // any other failure) passes through. A cancel still reaches the semaphore's wait first.
        this.fleet = AsyncLimiter.failOpen(Objects.requireNonNull(fleet, "fleet"),
                cause -> outage.admitWithout(FleetOutage.Limit.CONCURRENCY, cause));
        this.waitNanos = wait.toNanos();
    }

    @Override
    public Future<Ticket> enter(EventExecutor executor) {
        Future<Ticket> entered = local.enter(executor);
        if (entered.isDone()) {
            return entered.isSuccess() ? executor.newSucceededFuture(new FleetTicket(entered.getNow())) : entered;
        }
        Promise<Ticket> result = executor.newPromise();
        // A caller that gives up (its client left) leaves the local queue too, rather than keep
        // a place there until it is admitted for nobody.
        result.addListener(r -> {
            if (r.isCancelled()) {
                entered.cancel(false);
            }
        });
        entered.addListener(f -> {
            if (f.isSuccess()) {
                Ticket t = new FleetTicket(entered.getNow());
                if (!result.trySuccess(t)) {
                    t.leave();
                }
            } else if (f.isCancelled()) {
                result.cancel(false);
            } else {
                result.tryFailure(f.cause());
            }
        });
        return result;
    }

    /** The local policy's: the fleet's is known only by asking Redis, when the call waits for it. */
    @Override
    public Throwable refusalNow() {
        return local.refusalNow();
    }

    @Override
    public void close() {
        local.close();
    }

    /** The local ticket, whose call waits for the fleet permit inside the local one. */
    private final class FleetTicket implements Ticket {
        private final Ticket inner;

        FleetTicket(Ticket inner) {
            this.inner = inner;
        }

        @Override
        public <T> Future<T> call(Channel channel, Supplier<? extends Future<T>> call) {
            // Bound to the channel like the local wait: a client that leaves frees its fleet place.
            return inner.call(channel, () -> ChannelLimits.forChannel(fleet, channel)
                    .withPermit(channel.eventLoop(), waitNanos, TimeUnit.NANOSECONDS, call));
        }

        @Override
        public void leave() {
            inner.leave();
        }
    }
}
