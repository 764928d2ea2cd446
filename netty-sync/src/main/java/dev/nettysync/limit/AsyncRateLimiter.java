package dev.nettysync.limit;

import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.internal.Checks;
import dev.nettysync.internal.Promises;
import dev.nettysync.internal.Timers;
import dev.nettysync.internal.WaitQueue;
import dev.nettysync.internal.Waiter;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.concurrent.Ticker;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A rate limit with bursts: at most {@code burst + rate × t} permits are admitted in any window
 * of length {@code t}, and waiters are admitted in FIFO order at the earliest time the rate
 * allows, without a thread or a timer of its own.
 *
 * <pre>{@code
 * AsyncRateLimiter perClient = AsyncRateLimiter.perSecond(100, 20);   // 100/s, bursts of 20
 *
 * long retryAfter = perClient.tryAcquireNanos(1);        // 0: admitted
 * if (retryAfter != 0) {
 *     respond(429, "Retry-After", RateLimitedException.ceilSeconds(retryAfter));
 * }
 * }</pre>
 *
 * <h2>Threads and executors</h2>
 * Thread-safe, never blocking; one limiter may be shared by every event loop and plain thread.
 * {@code tryAcquire} is one compare-and-set while nobody waits (while waiters are queued it
 * refuses under the limiter's lock). A waiter is completed at its
 * reserved time by a timer scheduled on <b>its own executor</b> (the one passed to
 * {@code acquire}); its listeners run there. At most one such timer exists at a time (for the
 * head of the queue), plus the timeout timer of each timed waiter; <b>an idle limiter has no
 * timer</b> and no thread. Time is read from a {@link Ticker} ({@link Ticker#systemTicker()},
 * i.e. {@code System.nanoTime()}, unless the builder is given another).
 *
 * <h2>Fairness</h2>
 * Strictly FIFO. While anyone waits, {@code tryAcquire} refuses and new waiters queue behind,
 * even a small request that would fit before a large one at the head. Each waiter has a
 * reserved time, the earliest at which the rate admits it after everyone ahead of it; a later
 * waiter never overtakes an earlier one.
 *
 * <h2>How a wait ends</h2>
 * <ul>
 *   <li>granted, at (or, by timer latency, shortly after) its reserved time;</li>
 *   <li>cancelled ({@code future.cancel(false)}) while queued: the reservation is given back at
 *       once and every later waiter's reserved time moves earlier by the cancelled permits, so
 *       the capacity is neither lost nor given twice;</li>
 *   <li>refused at once with a {@link RateLimitedException} carrying the time until admission
 *       would be possible, by a timed {@code acquire} whose reserved time lies beyond its
 *       timeout (waiting would only end in a timeout); {@code tryAcquire} refuses with
 *       {@code null} instead, and {@link #tryAcquireNanos} returns that time;</li>
 *   <li>with a {@link WaitTimeoutException}, holding nothing, if its reserved time moved past
 *       the timeout after it queued (a grant ahead of it was delayed by more than the burst's
 *       slack, see the notes);</li>
 *   <li>refused with a {@link QueueFullException} when {@code maxPending} waiters are queued;</li>
 *   <li>with a {@link java.util.concurrent.RejectedExecutionException} if its executor shuts
 *       down while it waits (or is shutting down when it would wait): a shutting-down
 *       executor cancels its timers, so the wait could not be admitted at its time. If it is
 *       (or becomes) the head, it leaves at once, reserving nothing, and the next head is
 *       timed on its own executor, so the waiters behind it are not stalled. If another pass
 *       grants it first (its time came during someone else's acquire), the grant is refused as
 *       on {@link dev.nettysync.AsyncSemaphore} ("Executors that shut down"), and the next
 *       waiters are served; the rate it was admitted at is spent, not given back (a bucket
 *       cannot take back an admission once others may have been admitted after it; the rate
 *       falls short by that one admission, nothing more). The same residual race as there. A
 *       timed waiter behind the head does not wait to become the head: the shutdown cancels
 *       its timeout too, and it leaves then, as at its timeout (the waiters behind it move
 *       earlier).</li>
 * </ul>
 * Requests for more permits than the burst can never be admitted and throw
 * {@link IllegalArgumentException} at once, from every method.
 *
 * <h2>Permits</h2>
 * A rate is spent at admission: a permit of this limiter gives nothing back, so all its release
 * methods only mark it ended, and it is not tracked for leaks (dropping it loses nothing).
 * {@link #statistics()} reports {@code limit = burst}, {@code inUse = 0}, {@code available} =
 * whole permits in the bucket now.
 *
 * <h2>Precision</h2>
 * Integer nanoseconds throughout: the interval between permits is {@code period / permits}
 * rounded to the nearest nanosecond (so 3 per second is one per 333,333,333 ns: the rate is
 * exact within 0.5 ns per permit, a relative error below 10<sup>-4</sup> up to 5,000 permits
 * per millisecond).
 *
 * <h2>Memory consistency effects</h2>
 * Admissions are totally ordered by the limiter's state word; actions before a successful
 * {@code tryAcquire} or grant happen-before the next admission's decision.
 */
public final class AsyncRateLimiter implements AsyncLimiter {


    /*
     * Implementation notes
     *
     * Algorithm: GCRA (the generic cell rate algorithm, a token bucket expressed in time).
     *   T   = interval: nanoseconds per permit
     *   tau = tolerance = burst × T
     *   tat = "theoretical arrival time" of the bucket: the bucket is full when tat <= now and
     *         holds (now + tau - tat) / T permits otherwise.
     * Admitting n permits at time now is allowed iff  max(tat, now) + n·T - tau <= now,  and sets
     * tat = max(tat, now) + n·T. The new tat never exceeds now + tau, so over any window
     * [t1, t2] at most burst + (t2 - t1) / T permits are admitted (the test checks this bound).
     * Times are nanoseconds since the limiter's creation (origin), so tat >= 0.
     *
     * State. One volatile word: (tat << 1) | QUEUED. tat counts only admitted permits; queued
     * reservations are NOT in it. While QUEUED is clear the fast path (tryAcquire, acquire
     * with nobody waiting) CASes the word; QUEUED is set and cleared only under the queue's
     * monitor, and while it is set only monitor holders write the word (plain volatile writes).
     *
     * Queue. The library's one wait queue (dev.nettysync.internal.WaitQueue): waiters are
     * Waiter subclasses (RateWaiter: the promise and the node at once), its object is the
     * monitor that guards everything below, and its Policy is this limiter's grant pass
     * (serveLocked). What the queue does not know is kept here, under the monitor: the sum of
     * the queued permits (queuedPermits), the waiter the head timer was armed for (armedFor)
     * and the timer still to be scheduled (toArm).
     *
     * Reservations. A waiter's reserved time is not stored: it is
     *     due(k) = tat + (n1 + ... + nk)·T - tau
     * for the k-th waiter. Because it is derived, a cancel or timeout in the middle needs no
     * re-timing: removing waiter j subtracts nj from the prefix sums of everyone behind it, so
     * all of them move earlier by nj·T at once, and nobody ahead moves. This is exactly the
     * schedule they would have had if j had never asked: the rate is neither exceeded nor left
     * unused because of the cancel.
     *
     *      tat                  due(1)      due(2)            due(3)
     *   ───┼───────────────────────┼───────────┼─────────────────┼────▶ time
     *      │◀──────── n1·T - tau + ... ───────▶│ cancel #2: due(3) moves to due(3) - n2·T
     *
     * Grant pass (pollDue, under the monitor): while the head is due (due(1) <= now), grant it
     * (WaitQueue.grantFirst: the unlink is the decision, so cancel() returns false from here)
     * and admit it at the actual time by the GCRA rule above; clear QUEUED when the queue
     * empties. The queue completes the granted chain after the monitor is dropped, each waiter
     * on its own executor; a waiter completed behind the limiter's back, or whose executor has
     * shut down, refuses its grant, and the queue then calls the policy again (the rate was
     * spent: nothing is taken back; giving back n·T to tat later would overdraw the bucket if
     * admissions clamped at `now` came in between).
     *
     * Timers. Only the head's reserved time matters until it is granted, and it cannot change while
     * it is the head (tat changes only by admissions, which cannot happen while QUEUED except by
     * granting the head). So one timer is armed, on the head's own executor, for the head's due
     * time. Invariant at the end of every critical section: armedFor == head (null once the queue
     * is empty, so no finished waiter is kept). armIfNeeded (under the monitor) names the head in
     * armedFor and toArm; every path that ends a critical section (acquire, the head timer, cancel,
     * timeout, and the queue's completion, which may call the policy) then calls armPending, which
     * takes toArm under the monitor and schedules the timer after dropping it: whoever takes it
     * schedules it, and a head that left meanwhile is no longer in toArm. The timer runs a grant
     * pass and arms for the new head. A timer that fires for a waiter that is no longer the head
     * only runs a harmless pass; one that fires early re-arms. One published after its waiter left
     * is cancelled by the thread that published it (it rechecks, under the monitor, that the waiter
     * is still queued); a granted waiter drops its own timer when it is completed (grantedValue), a
     * cancelled or timed-out one when it leaves. A waiter whose executor cannot schedule (an
     * ImmediateEventExecutor, or one shutting down: armHeadTimer refuses it, since a shutdown
     * cancels every scheduled task) ends with that failure and the next head is armed, in
     * armPending's loop rather than by recursion.
     *
     * Executors that shut down under a head. The head's timer is the only thing that will run
     * a grant pass; an executor that starts shutting down after it was armed cancels it (Netty
     * cancels all scheduled tasks as it shuts down, and notifies the cancellation on that
     * executor's thread, inline). A listener on the timer sees that: a timer cancelled while
     * its waiter is still queued was not cancelled by us (we cancel only once it has left), so
     * the head leaves with a RejectedExecutionException, as in armPending, and the next head is
     * armed on its own executor (onHeadTimerCancelled). Without it, nothing would run a pass
     * until the next acquire, cancel or timeout: tryAcquire refusing and the waiters behind
     * stalled. Cost: the listener, and its notification task when a grant or leave cancels the
     * timer from another thread, once per head, on the waiting path only. Residual race: a
     * timer scheduled from another thread whose scheduling task the executor drops unrun at
     * termination (Netty logs "terminated with non-empty task queue") is neither run nor
     * cancelled; the next acquire, cancel or timeout then serves the queue. A timed waiter
     * anywhere in the queue is also ended by its timeout timer's cancellation (Waiter's
     * listener, see WaitQueue "Timers that die with their executor"): end(), so leave() with
     * a grant pass first, as for a timeout; for a head, whichever of the two listeners comes
     * first makes it leave, the other finds it gone.
     *
     * Timer latency. A grant made late by d nanoseconds admits at the actual time: if the
     * bucket had slack (tat > now, i.e. d < tau - n·T), tat is unchanged and later waiters keep
     * their times; a longer delay shifts the later reservations by the excess, as a bucket that
     * cannot hold more than `burst` must (otherwise a stalled executor would release a burst
     * larger than `burst`). Choose burst > 1 when the rate must be met despite timer jitter.
     *
     * Leaving. RateWaiter overrides Waiter.cancel and Waiter.end (the timeout) with this
     * limiter's protocol, leave(): under the monitor, a timeout first runs a grant pass (so a
     * waiter due at its deadline is granted, not timed out); then the waiter is taken out with
     * WaitQueue.remove, which succeeds once and never after a grant, its permits are subtracted
     * from queuedPermits (everyone behind moves earlier), and a grant pass serves the new head
     * if it is now due. A timeout is thus claimed under the monitor like a grant: a racing
     * cancel() returns false. A timed acquire whose reserved time is beyond its timeout is
     * refused at once with the time it would have needed; otherwise the waiter's own timeout
     * timer (Waiter's, on its executor) ends it if it is still queued.
     */

    private static final long QUEUED = 1L;
    private static final long MAX_TOLERANCE = 1L << 60;   // tat + tau stays far from overflow

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(AsyncRateLimiter.class, "state", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through STATE too
    private volatile long state;           // (tat << 1) | QUEUED: CAS while QUEUED is clear, else monitor holders only

    private final WaitQueue<RateWaiter> queue;   // the waiters; its object is the monitor
    private long queuedPermits;            // monitor: sum of the permits of queued waiters
    private RateWaiter armedFor;           // monitor: the waiter a head timer was armed for
    private RateWaiter toArm;              // monitor: a head whose timer is still to be scheduled, or null
    private long toArmDue;                 // monitor: toArm's reserved time

    private final long interval;           // T: nanoseconds per permit, >= 1
    private final long tolerance;          // tau = burst * T
    private final int burst;
    private final int maxPending;
    private final Ticker ticker;
    private final long origin;             // ticker time of creation: times are relative to it

    private AsyncRateLimiter(Builder b) {
        this.interval = b.interval;
        this.burst = b.burst;
        this.tolerance = b.burst * b.interval;
        this.maxPending = b.maxPending;
        this.ticker = b.ticker;
        this.origin = ticker.nanoTime();
        this.queue = new WaitQueue<>(this, this::serveLocked);
    }

    /**
     * A limiter admitting {@code permitsPerSecond} permits per second with bursts of up to
     * {@code burst}, starting full; waiters are not bounded in number.
     *
     * @throws IllegalArgumentException if either is less than 1, or the rate is above
     *         2·10<sup>9</sup>/s, whose interval rounds to less than 1 ns (up to that, the interval
     *         rounds to 1 ns: rates between 10<sup>9</sup>/s and 2·10<sup>9</sup>/s are admitted at
     *         10<sup>9</sup>/s; see "Precision")
     */
    public static AsyncRateLimiter perSecond(long permitsPerSecond, int burst) {
        return builder(permitsPerSecond, Duration.ofSeconds(1)).burst(burst).build();
    }

    /**
     * A builder for a limiter admitting {@code permits} per {@code period} (e.g. 30 per minute).
     * The burst defaults to 1 (no bursts); the bucket starts full.
     *
     * @throws IllegalArgumentException if {@code permits < 1}, or the period is not positive, or
     *                                  the resulting interval is below 1 ns
     */
    public static Builder builder(long permits, Duration period) {
        return new Builder(permits, period);
    }

    /** Configuration of an {@link AsyncRateLimiter}. Not thread-safe. */
    public static final class Builder {
        private final long interval;
        private int burst = 1;
        private int maxPending = Integer.MAX_VALUE;
        private Ticker ticker = Ticker.systemTicker();

        private Builder(long permits, Duration period) {
            if (permits < 1) {
                throw new IllegalArgumentException("permits must be >= 1, was " + permits);
            }
            Objects.requireNonNull(period, "period");
            if (period.isNegative() || period.isZero()) {
                throw new IllegalArgumentException("period must be positive, was " + period);
            }
            long periodNanos;
            try {
                periodNanos = period.toNanos();
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("period too long: " + period);
            }
            long rest = periodNanos % permits;                 // rounded to the nearest ns, half up,
            long t = periodNanos / permits + (rest >= permits - permits / 2 ? 1 : 0);   // without overflow
            if (t < 1) {
                throw new IllegalArgumentException(
                        permits + " permits per " + period + " is more than one per nanosecond");
            }
            this.interval = t;
        }

        /** Permits that may be admitted at once after an idle period (the bucket size), >= 1. */
        public Builder burst(int burst) {
            this.burst = Checks.atLeast(burst, 1, "burst");
            return this;
        }

        /** At most this many waiters are queued; more fail with {@link QueueFullException}. */
        public Builder maxPending(int maxPending) {
            this.maxPending = Checks.atLeast(maxPending, 0, "maxPending");
            return this;
        }

        /** The time source (tests pass a mock ticker); defaults to {@code System.nanoTime()}. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /** @throws IllegalArgumentException if burst × interval exceeds 2<sup>60</sup> ns */
        public AsyncRateLimiter build() {
            if (interval > MAX_TOLERANCE / burst) {
                throw new IllegalArgumentException("burst " + burst + " x interval " + interval
                        + " ns exceeds 2^60 ns");
            }
            return new AsyncRateLimiter(this);
        }
    }

    // ---------------------------------------------------------------- admitting

    /** Admits one permit now, or returns {@code null}; see {@link #tryAcquireNanos(int)}. */
    @Override
    public Permit tryAcquire() {
        return tryAcquire(1);
    }

    /**
     * Admits {@code permits} now, or returns {@code null} (nothing taken).
     *
     * @throws IllegalArgumentException if {@code permits} is not in {@code 1..burst}
     */
    public Permit tryAcquire(int permits) {
        long r = tryTakeOrRefuse(cost(permits));
        return r <= -2 ? new RatePermit(admittedAt(r)) : null;
    }

    /**
     * Admits {@code permits} now if the rate allows and nobody is queued; otherwise takes
     * nothing and says how long until it could be admitted. Allocates nothing: the form for hot
     * paths that need no {@link Permit}, and for an HTTP {@code Retry-After} (whole seconds:
     * {@link RateLimitedException#ceilSeconds(long)}).
     *
     * @return {@code 0} if admitted; otherwise the nanoseconds (&ge; 1) after which an admission
     *         of this size would be possible if nobody else took the capacity meanwhile
     * @throws IllegalArgumentException if {@code permits} is not in {@code 1..burst}
     */
    public long tryAcquireNanos(int permits) {
        long r = tryTakeOrRefuse(cost(permits));
        return r > 0 ? r : 0;
    }

    /**
     * How long until {@code permits} could be admitted, without taking anything: 0 if
     * {@link #tryAcquire(int)} would succeed now.
     */
    public long retryAfterNanos(int permits) {
        long cost = cost(permits);
        synchronized (queue) {
            long now = now();
            long s = state;
            if ((s & QUEUED) == 0) {
                return Math.max(0, Math.max(s >>> 1, now) + cost - tolerance - now);
            }
            return retryAfterLocked(cost, now);
        }
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        return acquire0(executor, 1, -1);
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return acquire0(executor, 1, WaitQueue.toNanos(timeout, unit));
    }

    /**
     * Waits, in FIFO order, until {@code permits} can be admitted.
     *
     * @throws IllegalArgumentException if {@code permits} is not in {@code 1..burst}
     */
    public Future<Permit> acquire(EventExecutor executor, int permits) {
        return acquire0(executor, permits, -1);
    }

    /**
     * Waits, in FIFO order, until {@code permits} can be admitted, for at most {@code timeout}.
     * If the reserved time is already beyond the timeout, fails at once with a
     * {@link RateLimitedException} (holding nothing, reserving nothing).
     *
     * @throws IllegalArgumentException if {@code permits} is not in {@code 1..burst}
     */
    public Future<Permit> acquire(EventExecutor executor, int permits, long timeout, TimeUnit unit) {
        return acquire0(executor, permits, WaitQueue.toNanos(timeout, unit));
    }

    @Override
    public LimiterStatistics statistics() {
        long now = now();
        long tat = state >>> 1;
        long available = tat <= now ? burst : Math.max(0, (now + tolerance - tat) / interval);
        return new LimiterStatistics(burst, 0, available, queue.size());
    }

    /** The configured burst (bucket size). */
    public int burst() {
        return burst;
    }

    /** Nanoseconds between two permits at the configured rate. */
    public long intervalNanos() {
        return interval;
    }

    /** Waiters queued now. */
    public int queueLength() {
        return queue.size();
    }

    // ---------------------------------------------------------------- internals

    private long now() {
        return ticker.nanoTime() - origin;
    }

    private long cost(int permits) {
        if (permits < 1 || permits > burst) {
            throw new IllegalArgumentException("permits must be in 1.." + burst
                    + " (the burst; more could never be admitted), was " + permits);
        }
        return permits * interval;
    }

    /**
     * The fast path: admits {@code cost} now if nobody is queued. The time is read after the
     * state word, so a refusal or an admission is decided at one instant (linearizable: an
     * earlier time with a later state would refuse what a sequential order admits).
     *
     * @return the wait (&ge; 1) if the rate refuses; {@link #QUEUED_RESULT} if waiters are
     *         queued; otherwise the admission, encoded by {@link #admitted(long)}
     */
    private long tryTake(long cost) {
        for (;;) {
            long s = state;
            if ((s & QUEUED) != 0) {
                return QUEUED_RESULT;
            }
            long now = now();
            long newTat = Math.max(s >>> 1, now) + cost;
            long wait = newTat - tolerance - now;
            if (wait > 0) {
                return wait;
            }
            if (STATE.compareAndSet(this, s, newTat << 1)) {
                return admitted(now);
            }
        }
    }

    private static final long QUEUED_RESULT = -1;

    /** tryTake's result for an admission at {@code now} (>= 0): a value <= -2. */
    private static long admitted(long now) {
        return -2 - now;
    }

    /** The admission time of a tryTake result <= -2. */
    private static long admittedAt(long result) {
        return -2 - result;
    }

    /**
     * tryTake, and if waiters are queued, the refusal decided under the monitor: a grant pass that
     * empties the queue holds the monitor while QUEUED is still set, and a refusal seen through that
     * intermediate state would not be linearizable (Lincheck found it: a tryAcquire after the
     * pass, at a later time, must see the pass's result).
     *
     * @return as tryTake, never QUEUED_RESULT
     */
    private long tryTakeOrRefuse(long cost) {
        long r = tryTake(cost);
        if (r != QUEUED_RESULT) {
            return r;
        }
        synchronized (queue) {
            r = tryTake(cost);                  // QUEUED changes only under the monitor
            return r != QUEUED_RESULT ? r : retryAfterLocked(cost, now());
        }
    }

    /** The wait of a request of {@code cost} that would queue behind everyone now. Monitor. */
    private long retryAfterLocked(long cost, long now) {
        long tat = state >>> 1;
        long due = tat + mulSat(queuedPermits, interval) + cost - tolerance;
        return Math.max(1, due - now);
    }

    private Future<Permit> acquire0(EventExecutor executor, int permits, long timeoutNanos) {
        Objects.requireNonNull(executor, "executor");
        long cost = cost(permits);
        long r = tryTake(cost);
        if (r <= -2) {
            return executor.newSucceededFuture(new RatePermit(admittedAt(r)));
        }
        if (r > 0 && timeoutNanos >= 0 && r > timeoutNanos) {
            return executor.newFailedFuture(rateLimited(permits, r));
        }
        RateWaiter w = null;
        RateWaiter granted = null;
        Throwable refusal = null;
        long now;
        synchronized (queue) {
            for (;;) {
                now = now();
                long s = state;
                long wait;
                if ((s & QUEUED) == 0) {
                    long newTat = Math.max(s >>> 1, now) + cost;
                    wait = newTat - tolerance - now;
                    if (wait <= 0) {
                        if (STATE.compareAndSet(this, s, newTat << 1)) {
                            break;                          // admitted, w == null
                        }
                        continue;
                    }
                } else {
                    wait = retryAfterLocked(cost, now);
                }
                if (timeoutNanos >= 0 && wait > timeoutNanos) {
                    refusal = rateLimited(permits, wait);
                    break;
                }
                if (queue.size() >= maxPending) {
                    refusal = new QueueFullException(maxPending + " waiters already queued for "
                            + this + "; refused a request for " + permits + " permit(s)");
                    break;
                }
                if ((s & QUEUED) == 0 && !STATE.compareAndSet(this, s, s | QUEUED)) {
                    continue;                               // a fast path moved tat: recompute
                }
                w = new RateWaiter(executor, this, permits);
                queue.enqueue(w);
                queuedPermits += permits;
                serveLocked(now);
                granted = queue.takeChain();
                break;
            }
        }
        if (refusal != null) {
            return executor.newFailedFuture(refusal);
        }
        if (w == null) {
            return executor.newSucceededFuture(new RatePermit(now));
        }
        complete(granted);
        if (!w.isDone()) {                        // not granted in the same critical section
            queue.armTimer(w, timeoutNanos);
        }
        return w;
    }

    private RateLimitedException rateLimited(int permits, long wait) {
        return new RateLimitedException("rate limit of " + this + ": " + permits
                + " permit(s) could be admitted in " + wait + " ns", wait);
    }

    /** The queue's Policy: a grant pass now, and the head's timer named. Monitor. */
    private void serveLocked() {
        serveLocked(now());
    }

    private void serveLocked(long now) {
        pollDue(now);
        armIfNeeded(now);
    }

    /** Grants every waiter at the head whose reserved time has come, in order. Monitor. */
    private void pollDue(long now) {
        RateWaiter h;
        while ((h = queue.peekFirst()) != null) {
            long tat = state >>> 1;
            long cost = h.permits * interval;
            if (tat + cost - tolerance > now) {
                break;
            }
            queuedPermits -= h.permits;
            if (armedFor == h) {
                armedFor = null;
            }
            if (queue.grantFirst()) {
                // Admit before QUEUED is cleared: while it is set the word is ours.
                state = ((Math.max(tat, now) + cost) << 1) | QUEUED;
                h.admittedAt = now;
            }                            // else completed behind our back (cast to Promise): skipped
        }
        clearQueuedIfEmpty();
    }

    /** Clears QUEUED once the queue is empty: from then on fast paths may CAS the word again. Monitor. */
    private void clearQueuedIfEmpty() {
        if (queue.isEmpty() && (state & QUEUED) != 0) {
            state = state & ~QUEUED;
        }
    }

    /** Names the head for a timer if it has none. Monitor. */
    private void armIfNeeded(long now) {
        RateWaiter h = queue.peekFirst();
        if (h != null && armedFor != h) {
            armedFor = h;
            toArm = h;
            toArmDue = (state >>> 1) + h.permits * interval - tolerance;
        }
    }

    /** After a critical section: completes the granted chain, then schedules the head timer. No monitor. */
    private void complete(RateWaiter granted) {
        queue.completeGranted(granted);
        armPending();
    }

    /**
     * Schedules the head timer named by the last critical sections, if any. No monitor. A loop,
     * not recursion: a waiter whose executor cannot schedule leaves, and the next head is armed.
     */
    private void armPending() {
        for (;;) {
            RateWaiter h;
            long delay;
            synchronized (queue) {
                h = toArm;
                if (h == null) {
                    return;
                }
                toArm = null;
                delay = Math.max(0, toArmDue - now());
            }
            try {
                h.armHeadTimer(delay);
            } catch (RuntimeException e) {
                // Its executor cannot time (ImmediateEventExecutor) or is shutting down: the
                // waiter cannot be completed at its time, so it ends with that failure.
                if (leave(h, true, false)) {  // armed by this loop, not by recursion
                    h.completeFailed(e);
                }
            }
        }
    }

    /**
     * The head timer of {@code h} was cancelled, on h's executor. Ours are cancelled only once
     * h has left the queue; one cancelled while h is still queued was cancelled by its
     * executor, which cancels every scheduled task as it shuts down, and would otherwise
     * leave the queue with no grant pass due (tryAcquire refusing, the waiters behind stalled)
     * until the next acquire, cancel or timeout. Then h leaves with a
     * RejectedExecutionException and the next head is armed on its own executor.
     */
    private void onHeadTimerCancelled(RateWaiter h) {
        synchronized (queue) {
            if (!queue.contains(h)) {
                return;                   // granted or left: we cancelled it
            }
        }
        if (h.waiterExecutor().isShuttingDown()) {
            if (leave(h, true)) {         // a grant pass first, as for a timeout
                h.completeFailed(h.cannotBeTimed());
            }
            return;
        }
        RateWaiter granted;
        synchronized (queue) {            // not by a shutdown (nothing else cancels it): re-arm
            if (armedFor == h) {
                armedFor = null;
            }
            serveLocked();
            granted = queue.takeChain();
        }
        complete(granted);
    }

    /** The head timer fired on {@code h}'s executor. */
    private void onHeadTimer(RateWaiter h) {
        RateWaiter granted;
        synchronized (queue) {
            if (h != null && armedFor == h) {
                armedFor = null;          // consumed: a head not yet due (early timer) is re-armed
            }
            serveLocked();
            granted = queue.takeChain();
        }
        complete(granted);
    }

    /**
     * Cancel or timeout of {@code w}: takes it out of the queue if it is still there (the
     * decision: the caller then completes it), serves whoever is now due and arms the timer.
     */
    private boolean leave(RateWaiter w, boolean timeout) {
        return leave(w, timeout, true);
    }

    /**
     * As {@link #leave(RateWaiter, boolean)}; {@code arm} is false from {@link #armPending}'s own
     * loop (a head whose executor cannot time it), which arms the next head itself.
     */
    private boolean leave(RateWaiter w, boolean timeout, boolean arm) {
        RateWaiter granted;
        boolean left;
        synchronized (queue) {
            left = leaveLocked(w, timeout);
            granted = queue.takeChain();
        }
        if (left) {
            w.cancelHeadTimer();
        }
        queue.completeGranted(granted);
        if (arm) {
            armPending();
        }
        return left;
    }

    private boolean leaveLocked(RateWaiter w, boolean timeout) {
        long now = now();
        if (timeout) {
            pollDue(now);                 // a waiter due at its deadline is granted, not timed out
        }
        boolean left = queue.remove(w);
        if (left) {
            queuedPermits -= w.permits;   // everyone behind moves earlier by w's permits
            if (armedFor == w) {
                armedFor = null;
            }
            pollDue(now);                 // the new head may already be due
        }
        armIfNeeded(now);
        return left;
    }

    private static long mulSat(long a, long b) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        return (hi == 0 && lo >= 0) ? lo : Long.MAX_VALUE / 4;
    }

    /**
     * Checks the invariants of the notes under the monitor; returns a description of the first
     * broken one, or {@code null}. For tests.
     */
    String brokenInvariant() {
        synchronized (queue) {
            long s = state;
            long now = now();
            RateWaiter head = queue.peekFirst();
            if (((s & QUEUED) != 0) != (head != null)) {
                return "QUEUED flag " + ((s & QUEUED) != 0) + " but head " + head;
            }
            int n = 0;
            long sum = 0;
            for (RateWaiter w = head; w != null; w = queue.nextOf(w)) {
                n++;
                sum += w.permits;
            }
            if (n != queue.size() || sum != queuedPermits) {
                return "queue of " + n + " waiters / " + sum + " permits, but size " + queue.size()
                        + " / " + queuedPermits;
            }
            if (armedFor != head) {
                return (head != null ? "queued head without a timer" : "nobody queued, but a timer's waiter kept")
                        + ": armedFor " + armedFor;
            }
            if ((s >>> 1) > now + tolerance) {
                return "bucket overdrawn: tat " + (s >>> 1) + " > now " + now + " + tau " + tolerance;
            }
            return null;
        }
    }

    /** Runs a grant pass as a stale timer would (arming the head's timer if it has none). For tests. */
    void grantDue() {
        onHeadTimer(null);
    }

    /** The theoretical arrival time, relative to creation. For tests. */
    long tatNanos() {
        return state >>> 1;
    }

    @Override
    public String toString() {
        return "AsyncRateLimiter(" + (1_000_000_000.0 / interval) + "/s, burst " + burst + ")";
    }

    // ---------------------------------------------------------------- waiter and permit

    /**
     * A queued acquire: the promise returned to the caller and the node of the queue. It leaves
     * by the limiter's protocol (see "Leaving" in the notes):
     * <pre>
     *   QUEUED ──grant pass (grantFirst; monitor)──▶ GRANTED ──after the monitor──▶ SUCCESS
     *     │
     *     ├──cancel(): leave (monitor), then cancel the promise ───────────────▶ CANCELLED
     *     └──timeout: grant pass, then leave (monitor) ──after the monitor──────▶ TIMED OUT
     * </pre>
     */
    static final class RateWaiter extends Waiter<Permit> {
        private final AsyncRateLimiter limiter;
        final int permits;
        long admittedAt;                              // written by the granter under the monitor, read by it after
        private volatile ScheduledFuture<?> headTimer; // written by the thread that armed it

        RateWaiter(EventExecutor executor, AsyncRateLimiter limiter, int permits) {
            super(executor, limiter.queue);
            this.limiter = limiter;
            this.permits = permits;
        }

        @Override
        protected String describeWait() {
            return permits + " permit(s) of " + limiter;
        }

        /**
         * The permit of a grant. Called once per grant, after the monitor is dropped, just before
         * the completion: the head timer, moot from now on, is dropped here too (as
         * {@link Waiter#completeGranted} drops the timeout).
         */
        @Override
        protected Permit grantedValue(int index) {
            cancelHeadTimer();
            return new RatePermit(admittedAt);
        }

        /**
         * Leaves the queue (the reservation is given back: later waiters move earlier) unless
         * already granted or timed out; then that outcome stands and this returns {@code false}.
         */
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (isDone() || !limiter.leave(this, false)) {
                return false;
            }
            return completeCancelled();
        }

        /** The timeout (or a timeout that could not be scheduled): a grant pass first, then leave. */
        @Override
        protected void end(Throwable cause) {
            if (limiter.leave(this, true)) {
                completeFailed(cause);
            }
        }

        /**
         * Schedules the head timer after {@code delay} ns on this waiter's executor. No monitor.
         * An executor shutting down cancels its scheduled tasks (a graceful shutdown too, while
         * it still runs tasks), so it is refused here; one that starts shutting down later
         * cancels the timer, which the listener reports (see onHeadTimerCancelled).
         *
         * @throws RuntimeException if the executor cannot time the wait
         */
        void armHeadTimer(long delay) {
            EventExecutor executor = executor();
            if (executor.isShuttingDown()) {
                throw cannotBeTimed();
            }
            ScheduledFuture<?> t = executor.schedule(() -> limiter.onHeadTimer(this), delay, TimeUnit.NANOSECONDS);
            headTimer = t;
            t.addListener(f -> {
                if (f.isCancelled()) {
                    limiter.onHeadTimerCancelled(this);
                }
            });
            if (t.isCancelled() && executor.isShutdown()) {
                // Cancelled by the shutdown before the listener was added, whose notification
                // the executor then refused: report it here (onHeadTimerCancelled is idempotent).
                limiter.onHeadTimerCancelled(this);
            }
            if (timeoutNoLongerApplies()) {
                Timers.cancelQuietly(t);  // it left before the timer was published
            }
        }

        RejectedExecutionException cannotBeTimed() {
            return Promises.shuttingDown(executor(), "admit the wait for " + describeWait() + " at its time");
        }

        EventExecutor waiterExecutor() {
            return executor();
        }

        void cancelHeadTimer() {
            Timers.cancelQuietly(headTimer);
        }
    }

    /** A permit that gives nothing back ({@link EmptyPermit}), with its time of admission. */
    static final class RatePermit extends EmptyPermit {
        private final long admittedAt;                // the limiter's time of the admission

        RatePermit(long admittedAt) {
            this.admittedAt = admittedAt;
        }

        /** When it was admitted, in nanoseconds since the limiter's creation. For tests. */
        long admittedAt() {
            return admittedAt;
        }
    }
}
