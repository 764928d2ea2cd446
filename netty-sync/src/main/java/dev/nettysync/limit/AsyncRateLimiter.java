package dev.nettysync.limit;

import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.concurrent.Ticker;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

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
 *       would be possible, by {@code tryAcquire} and by a timed {@code acquire} whose reserved
 *       time lies beyond its timeout (waiting would only end in a timeout);</li>
 *   <li>with a {@link WaitTimeoutException}, holding nothing, if its reserved time moved past
 *       the timeout after it queued (a grant ahead of it was delayed by more than the burst's
 *       slack, see the notes);</li>
 *   <li>refused with a {@link QueueFullException} when {@code maxPending} waiters are queued.</li>
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
     * with nobody waiting) CASes the word; QUEUED is set and cleared only under `lock`, and while
     * it is set only lock holders write the word (plain volatile writes).
     *
     * Queue and reservations. Waiters form an intrusive FIFO list under `lock`, with the sum
     * of their permits (queuedPermits). A waiter's reserved time is not stored: it is
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
     * Timers. Only the head's reserved time matters until it is granted, and it cannot change
     * while it is the head (tat changes only by admissions, which cannot happen while QUEUED
     * except by granting the head). So one timer is armed, on the head's own executor, for the
     * head's due time; `armedFor` names the waiter it was armed for (invariant at the end of
     * every critical section: queue non-empty => armedFor == head). The timer runs a grant
     * pass: under the lock, while the head is due (due(1) <= now), claim it (its grant is then
     * final: cancel() returns false), unlink it and admit it at the actual time by the GCRA
     * rule above; then arm the timer for the new head. The granted waiters are completed after
     * the lock is dropped; each completion runs its listeners on its own executor. Any other
     * path that changes the head (enqueue into an empty queue, cancel or timeout of the head)
     * also runs a grant pass and arms for the new head. A timer that fires for a waiter that is
     * no longer the head only runs a harmless pass; one that fires early re-arms. Timers are
     * scheduled after the lock is dropped; one published after its waiter left is cancelled by
     * the thread that published it (it rechecks the waiter's `queued` flag).
     *
     * Timer latency. A grant made late by d nanoseconds admits at the actual time: if the
     * bucket had slack (tat > now, i.e. d < tau - n·T), tat is unchanged and later waiters keep
     * their times; a longer delay shifts the later reservations by the excess, as a bucket that
     * cannot hold more than `burst` must (otherwise a stalled executor would release a burst
     * larger than `burst`). Choose burst > 1 when the rate must be met despite timer jitter.
     *
     * Timeouts. A timed acquire whose reserved time is beyond its timeout is refused at once
     * with the time it would have needed; otherwise a timeout timer on the waiter's executor
     * ends it if it is still queued, after running a grant pass (so a waiter due at its
     * deadline is granted, not timed out). A timeout claims the waiter under the lock, like a
     * grant: a racing cancel() then returns false.
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
    private volatile long state;           // (tat << 1) | QUEUED: CAS while QUEUED is clear, else lock holders only

    private final Object lock = new Object();
    private RateWaiter head;               // guarded by lock
    private RateWaiter tail;               // guarded by lock
    private long queuedPermits;            // guarded by lock: sum of the permits of queued waiters
    private volatile int queueSize;        // written under lock, read by anyone (statistics)
    private RateWaiter armedFor;           // guarded by lock: the waiter a head timer was armed for

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
    }

    /**
     * A limiter admitting {@code permitsPerSecond} permits per second with bursts of up to
     * {@code burst}, starting full; waiters are not bounded in number.
     *
     * @throws IllegalArgumentException if either is less than 1 or the rate exceeds 10<sup>9</sup>/s
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
            long t = (periodNanos + permits / 2) / permits;   // rounded to the nearest ns
            if (t < 1) {
                throw new IllegalArgumentException(
                        permits + " permits per " + period + " is more than one per nanosecond");
            }
            this.interval = t;
        }

        /** Permits that may be admitted at once after an idle period (the bucket size), >= 1. */
        public Builder burst(int burst) {
            if (burst < 1) {
                throw new IllegalArgumentException("burst must be >= 1, was " + burst);
            }
            this.burst = burst;
            return this;
        }

        /** At most this many waiters are queued; more fail with {@link QueueFullException}. */
        public Builder maxPending(int maxPending) {
            if (maxPending < 0) {
                throw new IllegalArgumentException("maxPending must be >= 0, was " + maxPending);
            }
            this.maxPending = maxPending;
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
        synchronized (lock) {
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
        return acquire0(executor, 1, Math.max(0, unit.toNanos(timeout)));
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
        return acquire0(executor, permits, Math.max(0, unit.toNanos(timeout)));
    }

    @Override
    public LimiterStatistics statistics() {
        long now = now();
        long tat = state >>> 1;
        long available = tat <= now ? burst : Math.max(0, (now + tolerance - tat) / interval);
        return new LimiterStatistics(burst, 0, available, queueSize);
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
        return queueSize;
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
     * tryTake, and if waiters are queued, the refusal decided under the lock: a grant pass that
     * empties the queue holds the lock while QUEUED is still set, and a refusal seen through that
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
        synchronized (lock) {
            r = tryTake(cost);                  // QUEUED changes only under the lock
            return r != QUEUED_RESULT ? r : retryAfterLocked(cost, now());
        }
    }

    /** The wait of a request of {@code cost} that would queue behind everyone now. Lock held. */
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
        Throwable refusal = null;
        Step step = new Step();
        long now;
        synchronized (lock) {
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
                if (queueSize >= maxPending) {
                    refusal = new QueueFullException(maxPending + " waiters already queued for "
                            + this + "; refused a request for " + permits + " permit(s)");
                    break;
                }
                if ((s & QUEUED) == 0 && !STATE.compareAndSet(this, s, s | QUEUED)) {
                    continue;                               // a fast path moved tat: recompute
                }
                w = new RateWaiter(executor, this, permits);
                link(w);
                pollDue(step, now);
                armIfNeeded(step, now);
                break;
            }
        }
        if (refusal != null) {
            return executor.newFailedFuture(refusal);
        }
        if (w == null) {
            return executor.newSucceededFuture(new RatePermit(now));
        }
        finish(step);
        if (timeoutNanos >= 0 && w.queued) {      // not granted in the same critical section
            w.startTimeout(timeoutNanos);
        }
        return w;
    }

    private RateLimitedException rateLimited(int permits, long wait) {
        return new RateLimitedException("rate limit of " + this + ": " + permits
                + " permit(s) could be admitted in " + wait + " ns", wait);
    }

    /** What a critical section leaves to do after the lock is dropped. */
    private static final class Step {
        RateWaiter granted;       // chain through nextGranted, FIFO
        RateWaiter grantedTail;
        RateWaiter toArm;         // arm a head timer for it, after armDelay ns
        long armDelay;
    }

    /** Appends a waiter. Lock held; QUEUED already set. */
    private void link(RateWaiter w) {
        w.prev = tail;
        if (tail == null) {
            head = w;
        } else {
            tail.next = w;
        }
        tail = w;
        w.queued = true;
        queuedPermits += w.permits;
        queueSize = queueSize + 1;
    }

    /**
     * Removes a waiter and clears QUEUED when the queue becomes empty. Lock held; QUEUED set
     * (so the word is written by lock holders only).
     */
    private void unlink(RateWaiter w) {
        RateWaiter p = w.prev;
        RateWaiter n = w.next;
        if (p == null) {
            head = n;
        } else {
            p.next = n;
        }
        if (n == null) {
            tail = p;
        } else {
            n.prev = p;
        }
        w.prev = null;
        w.next = null;
        w.queued = false;
        queuedPermits -= w.permits;
        queueSize = queueSize - 1;
        if (armedFor == w) {
            armedFor = null;
        }
        if (head == null) {
            state = state & ~QUEUED;     // from here on fast paths may CAS the word again
        }
    }

    /** Grants every waiter at the head whose reserved time has come, in order. Lock held. */
    private void pollDue(Step step, long now) {
        RateWaiter h;
        while ((h = head) != null) {
            long tat = state >>> 1;
            long cost = h.permits * interval;
            if (tat + cost - tolerance > now) {
                return;
            }
            boolean claimed = h.claim();
            long newTat = Math.max(tat, now) + cost;
            boolean last = h.next == null;
            if (claimed) {
                // Admit before unlink clears QUEUED: while QUEUED is set the word is ours.
                state = (newTat << 1) | QUEUED;
                h.admittedAt = now;
            }
            unlink(h);
            if (!claimed) {
                continue;                // completed behind our back (cast to Promise): skip it
            }
            assert !last || (state & QUEUED) == 0;
            if (step.grantedTail == null) {
                step.granted = h;
            } else {
                step.grantedTail.nextGranted = h;
            }
            step.grantedTail = h;
        }
    }

    /** Arms the head timer if the head has none. Lock held. */
    private void armIfNeeded(Step step, long now) {
        RateWaiter h = head;
        if (h != null && armedFor != h) {
            armedFor = h;
            long due = (state >>> 1) + h.permits * interval - tolerance;
            step.toArm = h;
            step.armDelay = Math.max(0, due - now);
        }
    }

    /** Completes the granted waiters and arms the head timer. No lock held. */
    private void finish(Step step) {
        RateWaiter g = step.granted;
        step.granted = null;
        step.grantedTail = null;
        while (g != null) {
            RateWaiter next = g.nextGranted;
            g.nextGranted = null;
            g.cancelTimers();
            g.trySuccess(new RatePermit(g.admittedAt));   // false only if completed behind our back
            g = next;
        }
        while (step.toArm != null) {
            RateWaiter h = step.toArm;
            step.toArm = null;
            long delay = step.armDelay;
            try {
                ScheduledFuture<?> t = h.executor().schedule(() -> onHeadTimer(h), delay, TimeUnit.NANOSECONDS);
                h.headTimer = t;
                if (!h.queued) {
                    t.cancel(false);      // it left before the timer was published
                }
            } catch (RuntimeException e) {
                // Its executor cannot time (ImmediateEventExecutor) or is shutting down: the
                // waiter cannot be completed at its time, so it ends with that failure and the
                // next head is armed (loop, not recursion: a queue of such waiters is fine).
                Step next = new Step();
                if (abandonLocked(h, true, next)) {
                    h.cancelTimers();
                    h.tryFailure(e);
                }
                finishGranted(next);
                step.toArm = next.toArm;
                step.armDelay = next.armDelay;
            }
        }
    }

    private void finishGranted(Step s) {
        RateWaiter toArm = s.toArm;
        s.toArm = null;
        finish(s);                // toArm is null: completes the granted chain only
        s.toArm = toArm;
    }

    /** The head timer fired on {@code h}'s executor. */
    private void onHeadTimer(RateWaiter h) {
        Step step = new Step();
        synchronized (lock) {
            if (armedFor == h) {
                armedFor = null;          // consumed: a head not yet due (early timer) is re-armed
            }
            long now = now();
            pollDue(step, now);
            armIfNeeded(step, now);
        }
        finish(step);
    }

    /** Cancel (claim false) or timeout (claim true) of a waiter: leaves the queue if still in it. */
    private boolean abandon(RateWaiter w, boolean claim) {
        Step step = new Step();
        boolean removed = abandonLocked(w, claim, step);
        finish(step);
        return removed;
    }

    private boolean abandonLocked(RateWaiter w, boolean claim, Step step) {
        synchronized (lock) {
            long now = now();
            if (claim) {
                pollDue(step, now);       // a waiter due at its deadline is granted, not timed out
            }
            if (!w.queued) {
                armIfNeeded(step, now);   // the pass may have granted the head
                return false;
            }
            boolean ok = !claim || w.claim();
            unlink(w);
            pollDue(step, now);           // the new head may already be due
            armIfNeeded(step, now);
            return ok;
        }
    }

    private static long mulSat(long a, long b) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        return (hi == 0 && lo >= 0) ? lo : Long.MAX_VALUE / 4;
    }

    /**
     * Checks the invariants of the notes under the lock; returns a description of the first
     * broken one, or {@code null}. For tests.
     */
    String brokenInvariant() {
        synchronized (lock) {
            long s = state;
            long now = now();
            if (((s & QUEUED) != 0) != (head != null)) {
                return "QUEUED flag " + ((s & QUEUED) != 0) + " but head " + head;
            }
            int n = 0;
            long sum = 0;
            RateWaiter prev = null;
            for (RateWaiter w = head; w != null; w = w.next) {
                if (!w.queued || w.prev != prev) {
                    return "broken link at waiter " + n;
                }
                n++;
                sum += w.permits;
                prev = w;
            }
            if (prev != tail || n != queueSize || sum != queuedPermits) {
                return "queue of " + n + " waiters / " + sum + " permits, but size " + queueSize
                        + " / " + queuedPermits;
            }
            if (head != null && armedFor != head) {
                return "queued head without a timer: armedFor " + armedFor;
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
     * A queued acquire: the promise returned to the caller and the node of the queue.
     * <pre>
     *   QUEUED ──grant pass (claim, unlink; lock)──▶ GRANTED ──after the lock──▶ SUCCESS
     *     │
     *     ├──cancel(): unlink (lock), then cancel the promise ─────────────────▶ CANCELLED
     *     └──timeout: grant pass, then claim + unlink (lock) ──after the lock──▶ TIMED OUT
     * </pre>
     */
    static final class RateWaiter extends DefaultPromise<Permit> {
        private final AsyncRateLimiter limiter;
        final int permits;
        RateWaiter prev;                              // guarded by limiter.lock
        RateWaiter next;                              // guarded by limiter.lock
        RateWaiter nextGranted;                       // written by the granting thread, off-queue
        long admittedAt;                              // written by the granting thread, under lock
        volatile boolean queued;                      // written under limiter.lock
        volatile ScheduledFuture<?> headTimer;        // written by the thread that armed it
        private volatile ScheduledFuture<?> timeout;  // written once by the thread that queued it

        RateWaiter(EventExecutor executor, AsyncRateLimiter limiter, int permits) {
            super(executor);
            this.limiter = limiter;
            this.permits = permits;
        }

        @Override
        protected EventExecutor executor() {
            return super.executor();
        }

        boolean claim() {
            return setUncancellable() && !isDone();
        }

        /**
         * Leaves the queue (the reservation is given back: later waiters move earlier) unless
         * already granted; a granted wait returns {@code false} and the caller holds the permit.
         */
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (!isCancellable()) {
                return false;
            }
            limiter.abandon(this, false);
            if (super.cancel(mayInterruptIfRunning)) {
                cancelTimers();
                return true;
            }
            return false;
        }

        void startTimeout(long nanos) {
            ScheduledFuture<?> t;
            try {
                t = executor().schedule(() -> expire(nanos), nanos, TimeUnit.NANOSECONDS);
            } catch (RuntimeException e) {
                if (limiter.abandon(this, true)) {
                    tryFailure(e);
                }
                return;
            }
            timeout = t;
            if (!queued) {
                t.cancel(false);
            }
        }

        private void expire(long nanos) {
            if (limiter.abandon(this, true)) {
                cancelTimers();
                tryFailure(new WaitTimeoutException("timed out after " + nanos + " ns waiting for "
                        + permits + " permit(s) of " + limiter));
            }
        }

        void cancelTimers() {
            ScheduledFuture<?> t = timeout;
            if (t != null) {
                t.cancel(false);
            }
            t = headTimer;
            if (t != null) {
                t.cancel(false);
            }
        }
    }

    /** A permit that gives nothing back: ending it only marks it ended, exactly once. */
    static final class RatePermit implements Permit {
        private static final AtomicIntegerFieldUpdater<RatePermit> ENDED =
                AtomicIntegerFieldUpdater.newUpdater(RatePermit.class, "ended");

        private final long admittedAt;                // the limiter's time of the admission
        private volatile int ended;                   // 0 -> 1 once, by CAS

        RatePermit(long admittedAt) {
            this.admittedAt = admittedAt;
        }

        /** When it was admitted, in nanoseconds since the limiter's creation. For tests. */
        long admittedAt() {
            return admittedAt;
        }

        @Override
        public boolean release() {
            return ENDED.compareAndSet(this, 0, 1);
        }

        @Override
        public boolean releaseDropped() {
            return release();
        }

        @Override
        public boolean releaseIgnored() {
            return release();
        }

        @Override
        public boolean isReleased() {
            return ended != 0;
        }
    }
}
