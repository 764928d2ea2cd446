package dev.nettysync.demo;

import dev.nettysync.channel.ChannelLimits;
import dev.nettysync.redis.RedisSemaphore;
import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

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
 * <p>Thread-safe; futures complete on the executor passed in (both layers guarantee it).
 */
final class FleetAdmission implements Admission {

    private final Admission local;
    private final RedisSemaphore fleet;
    private final long waitNanos;

    FleetAdmission(Admission local, RedisSemaphore fleet, Duration wait) {
        this.local = Objects.requireNonNull(local, "local");
        this.fleet = Objects.requireNonNull(fleet, "fleet");
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
}
