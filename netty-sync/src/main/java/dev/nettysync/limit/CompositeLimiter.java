package dev.nettysync.limit;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/** {@link AsyncLimiter#all(AsyncLimiter...)}: see there for the contract. */
final class CompositeLimiter implements AsyncLimiter {

    /*
     * Implementation notes
     *
     * An acquire walks the parts in order. As long as each part answers at once (its future is
     * already done), the walk runs in the caller's thread and allocates no promise. The first
     * part that has to wait turns the walk into a CompositeAcquire: a promise that listens to
     * that part's future and continues the walk from its listener. The parts are asked with a
     * ContinuationExecutor over the caller's executor, so that listener runs on the caller's
     * executor, or, once that has shut down, on the thread that completed the part's future
     * (ImmediateEventExecutor's trampoline: a cascade is a loop). One step runs at a time (each
     * is started by the previous part's completion), so the walk's state (held permits, index)
     * needs no lock; it is published from step to step by the futures' completion.
     *
     *   part 0 ──granted──▶ part 1 ──granted──▶ ... part n-1 ──granted──▶ composite permit
     *      │                   │                       │
     *      └── refused, timed out or cancelled: end held[k-1] .. held[0] (releaseIgnored),
     *          fail (or cancel) the composite future with the part's cause
     *
     * Cancellation. cancel() cancels the promise first, then the part future it waits on
     * (`current`). The walk publishes `current` before it looks at isDone(), and cancel() sets
     * done before it reads `current`, so at least one of them cancels the part. A part granted
     * after the promise was cancelled is ended at once with the others.
     *
     * Timeout. One deadline for the whole walk: each part gets the time left (zero or less:
     * "only if it admits at once"), so the composite never waits longer than asked in total.
     * Time is the caller's executor's ticker, the clock its timers (so the parts' timeouts) run on.
     *
     * Executors that shut down. A part's wait on an executor that shut down is refused by the
     * part when it would grant it (it sees the ContinuationExecutor as shut down); its listener
     * still runs (see above), so the walk gives back held[0..index-1]. The composite permit is
     * handed over on the caller's executor only (PermitHandOver, shared with KeyedLimiter):
     * inline if the walk runs there, else as a task; a refused task means nobody could ever hold the permit,
     * so it is ended at once (every part, releaseIgnored) and the composite fails with a
     * RejectedExecutionException. No step runs user code under a monitor: the composite has
     * none, and a part completes its futures (so runs the step) outside its own.
     */

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(CompositeLimiter.class);

    private final AsyncLimiter[] parts;
    private final LongAdder inUse = new LongAdder();     // composite permits not yet ended; any thread
    private final LongAdder waiting = new LongAdder();   // composite acquires still waiting; any thread

    CompositeLimiter(AsyncLimiter[] parts) {
        Objects.requireNonNull(parts, "limiters");
        if (parts.length == 0) {
            throw new IllegalArgumentException("AsyncLimiter.all needs at least one limiter");
        }
        for (int i = 0; i < parts.length; i++) {
            if (parts[i] == null) {
                throw new NullPointerException("limiters[" + i + "] is null");
            }
            for (int j = 0; j < i; j++) {
                if (parts[j] == parts[i]) {       // it would hold one permit while waiting for another
                    throw new IllegalArgumentException("limiters[" + i + "] is limiters[" + j + "] (" + parts[i]
                            + "): a limiter given twice waits for itself once it has no second permit");
                }
                if (PrimitiveLimiter.sharePrimitive(parts[j], parts[i])) {   // the same, through two views
                    throw new IllegalArgumentException("limiters[" + i + "] and limiters[" + j + "] are views of one"
                            + " primitive (" + parts[i] + ", " + parts[j] + "): the composite would wait for"
                            + " itself once that has no second permit");
                }
            }
        }
        this.parts = parts.clone();
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        Objects.requireNonNull(executor, "executor");
        return walk(executor, ContinuationExecutor.of(executor), new Permit[parts.length], false, 0);
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(unit, "unit");
        long nanos = Math.max(0, unit.toNanos(timeout));
        return walk(executor, ContinuationExecutor.of(executor), new Permit[parts.length], true,
                executor.ticker().nanoTime() + nanos);
    }

    @Override
    public Permit tryAcquire() {
        Permit[] held = new Permit[parts.length];
        for (int i = 0; i < parts.length; i++) {
            Permit p;
            try {
                p = parts[i].tryAcquire();
            } catch (RuntimeException | Error e) {
                giveBack(held, i);
                throw e;
            }
            if (p == null) {
                giveBack(held, i);
                return null;
            }
            held[i] = p;
        }
        return newPermit(held);
    }

    /**
     * The limit and availability of the tightest part; in use and queued count this composite's
     * own permits and waits (a part may have other users).
     */
    @Override
    public LimiterStatistics statistics() {
        long limit = LimiterStatistics.UNLIMITED;
        long available = Long.MAX_VALUE;
        for (AsyncLimiter part : parts) {
            LimiterStatistics s = part.statistics();
            limit = Math.min(limit, s.limit());
            available = Math.min(available, s.available());
        }
        return new LimiterStatistics(limit, inUse.sum(), available, (int) Math.min(Integer.MAX_VALUE, waiting.sum()));
    }

    @Override
    public String toString() {
        return "AsyncLimiter.all" + Arrays.toString(parts);
    }

    // ---------------------------------------------------------------- the walk

    /**
     * Asks part {@code i} on {@code executor} (the caller's, as a ContinuationExecutor); {@code
     * deadline} is a time of the executor's ticker (the clock the parts' timeouts run on), used if
     * {@code timed}.
     */
    private Future<Permit> acquirePart(ContinuationExecutor executor, int i, boolean timed, long deadline) {
        Future<Permit> f = timed
                ? parts[i].acquire(executor, Math.max(0, deadline - executor.ticker().nanoTime()), TimeUnit.NANOSECONDS)
                : parts[i].acquire(executor);
        if (f == null) {                          // a part's bug: fail like a throwing part, giving back
            throw new NullPointerException(parts[i] + ".acquire returned a null future");
        }
        return f;
    }

    /** The walk while every part answers at once; hands over to a CompositeAcquire otherwise. */
    private Future<Permit> walk(EventExecutor executor, ContinuationExecutor partExecutor, Permit[] held,
                                boolean timed, long deadline) {
        for (int i = 0; i < parts.length; i++) {
            Future<Permit> f;
            try {
                f = acquirePart(partExecutor, i, timed, deadline);
            } catch (RuntimeException | Error e) {
                giveBack(held, i);
                throw e;
            }
            if (!f.isDone()) {
                CompositeAcquire acquire = new CompositeAcquire(executor, partExecutor, held, i, timed, deadline);
                acquire.await(f);
                return acquire;
            }
            if (!f.isSuccess()) {
                giveBack(held, i);
                return executor.newFailedFuture(f.isCancelled() ? new CancellationException() : f.cause());
            }
            held[i] = f.getNow();
        }
        return executor.newSucceededFuture(newPermit(held));
    }

    private Permit newPermit(Permit[] held) {
        inUse.increment();
        return new CompositePermit(this, held);
    }

    /**
     * Ends the first {@code count} held permits, last first, as ignored (the work never ran). Never
     * throws: a permit whose end throws (a part's code) is logged and the others are still ended,
     * since a throw here would leave them held and the composite wait never completed.
     */
    private static void giveBack(Permit[] held, int count) {
        for (int i = count - 1; i >= 0; i--) {
            Permit p = held[i];
            held[i] = null;
            if (p != null) {
                try {
                    p.releaseIgnored();
                } catch (RuntimeException | Error e) {
                    logger.warn("giving back {} threw; the other parts are given back anyway", p, e);
                }
            }
        }
    }

    /**
     * The walk after a part had to wait. Its state is confined to whoever runs the walk: one
     * step at a time, each started by the previous part's completion (see the notes).
     */
    private final class CompositeAcquire extends PermitHandOver
            implements GenericFutureListener<Future<Permit>> {
        private final ContinuationExecutor partExecutor;   // the caller's executor, for the parts
        private final Permit[] held;              // confined to the walk once published
        private final boolean timed;
        private final long deadline;
        private int index;                        // the part waited on; confined to the walk
        private volatile Future<Permit> current;  // written by the walk, read by cancel()

        CompositeAcquire(EventExecutor executor, ContinuationExecutor partExecutor, Permit[] held, int index,
                         boolean timed, long deadline) {
            super(executor);
            this.partExecutor = partExecutor;
            this.timed = timed;
            this.held = held;
            this.index = index;
            this.deadline = deadline;
            waiting.increment();
        }

        void await(Future<Permit> f) {
            current = f;
            if (isDone()) {                       // cancelled meanwhile: see the notes
                f.cancel(false);
            }
            f.addListener(this);
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (!super.cancel(mayInterruptIfRunning)) {
                return false;
            }
            waiting.decrement();
            Future<Permit> f = current;
            if (f != null) {
                f.cancel(false);                  // its listener gives back what is held
            }
            return true;
        }

        @Override
        public void operationComplete(Future<Permit> f) {
            if (!f.isSuccess()) {
                giveBack(held, index);
                if (f.isCancelled()) {           // by our cancel(), or by someone holding the part's future
                    if (!isDone() && super.cancel(false)) {
                        waiting.decrement();
                    }
                } else if (tryFailure(f.cause())) {
                    waiting.decrement();
                }
                return;
            }
            held[index++] = f.getNow();
            if (isDone()) {                       // cancelled while the part granted
                giveBack(held, index);
                return;
            }
            for (; index < parts.length; index++) {
                Future<Permit> next;
                try {
                    next = acquirePart(partExecutor, index, timed, deadline);
                } catch (Throwable t) {
                    giveBack(held, index);
                    if (tryFailure(t)) {
                        waiting.decrement();
                    }
                    return;
                }
                if (!next.isDone()) {
                    await(next);                  // continues in operationComplete
                    return;
                }
                if (!next.isSuccess()) {
                    giveBack(held, index);
                    if (tryFailure(next.isCancelled() ? new CancellationException() : next.cause())) {
                        waiting.decrement();
                    }
                    return;
                }
                held[index] = next.getNow();
            }
            handOver(newPermit(held));            // on the caller's executor, or ended: see PermitHandOver
        }

        @Override
        String refusedWait() {
            return CompositeLimiter.this + " (every part was ended)";
        }

        @Override
        void handedOver() {
            waiting.decrement();
        }
    }

    /** Holds one permit of each part; ends them in reverse order with the same outcome. */
    private static final class CompositePermit extends HoldingPermit {
        private final CompositeLimiter owner;
        private final Permit[] held;

        CompositePermit(CompositeLimiter owner, Permit[] held) {
            this.owner = owner;
            this.held = held;
            takeOverLeakTracking();                 // a leak is reported once, as this permit
        }

        @Override
        void untrackHeld() {
            for (Permit p : held) {
                untrack(p);
            }
        }

        /** Ends the parts in reverse order; a part that throws does not keep the others held. */
        @Override
        void onEndAfter(Outcome outcome, Throwable cause) {
            owner.inUse.decrement();
            Throwable failure = null;
            for (int i = held.length - 1; i >= 0; i--) {
                try {
                    Permits.endAfter(held[i], outcome, cause);
                } catch (RuntimeException | Error e) {   // end the others anyway, then report
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            if (failure instanceof RuntimeException) {
                throw (RuntimeException) failure;
            } else if (failure != null) {
                throw (Error) failure;
            }
        }

        @Override
        public String toString() {
            return "Permit(" + owner + (isReleased() ? ", released)" : ")");
        }
    }
}
