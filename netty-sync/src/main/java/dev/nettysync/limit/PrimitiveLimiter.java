package dev.nettysync.limit;

import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncReadWriteLock;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.internal.MappedWait;
import io.netty.util.ResourceLeakTracker;
import io.netty.util.concurrent.CompleteFuture;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * An {@link AsyncLimiter} view of a primitive ({@link AsyncSemaphore}, {@link AsyncLock}, either
 * side of an {@link AsyncReadWriteLock}): see {@link AsyncLimiter#of(AsyncSemaphore)},
 * {@link AsyncLimiter#of(AsyncLock)}, {@link AsyncLimiter#ofRead(AsyncReadWriteLock)} and
 * {@link AsyncLimiter#ofWrite(AsyncReadWriteLock)} for the contract. The primitive is not
 * changed; its raw API keeps working beside this view.
 */
final class PrimitiveLimiter implements AsyncLimiter {

    /*
     * Implementation notes
     *
     * One class for every primitive: a primitive is described by its raw operations, passed in
     * as method references by the factories below (try, wait, timed wait, give back, and its
     * statistics). Each call through them is one interface call whose target is the
     * primitive's own method, inlined into the lambda; a program that uses views of several
     * kinds of primitive makes that call site megamorphic, exactly as the virtual call of an
     * abstract class with one subclass per kind would, and no more.
     *
     * The view keeps no state of its own beyond each permit's end-once flag: its statistics are
     * the primitive's, which count every holder, raw or through any view (a semaphore's total
     * and available permits, a lock's state).
     *
     * An acquire first calls the primitive's try (every primitive here is an AsyncSemaphore
     * underneath, whose acquire begins with exactly that try, so order and fairness are the
     * same): a success is the new PrimitivePermit at once, which is its own succeeded future,
     * without the primitive's shared succeeded future and its per-executor lookup. Otherwise it
     * asks the primitive for its raw Future<Void>. If that is already done (a permit freed
     * meanwhile, a full queue, closed) the answer is mapped at once: the new permit, or a failed
     * future with the same cause. Otherwise a
     * PrimitiveAcquire (a MappedWait) listens to it and maps its completion. The grant stays
     * linearizable at the primitive's claim: cancel() on the mapped wait first cancels the raw
     * wait and returns false if the primitive refused (already granted), so "cancel returned
     * true" always means "nothing was held".
     *
     * Each permit gives back exactly one raw permit (the permit's CAS on `ended`), so a double
     * release of a permit is a no-op while a double raw release() still inflates the semaphore.
     * One exception: a lock's permit whose withPermit action was a condition wait of the lock
     * that gave the lock up (LockGivenUpException) holds nothing any more, so withPermit ends it
     * without unlocking (endAfter; the lock itself answers whether the failure names it), as
     * withLock does. An unlock then would release the next holder's lock.
     *
     * Cost of an uncontended acquire + release over the raw one: one object (the permit, with
     * Netty's leak sampling, SIMPLE by default: one permit in 128 is tracked) and the permit's
     * end-once CAS. The permit could not reuse AbstractPermit (it extends CompleteFuture), so it
     * keeps the same two fields itself. (A count of the view's own permits in use, two atomic
     * adds per permit, was about a quarter of the view's uncontended cost; the primitive's own
     * counts replaced it.)
     */

    private final String factory;                                 // "of", "ofRead", ... for toString
    private final Object primitive;
    private final BooleanSupplier tryAcquireRaw;                  // one raw permit now, or false
    private final Function<EventExecutor, Future<Void>> acquireRaw;
    private final TimedWait acquireRawTimed;
    private final Runnable releaseRaw;                            // gives back one raw permit
    private final Predicate<Throwable> givenUpBy;                 // an action's failure that gave the raw permit up
    private final Supplier<LimiterStatistics> statistics;         // from the primitive's own state

    /** A primitive's timed wait, e.g. {@code semaphore::acquire}. */
    @FunctionalInterface
    interface TimedWait {
        Future<Void> acquire(EventExecutor executor, long timeout, TimeUnit unit);
    }

    private PrimitiveLimiter(String factory, Object primitive, BooleanSupplier tryAcquireRaw,
                             Function<EventExecutor, Future<Void>> acquireRaw, TimedWait acquireRawTimed,
                             Runnable releaseRaw, Predicate<Throwable> givenUpBy,
                             Supplier<LimiterStatistics> statistics) {
        this.factory = factory;
        this.primitive = primitive;
        this.tryAcquireRaw = tryAcquireRaw;
        this.acquireRaw = acquireRaw;
        this.acquireRawTimed = acquireRawTimed;
        this.releaseRaw = releaseRaw;
        this.givenUpBy = givenUpBy;
        this.statistics = statistics;
    }

    /** The primitives whose holds no action can give up (only a lock's condition wait can). */
    private static final Predicate<Throwable> NEVER_GIVEN_UP = cause -> false;

    /** {@link AsyncLimiter#of(AsyncSemaphore)}. */
    static AsyncLimiter of(AsyncSemaphore s) {
        Objects.requireNonNull(s, "semaphore");
        return new PrimitiveLimiter("of", s, s::tryAcquire, s::acquire, s::acquire, s::release, NEVER_GIVEN_UP,
                () -> statistics(s.statistics()));
    }

    /**
     * A semaphore's snapshot as a limiter's: the limit is its total (none at
     * {@code Integer.MAX_VALUE}, a semaphore's maximum), in use what it counts as held, available
     * its available permits but never below zero (a reduction may take them below).
     */
    private static LimiterStatistics statistics(AsyncSemaphore.Statistics s) {
        long inUse = Math.max(0, s.held());
        long available = Math.max(0, s.available());
        if (s.total() == Integer.MAX_VALUE) {
            return new LimiterStatistics(LimiterStatistics.UNLIMITED, inUse, LimiterStatistics.UNLIMITED, s.waiters());
        }
        return new LimiterStatistics(Math.max(0, s.total()), inUse, available, s.waiters());
    }

    /** {@link AsyncLimiter#of(AsyncLock)}. */
    static AsyncLimiter of(AsyncLock l) {
        Objects.requireNonNull(l, "lock");
        return new PrimitiveLimiter("of", l, l::tryLock, l::lock, l::lock, l::unlock, l::isGivenUpBy,
                () -> ofOne(l.isLocked(), !l.isLocked(), l.queueLength()));
    }

    /** {@link AsyncLimiter#ofRead(AsyncReadWriteLock)}. */
    static AsyncLimiter ofRead(AsyncReadWriteLock rw) {
        Objects.requireNonNull(rw, "lock");
        return new PrimitiveLimiter("ofRead", rw, rw::tryReadLock, rw::readLock, rw::readLock, rw::unlockRead,
                NEVER_GIVEN_UP, () -> {
                    int readers = rw.readers();
                    long available = rw.isWriteLocked() ? 0 : Math.max(0, rw.maxReaders() - readers);
                    return new LimiterStatistics(rw.maxReaders(), readers, available, rw.queueLength());
                });
    }

    /** {@link AsyncLimiter#ofWrite(AsyncReadWriteLock)}. */
    static AsyncLimiter ofWrite(AsyncReadWriteLock rw) {
        Objects.requireNonNull(rw, "lock");
        return new PrimitiveLimiter("ofWrite", rw, rw::tryWriteLock, rw::writeLock, rw::writeLock, rw::unlockWrite,
                NEVER_GIVEN_UP, () -> ofOne(rw.isWriteLocked(), !rw.isWriteLocked() && rw.readers() == 0, rw.queueLength()));
    }

    /** The statistics of a limit of one. */
    private static LimiterStatistics ofOne(boolean held, boolean free, int queued) {
        return new LimiterStatistics(1, held ? 1 : 0, free ? 1 : 0, queued);
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        Objects.requireNonNull(executor, "executor");
        if (tryAcquireRaw.getAsBoolean()) {
            return newPermit(executor);
        }
        return map(executor, acquireRaw.apply(executor));
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(unit, "unit");
        if (tryAcquireRaw.getAsBoolean()) {
            return newPermit(executor);
        }
        return map(executor, acquireRawTimed.acquire(executor, timeout, unit));
    }

    @Override
    public Permit tryAcquire() {
        return tryAcquireRaw.getAsBoolean() ? newPermit(ImmediateEventExecutor.INSTANCE) : null;
    }

    @Override
    public LimiterStatistics statistics() {
        return statistics.get();
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
        return new PrimitivePermit(executor, this);
    }

    private void end() {
        releaseRaw.run();
    }

    /** Whether {@code a} and {@code b} are views of one primitive (for {@link CompositeLimiter}). */
    static boolean sharePrimitive(AsyncLimiter a, AsyncLimiter b) {
        return a instanceof PrimitiveLimiter pa && b instanceof PrimitiveLimiter pb && pa.primitive == pb.primitive;
    }

    @Override
    public String toString() {
        return "AsyncLimiter." + factory + '(' + primitive + ')';
    }

    /**
     * A raw permit held as a handle: gives it back once. It is also its own already-succeeded
     * acquire future (its {@code getNow()} is itself), so an acquire that needs no waiting
     * allocates this one object. It cannot extend {@link AbstractPermit} (it extends Netty's
     * {@link CompleteFuture}), so it keeps the same two pieces of state itself: the end-once
     * flag and the sampled leak tracker. A primitive learns nothing from the outcome: every
     * ending is {@code release()}.
     */
    static final class PrimitivePermit extends CompleteFuture<Permit> implements OutcomeBlindPermit {
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
        public boolean isReleased() {
            return ended != 0;
        }

        /** Held by another permit, which is tracked in its place: see {@link AbstractPermit#untrack}. */
        void untrack() {
            if (leak != null) {
                leak.close(this);           // idempotent: release() closes it again, a no-op
            }
        }

        @Override
        public boolean release() {          // and so releaseDropped(), releaseIgnored()
            if (!markEnded()) {
                return false;
            }
            owner.end();
            return true;
        }

        /**
         * withPermit's end after its action failed with {@code cause}: as {@link #release()},
         * unless that failure gave the raw permit up (a condition wait of this view's lock that
         * let the lock go, {@link dev.nettysync.LockGivenUpException}); then the permit ends
         * holding nothing, and the lock, which may be the next holder's, is not unlocked.
         */
        void endAfter(Throwable cause) {
            if (owner.givenUpBy.test(cause)) {
                markEnded();
            } else {
                release();
            }
        }

        /** The end-once decision: {@code true} for the first end only, which closes the leak tracker. */
        private boolean markEnded() {
            if (!ENDED.compareAndSet(this, 0, 1)) {
                return false;
            }
            if (leak != null) {
                leak.close(this);
            }
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

    /** A pending acquire: maps the raw grant to a permit; cancel goes to the raw wait first. */
    private static final class PrimitiveAcquire extends MappedWait<Void, Permit> {
        private final PrimitiveLimiter owner;

        PrimitiveAcquire(EventExecutor executor, Future<Void> raw, PrimitiveLimiter owner) {
            super(executor, raw);
            this.owner = owner;
        }

        @Override
        protected Permit map(Void granted) {
            return owner.newPermit(executor());
        }

        @Override
        protected void discard(Permit permit) {
            permit.releaseIgnored();
        }
    }
}
