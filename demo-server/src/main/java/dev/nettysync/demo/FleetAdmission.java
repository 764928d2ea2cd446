package dev.nettysync.demo;

import dev.nettysync.channel.ChannelLimits;
import dev.nettysync.limit.AbstractPermit;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
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
 * fails at once while the connection is down, else within the limiters' command timeout (2 s).
 * Closed (default): the request fails with the limiter's {@link io.lettuce.core.RedisException}, answered 503
 * "fleet limit unavailable: Redis unreachable"; its local permit is given back. Open: the call
 * runs under its local permit only.
 *
 * <p>Thread-safe; futures complete on the executor passed in (both layers guarantee it).
 */
final class FleetAdmission implements Admission {

    private final Admission local;
    private final AsyncLimiter fleet;             // the RedisSemaphore, as --fleet-when-down wants it
    private final long waitNanos;

    FleetAdmission(Admission local, RedisSemaphore fleet, Duration wait, FleetOutage outage) {
        this.local = Objects.requireNonNull(local, "local");
        this.fleet = new WhenDown(Objects.requireNonNull(fleet, "fleet"), Objects.requireNonNull(outage, "outage"));
        this.waitNanos = wait.toNanos();
    }

    @Override
    public Future<Ticket> enter(EventExecutor executor) {
        Future<Ticket> entered = local.enter(executor);
        if (entered.isDone()) {
            return entered.isSuccess() ? executor.newSucceededFuture(new FleetTicket(entered.getNow())) : entered;
        }
        io.netty.util.concurrent.Promise<Ticket> result = executor.newPromise();
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

    /**
     * The fleet semaphore, with {@link FleetOutage}'s decision applied to an acquire that Redis
     * could not decide: closed passes the failure on; open grants a permit that stands for no
     * fleet permit (nothing to give back). A cancel reaches the semaphore's wait.
     */
    private static final class WhenDown implements AsyncLimiter {
        private final RedisSemaphore fleet;
        private final FleetOutage outage;

        WhenDown(RedisSemaphore fleet, FleetOutage outage) {
            this.fleet = fleet;
            this.outage = outage;
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor) {
            return decide(executor, fleet.acquire(executor));
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
            return decide(executor, fleet.acquire(executor, timeout, unit));
        }

        private Future<Permit> decide(EventExecutor executor, Future<Permit> wait) {
            Promise<Permit> result = executor.newPromise();
            wait.addListener(f -> {
                if (f.isSuccess()) {
                    Permit p = wait.getNow();
                    if (!result.trySuccess(p)) {
                        p.releaseIgnored();        // cancelled meanwhile
                    }
                } else if (f.isCancelled()) {
                    result.cancel(false);
                } else if (outage.admitWithout(FleetOutage.Limit.CONCURRENCY, f.cause())) {
                    result.trySuccess(new NoFleetPermit());   // open: under the local permit only
                } else {
                    result.tryFailure(f.cause());              // closed (or not Redis): 503
                }
            });
            result.addListener(f -> {
                if (f.isCancelled()) {
                    wait.cancel(false);
                }
            });
            return result;
        }

        @Override
        public Permit tryAcquire() {
            return fleet.tryAcquire();             // throws: needs a round trip
        }

        @Override
        public LimiterStatistics statistics() {
            return fleet.statistics();
        }
    }

    /** Admitted without a fleet permit (open, Redis down): nothing to give back. */
    private static final class NoFleetPermit extends AbstractPermit {
        @Override
        protected void onEnd(Outcome outcome) {
        }
    }
}
