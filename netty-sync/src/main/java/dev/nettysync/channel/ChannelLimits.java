package dev.nettysync.channel;

import dev.nettysync.internal.MappedWait;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.Supplier;

/**
 * Waits and permits bound to a {@link Channel}'s life, so that a client that goes away while
 * queued, or while its work runs, gives back what it held with no close listener in user code:
 * <pre>{@code
 * public void channelRead(ChannelHandlerContext ctx, Object msg) {
 *     ChannelLimits.acquire(backend, ctx.channel(), 2, TimeUnit.SECONDS).addListener(f -> {
 *         if (f.isCancelled()) return;                        // the client went away while queued
 *         if (!f.isSuccess()) { ctx.writeAndFlush(busy(f.cause())); return; }
 *         Permit permit = (Permit) f.getNow();                // released (ignored) if the client leaves
 *         callBackend(msg).addListener(r -> {
 *             if (r.isSuccess()) permit.release(); else permit.releaseDropped();
 *             ctx.writeAndFlush(render(r));
 *         });
 *     });
 * }
 * }</pre>
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li><b>A bound wait</b> ({@link #acquire}, {@link #cancelOnClose}) is cancelled when the
 *       channel closes: it leaves the limiter's queue at once (the slot is free for the next
 *       client before the closed channel's handlers run). A wait that was already granted is not
 *       cancelled; its permit is bound as below.</li>
 *   <li><b>A bound permit</b> ({@link #bind}, and the permits {@link #acquire} hands out) is
 *       ended with {@link Permit#releaseIgnored()} when the channel closes, unless it was ended
 *       before; exactly once either way. Ending it first removes its listener from the
 *       channel's close future, so a long-lived channel that serves many requests does not
 *       collect listeners.</li>
 *   <li><b>{@code withPermit} of a bound view</b> ({@link #forChannel}) binds the wait only: a
 *       client that leaves while queued frees its slot at once and its action never runs; a
 *       client that leaves while the action runs gets its future cancelled, but the permit is
 *       held until the action's own future completes (the work it admitted, a backend call,
 *       does not stop because the client left; freeing the permit at the close would let the
 *       next caller in beside it). Use {@link #acquire} and end the permit yourself to release
 *       at the close instead.</li>
 *   <li><b>Threads.</b> Any thread may call these methods and end the permits. The wait's
 *       future belongs to the channel's event loop ({@link #acquire}) or to the executor named
 *       ({@link #forChannel}): its listeners run there. A close is seen on the channel's event
 *       loop, where close listeners run.</li>
 *   <li><b>Already closed.</b> {@link #acquire} on a closed channel returns a cancelled future
 *       and does not touch the limiter ({@code tryAcquire} of {@link #forChannel} returns
 *       {@code null}); {@link #bind} to a closed channel ends the permit (ignored), and
 *       {@link #cancelOnClose} cancels the wait, at once on the calling thread, not through a
 *       close listener (which would run later on the channel's loop, or never once that loop has
 *       shut down).</li>
 * </ul>
 */
public final class ChannelLimits {

    private ChannelLimits() {
    }

    /**
     * {@code limiter.acquire(channel.eventLoop())}, with the wait and the permit bound to
     * {@code channel} as described in the class documentation. The permit the future succeeds
     * with is a bound one ({@link #bind}); ending it ends the limiter's permit.
     */
    public static Future<Permit> acquire(AsyncLimiter limiter, Channel channel) {
        return forChannel(limiter, channel).acquire(channel.eventLoop());
    }

    /**
     * As {@link #acquire(AsyncLimiter, Channel)}, with the limiter's timed wait: fails with a
     * {@link dev.nettysync.WaitTimeoutException} after {@code timeout} unless granted or the
     * channel closed first.
     */
    public static Future<Permit> acquire(AsyncLimiter limiter, Channel channel, long timeout, TimeUnit unit) {
        return forChannel(limiter, channel).acquire(channel.eventLoop(), timeout, unit);
    }

    /**
     * A view of {@code limiter} whose waits and permits are bound to {@code channel}: its
     * {@code acquire} and {@code tryAcquire} are the limiter's, bound as described in the class
     * documentation; its {@link AsyncLimiter#withPermit withPermit} binds the wait and holds
     * the permit until the action's own future completes, even if the client goes away first
     * (see the class documentation). Cheap (one small object): make one per request or per
     * channel. Its statistics are the limiter's.
     */
    public static AsyncLimiter forChannel(AsyncLimiter limiter, Channel channel) {
        return new BoundLimiter(Objects.requireNonNull(limiter, "limiter"), Objects.requireNonNull(channel, "channel"));
    }

    /**
     * Binds a held permit to {@code channel}: the returned permit ends {@code permit} exactly
     * once, with the outcome of its own first release call, or with
     * {@link Permit#releaseIgnored()} when the channel closes first. Use the returned permit from
     * then on.
     */
    public static Permit bind(Permit permit, Channel channel) {
        Objects.requireNonNull(permit, "permit");
        Objects.requireNonNull(channel, "channel");
        ChannelBoundPermit bound = new ChannelBoundPermit(permit, channel);
        ChannelFuture closed = channel.closeFuture();
        if (!closed.isDone()) {
            closed.addListener(bound);
        }
        if (closed.isDone()) {   // closed before, or as the listener was added: ended here, once
            bound.operationComplete(closed);
        }
        return bound;
    }

    /**
     * Cancels {@code wait} when {@code channel} closes, if it is still pending then; the close
     * listener is removed when the wait completes first. For any wait (an
     * {@link AsyncLimiter} acquire, a raw semaphore acquire, an event wait).
     *
     * @return {@code wait}
     */
    public static <F extends Future<?>> F cancelOnClose(F wait, Channel channel) {
        Objects.requireNonNull(wait, "wait");
        Objects.requireNonNull(channel, "channel");
        if (wait.isDone()) {
            return wait;
        }
        ChannelFuture closed = channel.closeFuture();
        if (closed.isDone()) {
            wait.cancel(false);
            return wait;
        }
        ChannelFutureListener onClose = c -> wait.cancel(false);
        closed.addListener(onClose);
        wait.addListener(done -> closed.removeListener(onClose));
        if (closed.isDone()) {   // closed as the listener was added
            wait.cancel(false);
        }
        return wait;
    }

    private static Future<Permit> bound(Future<Permit> wait, Channel channel, EventExecutor executor) {
        if (wait.isDone()) {
            return wait.isSuccess() ? executor.newSucceededFuture(bind(wait.getNow(), channel)) : wait;
        }
        ChannelAcquire acquire = new ChannelAcquire(channel, wait, executor);
        channel.closeFuture().addListener(acquire.onClose);
        wait.addListener(acquire);
        if (channel.closeFuture().isDone()) {   // closed as the listener was added
            acquire.cancel(false);
        }
        return acquire;
    }

    private static <V> Future<V> cancelled(EventExecutor executor) {
        DefaultPromise<V> p = new DefaultPromise<>(executor);
        p.cancel(false);
        return p;
    }

    /** {@link #forChannel}. */
    private static final class BoundLimiter implements AsyncLimiter {
        private final AsyncLimiter limiter;
        private final Channel channel;

        BoundLimiter(AsyncLimiter limiter, Channel channel) {
            this.limiter = limiter;
            this.channel = channel;
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor) {
            Objects.requireNonNull(executor, "executor");
            return channel.isOpen() ? bound(limiter.acquire(executor), channel, executor) : cancelled(executor);
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
            Objects.requireNonNull(executor, "executor");
            Objects.requireNonNull(unit, "unit");
            return channel.isOpen() ? bound(limiter.acquire(executor, timeout, unit), channel, executor) : cancelled(executor);
        }

        @Override
        public Permit tryAcquire() {
            if (!channel.isOpen()) {
                return null;
            }
            Permit p = limiter.tryAcquire();
            return p == null ? null : bind(p, channel);
        }

        /**
         * The wait is bound (it leaves the queue if the channel closes), the permit is not: it
         * ends when the action's own future completes, as for any {@code withPermit}, even if
         * the channel closed first. The work it admitted may still be running then (a backend
         * call that a client's disconnect does not stop), and ending the permit at the close
         * would let the next caller in beside it: the limit would no longer bound the work. The
         * returned future is cancelled for the caller when the channel closes.
         */
        @Override
        public <T> Future<T> withPermit(EventExecutor executor, Supplier<? extends Future<T>> action) {
            Objects.requireNonNull(action, "action");
            return whileOpen(executor, () -> limiter.withPermit(executor, action));
        }

        /** As {@link #withPermit(EventExecutor, Supplier)}, the timeout bounding the wait only. */
        @Override
        public <T> Future<T> withPermit(EventExecutor executor, long timeout, TimeUnit unit,
                                        Supplier<? extends Future<T>> action) {
            Objects.requireNonNull(unit, "unit");
            Objects.requireNonNull(action, "action");
            return whileOpen(executor, () -> limiter.withPermit(executor, timeout, unit, action));
        }

        /** {@code start}'s future, cancelled when the channel closes; a cancelled one if it is closed. */
        private <T> Future<T> whileOpen(EventExecutor executor, Supplier<Future<T>> start) {
            Objects.requireNonNull(executor, "executor");
            return channel.isOpen() ? cancelOnClose(start.get(), channel) : cancelled(executor);
        }

        @Override
        public LimiterStatistics statistics() {
            return limiter.statistics();
        }

        @Override
        public String toString() {
            return limiter + " bound to " + channel;
        }
    }

    /**
     * A wait bound to a channel: completes like the limiter's wait, with the permit bound to the
     * channel; cancelled (the limiter's wait first) when the channel closes.
     */
    private static final class ChannelAcquire extends MappedWait<Permit, Permit> {
        private final Channel channel;
        final ChannelFutureListener onClose = closed -> cancel(false);

        ChannelAcquire(Channel channel, Future<Permit> wait, EventExecutor executor) {
            super(executor, wait);
            this.channel = channel;
        }

        @Override
        protected void sourceDone() {
            channel.closeFuture().removeListener(onClose);
        }

        @Override
        protected Permit map(Permit granted) {
            return bind(granted, channel);   // ended at once if the channel closed meanwhile
        }

        @Override
        protected void discard(Permit permit) {
            permit.releaseIgnored();
        }
    }

    /** A permit that ends its inner permit once, at the first release call or the channel's close. */
    private static final class ChannelBoundPermit implements Permit, ChannelFutureListener {
        private static final AtomicIntegerFieldUpdater<ChannelBoundPermit> ENDED =
                AtomicIntegerFieldUpdater.newUpdater(ChannelBoundPermit.class, "ended");

        private final Permit inner;
        private final Channel channel;
        private volatile int ended;          // 0 -> 1 once, by CAS

        ChannelBoundPermit(Permit inner, Channel channel) {
            this.inner = inner;
            this.channel = channel;
        }

        @Override
        public void operationComplete(ChannelFuture closed) {
            if (ENDED.compareAndSet(this, 0, 1)) {
                inner.releaseIgnored();
            }
        }

        @Override
        public boolean release() {
            return end() && inner.release();
        }

        @Override
        public boolean releaseDropped() {
            return end() && inner.releaseDropped();
        }

        @Override
        public boolean releaseIgnored() {
            return end() && inner.releaseIgnored();
        }

        private boolean end() {
            if (!ENDED.compareAndSet(this, 0, 1)) {
                return false;
            }
            channel.closeFuture().removeListener(this);
            return true;
        }

        @Override
        public boolean isReleased() {
            return ended != 0;
        }

        @Override
        public String toString() {
            return inner + " bound to " + channel;
        }
    }
}
