package dev.nettysync.limit;

import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.internal.VarHandles;
import io.netty.util.ResourceLeakTracker;
import io.netty.util.concurrent.CompleteFuture;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ImmediateEventExecutor;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * An {@link AsyncLimiter} view of a primitive ({@link AsyncSemaphore}, {@link AsyncLock}): see
 * {@link AsyncLimiter#of(AsyncSemaphore)} and {@link AsyncLimiter#of(AsyncLock)} for the
 * contract. The primitive is not changed; its raw API keeps working beside this view.
 */
abstract class PrimitiveLimiter implements AsyncLimiter {

    /*
     * Implementation notes
     *
     * An acquire asks the primitive for its raw Future<Void>. If that is already done (a free
     * permit, a full queue, closed) the answer is mapped at once: a succeeded future with a new
     * permit, or the same failure. Otherwise a PrimitiveAcquire promise listens to it and maps
     * its completion. The grant stays linearizable at the primitive's claim: cancel() on the
     * mapped promise first cancels the raw wait and returns false if the primitive refused
     * (already granted), so "cancel returned true" always means "nothing was held".
     *
     * Each permit gives back exactly one raw permit (AbstractPermit's CAS), so a double release
     * of a permit is a no-op while a double raw release() still inflates the semaphore.
     */

    private static final VarHandle IN_USE = VarHandles.field(MethodHandles.lookup(), "inUse", long.class);

    @SuppressWarnings("unused")
    private volatile long inUse;    // permits of this view not yet ended; getAndAdd by any thread

    /** One raw permit now, or false. */
    abstract boolean tryAcquireRaw();

    abstract Future<Void> acquireRaw(EventExecutor executor);

    abstract Future<Void> acquireRaw(EventExecutor executor, long timeout, TimeUnit unit);

    /** Gives back one raw permit. */
    abstract void releaseRaw();

    @Override
    public final Future<Permit> acquire(EventExecutor executor) {
        Objects.requireNonNull(executor, "executor");
        return map(executor, acquireRaw(executor));
    }

    @Override
    public final Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(unit, "unit");
        return map(executor, acquireRaw(executor, timeout, unit));
    }

    @Override
    public final Permit tryAcquire() {
        return tryAcquireRaw() ? newPermit(ImmediateEventExecutor.INSTANCE) : null;
    }

    /** Permits of this view held now. */
    final long inUse() {
        return (long) IN_USE.getVolatile(this);
    }

    private void ended() {
        IN_USE.getAndAdd(this, -1L);
    }

    private Future<Permit> map(EventExecutor executor, Future<Void> raw) {
        if (raw.isDone()) {
            return raw.isSuccess() ? newPermit(executor) : executor.newFailedFuture(raw.cause());
        }
        PrimitiveAcquire acquire = new PrimitiveAcquire(executor, raw, this);
        raw.addListener(acquire);
        return acquire;
    }

    /** A new permit, which is also its acquire's succeeded future on {@code executor}. */
    private PrimitivePermit newPermit(EventExecutor executor) {
        IN_USE.getAndAdd(this, 1L);
        return new PrimitivePermit(executor, this);
    }

    /**
     * A raw permit held as a handle: gives it back once. It is also its own already-succeeded
     * acquire future (its {@code getNow()} is itself), so an acquire that needs no waiting
     * allocates this one object. It cannot extend {@link AbstractPermit} (it extends Netty's
     * {@link CompleteFuture}), so it keeps the same two pieces of state itself: the end-once
     * flag and the sampled leak tracker.
     */
    private static final class PrimitivePermit extends CompleteFuture<Permit> implements Permit {
        private static final AtomicIntegerFieldUpdater<PrimitivePermit> ENDED =
                AtomicIntegerFieldUpdater.newUpdater(PrimitivePermit.class, "ended");

        private final PrimitiveLimiter owner;
        private final ResourceLeakTracker<Permit> leak;   // null when not sampled
        private volatile int ended;                       // 0 -> 1 once, by CAS (any thread)

        PrimitivePermit(EventExecutor executor, PrimitiveLimiter owner) {
            super(executor);
            this.owner = owner;
            this.leak = AbstractPermit.trackLeak(this);
        }

        @Override
        public boolean release() {
            return end();
        }

        @Override
        public boolean releaseDropped() {
            return end();                   // a primitive learns nothing from the outcome
        }

        @Override
        public boolean releaseIgnored() {
            return end();
        }

        @Override
        public boolean isReleased() {
            return ended != 0;
        }

        private boolean end() {
            if (!ENDED.compareAndSet(this, 0, 1)) {
                return false;
            }
            if (leak != null) {
                leak.close(this);
            }
            owner.ended();                  // before the raw release grants it to the next waiter
            owner.releaseRaw();
            return true;
        }

        // The already-succeeded future whose value is this permit.

        @Override
        public boolean isSuccess() {
            return true;
        }

        @Override
        public Throwable cause() {
            return null;
        }

        @Override
        public Permit getNow() {
            return this;
        }

        @Override
        public String toString() {
            return "Permit(" + owner + (isReleased() ? ", released)" : ")");
        }
    }

    /** A pending acquire: maps the raw wait's completion; cancel goes to the raw wait first. */
    private static final class PrimitiveAcquire extends DefaultPromise<Permit>
            implements GenericFutureListener<Future<Void>> {
        private final Future<Void> raw;
        private final PrimitiveLimiter owner;

        PrimitiveAcquire(EventExecutor executor, Future<Void> raw, PrimitiveLimiter owner) {
            super(executor);
            this.raw = raw;
            this.owner = owner;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (!raw.cancel(false)) {
                return false;               // granted (the grant stands) or already ended
            }
            // The raw wait left the queue holding nothing; its listener may already have
            // cancelled this promise.
            return super.cancel(mayInterruptIfRunning) || isCancelled();
        }

        @Override
        public void operationComplete(Future<Void> f) {
            if (f.isSuccess()) {
                Permit permit = owner.newPermit(executor());
                if (!trySuccess(permit)) {  // completed behind our back (cast to Promise)
                    permit.releaseIgnored();
                }
            } else if (f.isCancelled()) {
                if (!super.cancel(false)) {
                    tryFailure(new CancellationException("the wait was cancelled"));
                }
            } else {
                tryFailure(f.cause());
            }
        }
    }

    /** {@link AsyncLimiter#of(AsyncSemaphore)}. */
    static final class OfSemaphore extends PrimitiveLimiter {
        private final AsyncSemaphore semaphore;

        OfSemaphore(AsyncSemaphore semaphore) {
            this.semaphore = Objects.requireNonNull(semaphore, "semaphore");
        }

        @Override
        boolean tryAcquireRaw() {
            return semaphore.tryAcquire();
        }

        @Override
        Future<Void> acquireRaw(EventExecutor executor) {
            return semaphore.acquire(executor);
        }

        @Override
        Future<Void> acquireRaw(EventExecutor executor, long timeout, TimeUnit unit) {
            return semaphore.acquire(executor, timeout, unit);
        }

        @Override
        void releaseRaw() {
            semaphore.release();
        }

        @Override
        public LimiterStatistics statistics() {
            long held = inUse();
            long available = Math.max(0, semaphore.availablePermits());
            if (held + available >= Integer.MAX_VALUE) {     // a semaphore's maximum: no limit
                return new LimiterStatistics(LimiterStatistics.UNLIMITED, held, LimiterStatistics.UNLIMITED,
                        semaphore.queueLength());
            }
            return new LimiterStatistics(held + available, held, available, semaphore.queueLength());
        }

        @Override
        public String toString() {
            return "AsyncLimiter.of(" + semaphore + ')';
        }
    }

    /** {@link AsyncLimiter#of(AsyncLock)}. */
    static final class OfLock extends PrimitiveLimiter {
        private final AsyncLock lock;

        OfLock(AsyncLock lock) {
            this.lock = Objects.requireNonNull(lock, "lock");
        }

        @Override
        boolean tryAcquireRaw() {
            return lock.tryLock();
        }

        @Override
        Future<Void> acquireRaw(EventExecutor executor) {
            return lock.lock(executor);
        }

        @Override
        Future<Void> acquireRaw(EventExecutor executor, long timeout, TimeUnit unit) {
            return lock.lock(executor, timeout, unit);
        }

        @Override
        void releaseRaw() {
            lock.unlock();
        }

        @Override
        public LimiterStatistics statistics() {
            long held = lock.isLocked() ? 1 : 0;
            return new LimiterStatistics(1, held, 1 - held, lock.queueLength());
        }

        @Override
        public String toString() {
            return "AsyncLimiter.of(" + lock + ')';
        }
    }
}
