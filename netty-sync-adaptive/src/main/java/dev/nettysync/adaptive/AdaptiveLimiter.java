package dev.nettysync.adaptive;

import com.netflix.concurrency.limits.Limit;
import com.netflix.concurrency.limits.limit.WindowedLimit;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.internal.MappedWait;
import dev.nettysync.limit.AbstractPermit;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.LongSupplier;

/**
 * A concurrency limit that finds itself: the number of permits is set, and moved while in use,
 * by one of Netflix concurrency-limits' algorithms ({@link com.netflix.concurrency.limits.Limit}:
 * Vegas, Gradient2, AIMD, or any other) from the latency and the drops of the work it admits;
 * the wait in front of it is netty-sync's FIFO, cancellable, timed, non-blocking queue.
 *
 * <pre>{@code
 * AdaptiveLimiter backend = AdaptiveLimiter.builder()
 *         .algorithm(AdaptiveAlgorithm.VEGAS)
 *         .initialLimit(20).minLimit(2).maxLimit(200)
 *         .maxPending(1_000)
 *         .build();                                 // shared by all event loops
 *
 * backend.withPermit(ctx.executor(), 2, TimeUnit.SECONDS, () -> client.call(request))
 *        .addListener(f -> ctx.writeAndFlush(f.isSuccess() ? ok(f.getNow()) : unavailable(f.cause())));
 * }</pre>
 *
 * <h2>Contract</h2>
 * Everything {@link AsyncLimiter} promises (thread-safe and never blocking; futures belong to the
 * executor the caller names; FIFO; grants are final; no user code under internal locks), and:
 * <ul>
 *   <li><b>What a permit measures.</b> A permit records when it was granted (not when it was
 *       asked for: time in this limiter's queue is not the backend's latency) and how many
 *       permits were in use at that moment. Ending it gives the permit back and reports one
 *       sample: {@link Permit#release()} a latency ({@code rtt} = now &minus; grant time),
 *       {@link Permit#releaseDropped()} a drop (every shipped algorithm shrinks on it except
 *       Gradient2, which ignores drops in 0.5.4), {@link Permit#releaseIgnored()} nothing at all.
 *       Samples reach the algorithm aggregated per {@linkplain Builder#sampleWindow window}
 *       (100 ms by default). A client that goes away, a cancelled call, a permit granted to a
 *       wait that had just been cancelled: all {@code releaseIgnored}, so a burst of client-side
 *       cancels never collapses the limit. ({@link #withPermit} ends the permit with
 *       {@code releaseIgnored} when the action's future is cancelled, {@code releaseDropped}
 *       when it fails with a {@code TimeoutException} or {@code RejectedExecutionException}.)</li>
 *   <li><b>Live resizing.</b> When the algorithm moves its limit, the limit is clamped to
 *       {@code [minLimit, maxLimit]} and applied to the queue at once: growing serves queued
 *       waiters in FIFO order at once; shrinking never revokes a held permit, it only lets fewer
 *       in until enough permits have come back (so {@code inUse} may exceed the new limit for a
 *       while, and never more than the largest limit that was in force). The change is applied
 *       by the thread that ended the permit, after the algorithm has returned (never from
 *       inside the algorithm's own lock; if another thread is applying a change at that
 *       moment, that thread applies this one too), and by the next {@code acquire} if an
 *       algorithm changed its limit by itself. Waiters served by a grow complete on their own
 *       executors, as with any release.</li>
 *   <li><b>Memory bound.</b> At most {@code maxPending} waiters queue; one more fails at once
 *       with a {@link QueueFullException}. Each queued waiter and each held permit is one small
 *       object.</li>
 *   <li><b>Refusals.</b> {@link QueueFullException} (queue full), {@link WaitTimeoutException}
 *       (timed wait expired), {@link ClosedException} (after {@link #close()}).</li>
 *   <li><b>Executors that shut down</b> (as {@link AsyncSemaphore}'s queue, whose section of
 *       that name says more): a timed wait fails with a
 *       {@link java.util.concurrent.RejectedExecutionException} as its executor shuts down; an
 *       untimed one holds nothing once its turn comes, its permit going on to the next waiter,
 *       but its future is never completed, since none of its listeners could run.</li>
 *   <li><b>One algorithm per limiter.</b> The {@code Limit} instance is this limiter's: its
 *       change listener cannot be removed, and samples from another user would move this
 *       limit.</li>
 * </ul>
 *
 * <h2>Memory consistency effects</h2>
 * As {@link AsyncSemaphore}: ending a permit happens-before the successful completion of the
 * acquire that its permit is handed to. A limit change made by the algorithm in a sample
 * happens-before every grant made after the thread that fed the sample applied it.
 *
 * @see AdaptiveAlgorithm
 */
public final class AdaptiveLimiter implements AsyncLimiter {

    /*
     * Implementation notes
     *
     * Parts. One AsyncSemaphore holds the queue and the permit count; one Netflix Limit holds the
     * algorithm. The limiter only glues them: a Permit that samples when it ends, and a
     * reconciliation that keeps the semaphore's size equal to the algorithm's (clamped) limit.
     *
     *     acquire ──> AsyncSemaphore (FIFO queue, size = applied)
     *                    │ grant
     *                    v
     *     AdaptivePermit(start, inflight) ──end──> Limit.onSample ──listener──> target
     *                    │                                                       │
     *                    └── applyLimit(): applied := target, release(+d) / reducePermits(-d)
     *                    └── semaphore.release()   (the permit itself goes back last)
     *
     * Sizes. `target` is the algorithm's latest limit, clamped; its change listener writes it
     * and does nothing else, because Netflix's AbstractLimit calls listeners while holding its
     * own monitor (WindowedLimit: its lock), and a resize completes waiters (user code) that
     * must not run under any lock. `applied` is the size the semaphore has been given.
     * applyLimit() moves applied to target, one thread at a time, without a lock: the drain
     * pattern of reactive streams. A thread increments `wip`; the one that took it from 0 loops,
     * applying release(t - a) or reducePermits(a - t), until it has seen every request made
     * meanwhile (a target written before a request is read by the drainer's next pass). So the
     * semaphore's size moves through applied limits in order and is never more than the largest
     * of them. (Letting each thread CAS `applied` and apply its own difference is simpler and
     * keeps the end result right, but three racing threads can land +5, +7 before -7 and admit
     * more than maxLimit for a moment.) A grow completes waiters inline on the draining thread,
     * and a waiter's listener may end a permit and call applyLimit again: it only increments
     * `wip`, and the drainer's loop takes its change.
     *
     * Order at the end of a permit: sample, then applyLimit() (skipped when nobody is applying
     * and the size is the target: see applyLimitIfNeeded), then give the permit back. If the
     * sample shrank the limit, the permit coming back pays the reduction instead of being handed
     * to the next waiter (unless another thread is draining at that moment: then the reduction
     * lands a moment later and is paid by a later release; held permits are never revoked).
     *
     * Conservation (checked by the tests, at quiescence): available == applied and inUse == 0;
     * at every moment, permits held <= the largest limit applied so far.
     *
     * Waits. A queued semaphore wait is adapted to a Future<Permit> by PermitPromise, whose
     * cancel() asks the semaphore wait first: cancel returns true only if the semaphore wait was
     * still queued, so "a grant is final" carries over. A permit granted to a promise that was
     * completed behind our back (it is a Promise) is ended with releaseIgnored: nothing is lost.
     */

    /** See {@link Builder#sampleWindow(Duration)}. */
    public static final Duration DEFAULT_SAMPLE_WINDOW = Duration.ofMillis(100);

    private static final Duration MAX_SAMPLE_WINDOW = Duration.ofNanos(Long.MAX_VALUE);

    private static final AtomicIntegerFieldUpdater<AdaptiveLimiter> WIP =
            AtomicIntegerFieldUpdater.newUpdater(AdaptiveLimiter.class, "wip");

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(AdaptiveLimiter.class);

    private final AsyncSemaphore semaphore;      // the queue and the count; its own guards
    private final Limit algorithm;               // samples serialized by its own monitor (AbstractLimit)
    private final int minLimit;
    private final int maxLimit;
    private final LongSupplier nanoClock;
    private volatile int target;                 // latest limit of the algorithm, clamped; written by its listener (any thread)
    private volatile int applied;                // size given to the semaphore; written by the thread in applyLimit's loop
    private volatile int wip;                    // applyLimit: 0 = nobody applying, else the requests the drainer has yet to take; via WIP
    private final AtomicInteger inUse = new AtomicInteger(); // permits handed out, not ended; ++ at grant, -- at end
    private volatile boolean sampleFailureLogged; // set once by the first sample that throws (a benign race: maybe twice)

    private AdaptiveLimiter(Builder b, Limit algorithm) {
        this.algorithm = algorithm;
        this.minLimit = b.minLimit;
        this.maxLimit = b.maxLimit;
        this.nanoClock = b.nanoClock;
        int initial = clamp(algorithm.getLimit());
        this.target = initial;
        this.applied = initial;
        this.semaphore = new AsyncSemaphore(initial, b.maxPending);
    }

    /** A builder with the defaults listed on each of its methods. */
    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- AsyncLimiter

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        Objects.requireNonNull(executor, "executor");
        applyLimitIfNeeded();
        return adapt(executor, semaphore.acquire(executor));
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(unit, "unit");
        applyLimitIfNeeded();
        return adapt(executor, semaphore.acquire(executor, timeout, unit));
    }

    @Override
    public Permit tryAcquire() {
        applyLimitIfNeeded();
        return semaphore.tryAcquire() ? newPermit() : null;
    }

    /**
     * {@code limit}: the limit in force (the algorithm's, clamped); {@code inUse}: permits handed
     * out and not yet ended (may exceed {@code limit} for a while after a shrink);
     * {@code available}: free permits now, 0 while a shrink is still being paid off.
     */
    @Override
    public LimiterStatistics statistics() {
        return new LimiterStatistics(applied, inUse.get(),
                Math.max(0, semaphore.availablePermits()), semaphore.queueLength());
    }

    // ---------------------------------------------------------------- own API

    /** The limit in force now: the algorithm's latest limit, clamped to {@code [minLimit, maxLimit]}. */
    public int currentLimit() {
        return applied;
    }

    /**
     * The algorithm this limiter feeds (for its own statistics, e.g. Gradient2's RTTs); a
     * {@link WindowedLimit} around it unless the sample window is zero.
     */
    public Limit algorithm() {
        return algorithm;
    }

    /**
     * Fails every queued waiter and every later acquire with a {@link ClosedException};
     * {@link #tryAcquire()} returns {@code null}. Held permits stay valid and may be ended
     * (their samples still count). Closing twice does nothing.
     */
    public void close() {
        semaphore.close();
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return semaphore.isClosed();
    }

    @Override
    public String toString() {
        return "AdaptiveLimiter{limit=" + applied + ", inUse=" + inUse.get()
                + ", queued=" + semaphore.queueLength() + ", algorithm=" + algorithm + '}';
    }

    // ---------------------------------------------------------------- resizing

    private int clamp(int limit) {
        return Math.max(minLimit, Math.min(maxLimit, limit));
    }

    /** The algorithm's change listener: records the limit, nothing else (its monitor is held). */
    private void onLimitChange(Integer newLimit) {
        target = clamp(newLimit);
    }

    /**
     * {@link #applyLimit()} unless there is nothing to apply: nobody is applying ({@code wip} 0)
     * and the semaphore's size is the target. A thread that has just written {@code target} (in
     * a sample) and then finds both so can stop: a drainer that starts later reads the new
     * target, and one that has finished wrote {@code applied} before this read. Saves the two
     * atomic updates of {@code wip} on every permit's end while the limit holds still.
     */
    private void applyLimitIfNeeded() {
        if (wip != 0 || applied != target) {
            applyLimit();
        }
    }

    /**
     * Moves the semaphore's size to {@code target}; see the notes. One thread at a time does it
     * (the one that finds {@code wip} at zero), the others leave it a note and return: no lock,
     * and the semaphore's size passes only through limits that were applied.
     */
    private void applyLimit() {
        if (WIP.getAndIncrement(this) != 0) {
            return;                              // the thread applying will look again
        }
        int missed = 1;
        for (;;) {
            int a = applied;
            int t = target;
            if (a != t) {
                applied = t;
                if (t > a) {
                    semaphore.release(t - a);        // serves waiters FIFO, at once, on this thread
                } else {
                    semaphore.reducePermits(a - t);  // never revokes; available may go negative
                }
            }
            missed = WIP.addAndGet(this, -missed);
            if (missed == 0) {
                return;
            }
        }
    }

    // ---------------------------------------------------------------- permits

    private AdaptivePermit newPermit() {
        return new AdaptivePermit(nanoClock.getAsLong(), inUse.incrementAndGet());
    }

    private void ended(AdaptivePermit permit, Permit.Outcome outcome) {
        inUse.decrementAndGet();
        try {
            switch (outcome) {
                case SUCCESS -> sample(permit, false);
                case DROPPED -> sample(permit, true);
                case IGNORED -> { }
                default -> throw new AssertionError(outcome);
            }
            applyLimitIfNeeded();
        } finally {
            semaphore.release();
        }
    }

    private void sample(AdaptivePermit permit, boolean dropped) {
        long rtt = Math.max(1, nanoClock.getAsLong() - permit.startNanos);   // Vegas refuses rtt <= 0
        try {
            algorithm.onSample(permit.startNanos, rtt, permit.inflight, dropped);
        } catch (RuntimeException e) {
            // A sample is advice: a faulty algorithm must not cost the caller its release. Logged
            // in full once, then at debug level: it would otherwise log on every release.
            if (!sampleFailureLogged) {
                sampleFailureLogged = true;
                logger.warn("{} threw on a sample (logged once; later failures at debug level); the limit stays at {}",
                        algorithm, applied, e);
            } else {
                logger.debug("{} threw on a sample", algorithm, e);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private Future<Permit> adapt(EventExecutor executor, Future<Void> wait) {
        if (wait.isDone()) {
            if (wait.isSuccess()) {
                return executor.newSucceededFuture(newPermit());
            }
            return (Future<Permit>) (Future<?>) wait;   // failed at once: it carries no value
        }
        PermitPromise promise = new PermitPromise(executor, wait);
        wait.addListener(promise);
        return promise;
    }

    /** A granted admission: samples the algorithm when it ends, then gives the permit back. */
    private final class AdaptivePermit extends AbstractPermit {
        final long startNanos;   // grant time, by the limiter's clock
        final int inflight;      // permits in use at the grant, this one included

        AdaptivePermit(long startNanos, int inflight) {
            this.startNanos = startNanos;
            this.inflight = inflight;
        }

        @Override
        protected void onEnd(Outcome outcome) {
            ended(this, outcome);
        }

        @Override
        public String toString() {
            return "AdaptivePermit{inflight=" + inflight + (isReleased() ? ", ended}" : "}")
                    + " of " + AdaptiveLimiter.this;
        }
    }

    /**
     * The caller's future for a queued wait: completes with a permit when the semaphore grants.
     * Cancelling it cancels the semaphore wait, and succeeds only if that did (see
     * {@link MappedWait}); a permit it cannot take is ended with no sample.
     */
    private final class PermitPromise extends MappedWait<Void, Permit> {
        PermitPromise(EventExecutor executor, Future<Void> wait) {
            super(executor, wait);
        }

        @Override
        protected Permit map(Void granted) {
            return newPermit();
        }

        @Override
        protected void discard(Permit permit) {
            permit.releaseIgnored();     // completed behind our back: give it back, no sample
        }
    }

    // ---------------------------------------------------------------- builder

    /**
     * Builds an {@link AdaptiveLimiter}. Choose the algorithm with {@link #algorithm} (built with
     * this builder's initial, min and max limits) or pass any {@link Limit} with {@link #limit}.
     */
    public static final class Builder {
        private AdaptiveAlgorithm algorithmChoice = AdaptiveAlgorithm.VEGAS;
        private Limit limit;
        private int initialLimit = 20;
        private boolean initialLimitSet;
        private int minLimit = 1;
        private boolean minLimitSet;
        private int maxLimit = 200;
        private boolean maxLimitSet;
        private int maxPending = Integer.MAX_VALUE;
        private LongSupplier nanoClock = System::nanoTime;
        private Duration sampleWindow = DEFAULT_SAMPLE_WINDOW;

        private Builder() {
        }

        /** One of the shipped algorithms, configured from this builder; default {@link AdaptiveAlgorithm#VEGAS}. */
        public Builder algorithm(AdaptiveAlgorithm algorithm) {
            this.algorithmChoice = Objects.requireNonNull(algorithm, "algorithm");
            this.limit = null;
            return this;
        }

        /**
         * Any Netflix {@link Limit}, configured by the caller (its own initial limit is used, so
         * {@link #initialLimit} must not be set too). It must be used by this limiter only.
         */
        public Builder limit(Limit limit) {
            this.limit = Objects.requireNonNull(limit, "limit");
            return this;
        }

        /**
         * The limit before the first sample; default 20, or the nearest bound of
         * {@code [minLimit, maxLimit]} when 20 lies outside it. A value set here must lie inside.
         */
        public Builder initialLimit(int initialLimit) {
            if (initialLimit < 1) {
                throw new IllegalArgumentException("initialLimit must be >= 1, was " + initialLimit);
            }
            this.initialLimit = initialLimit;
            this.initialLimitSet = true;
            return this;
        }

        /** The limit never goes below this, whatever the algorithm says; default 1. */
        public Builder minLimit(int minLimit) {
            if (minLimit < 1) {
                throw new IllegalArgumentException("minLimit must be >= 1, was " + minLimit);
            }
            this.minLimit = minLimit;
            this.minLimitSet = true;
            return this;
        }

        /** The limit never goes above this, whatever the algorithm says; default 200. */
        public Builder maxLimit(int maxLimit) {
            if (maxLimit < 1) {
                throw new IllegalArgumentException("maxLimit must be >= 1, was " + maxLimit);
            }
            this.maxLimit = maxLimit;
            this.maxLimitSet = true;
            return this;
        }

        /** At most this many waiters queue (0: never wait); default unbounded. */
        public Builder maxPending(int maxPending) {
            if (maxPending < 0) {
                throw new IllegalArgumentException("maxPending must be >= 0, was " + maxPending);
            }
            this.maxPending = maxPending;
            return this;
        }

        /**
         * Feeds the algorithm one aggregated sample per window of this length (the average RTT,
         * the largest inflight and "any drop" of at least 10 samples, through Netflix's
         * {@link WindowedLimit}; samples under 100 µs are not counted) instead of every sample;
         * {@link Duration#ZERO} feeds every sample directly. Default 100 ms, the shortest
         * {@code WindowedLimit} accepts.
         *
         * <p>Why a window: under load hundreds of samples arrive within one round trip, all
         * describing the same backend state; fed one by one, Vegas moves its limit by
         * {@code log10(limit)} on each and overshoots in both directions within a single RTT
         * (in this module's simulation it swung between 0.4× and 2× the backend's capacity and
         * lost a quarter of the goodput); with a 100 ms window it settles within a few windows.
         *
         * @throws IllegalArgumentException if negative, between zero and 100 ms, or longer than
         *         {@code Long.MAX_VALUE} nanoseconds (292 years)
         */
        public Builder sampleWindow(Duration window) {
            Objects.requireNonNull(window, "window");
            if (window.isNegative() || (!window.isZero() && window.compareTo(Duration.ofMillis(100)) < 0)) {
                throw new IllegalArgumentException("sampleWindow must be zero or >= 100 ms, was " + window);
            }
            if (window.compareTo(MAX_SAMPLE_WINDOW) > 0) {
                throw new IllegalArgumentException("sampleWindow must be at most " + MAX_SAMPLE_WINDOW
                        + " (Long.MAX_VALUE ns), was " + window);
            }
            this.sampleWindow = window;
            return this;
        }

        /** The clock samples are timed by, in nanoseconds; default {@link System#nanoTime()} (tests and simulations pass their own). */
        public Builder nanoClock(LongSupplier nanoClock) {
            this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
            return this;
        }

        /**
         * @throws IllegalArgumentException if {@code minLimit > maxLimit}, an initial limit set
         *         with {@link #initialLimit} is outside {@code [minLimit, maxLimit]}, or
         *         {@link #initialLimit} was set with a caller's {@link #limit}
         */
        public AdaptiveLimiter build() {
            if (minLimit > maxLimit) {
                throw new IllegalArgumentException("minLimit " + minLimit + " > maxLimit " + maxLimit
                        + (maxLimitSet ? "" : " (the default): set maxLimit too"));   // minLimit was set: its default, 1, fits any maxLimit
            }
            Limit algorithm;
            if (limit != null) {
                if (initialLimitSet) {
                    throw new IllegalArgumentException("initialLimit(" + initialLimit + ") with limit(" + limit
                            + "): a caller's Limit brings its own initial limit (" + limit.getLimit() + ")");
                }
                algorithm = limit;
            } else {
                int initial = initialLimit;
                if (!initialLimitSet) {
                    initial = Math.max(minLimit, Math.min(maxLimit, initial));   // the default fits any bounds
                } else if (initial < minLimit || initial > maxLimit) {
                    throw new IllegalArgumentException("initialLimit " + initial + " outside [minLimit "
                            + minLimit + (minLimitSet ? "" : " (the default)") + ", maxLimit " + maxLimit
                            + (maxLimitSet ? "" : " (the default)") + "]");
                }
                algorithm = algorithmChoice.create(initial, minLimit, maxLimit);
            }
            if (!sampleWindow.isZero()) {
                long nanos = sampleWindow.toNanos();
                algorithm = WindowedLimit.newBuilder()
                        .minWindowTime(nanos, TimeUnit.NANOSECONDS)
                        .maxWindowTime(nanos, TimeUnit.NANOSECONDS)
                        .build(algorithm);
            }
            AdaptiveLimiter limiter = new AdaptiveLimiter(this, algorithm);
            algorithm.notifyOnChange(limiter::onLimitChange);   // after construction: no escape of `this`
            limiter.onLimitChange(algorithm.getLimit());        // a change between the two is not lost
            return limiter;
        }
    }
}
