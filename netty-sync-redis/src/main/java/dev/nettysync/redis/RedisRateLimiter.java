package dev.nettysync.redis;

import dev.nettysync.WaitTimeoutException;
import dev.nettysync.internal.Promises;
import dev.nettysync.internal.Timers;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RateLimitedException;
import io.lettuce.core.ScriptOutputType;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

/**
 * A rate limit shared by a fleet through Redis: on average {@link #permitsPerSecond()}, at most
 * {@link #burst()} at once, per name, or per (name, key) with {@link #forKey(String)} (one limit
 * per client IP, API key or tenant, each its own Redis key with a lifetime of one refill).
 *
 * <pre>{@code
 * RedisRateLimiter api = fleet.rateLimiter("api", 100, 20);          // 100/s, bursts of 20
 * api.forKey(clientIp).acquire(ctx.executor(), 0, SECONDS).addListener(f -> {
 *     if (f.cause() instanceof RateLimitedException r) { send429(ctx, r.retryAfter()); return; }
 *     ...
 * });
 * }</pre>
 *
 * <h2>Contract</h2>
 * The {@link AsyncLimiter} contract, with these specifics.
 * <ul>
 *   <li><b>Algorithm.</b> GCRA (the generic cell rate algorithm, a token bucket kept as one
 *       timestamp) in one Lua script per call, on the server's clock ({@code TIME}): one round
 *       trip, no read-then-write race, no retry loop, so hot keys do not livelock.</li>
 *   <li><b>Waiting is a reservation.</b> An acquire that may wait (untimed, or timed with a
 *       positive timeout) asks the script to reserve the earliest slot within the timeout; the
 *       script answers with the wait, and the future succeeds after it, timed by the caller's
 *       executor. Order across the fleet is the order in which the scripts ran, so it is FIFO
 *       within a JVM too. If the earliest slot is later than the timeout, the wait fails at once
 *       with a {@link RateLimitedException} whose {@code retryAfter} says when that request
 *       could be admitted (waiting for a timeout that is certain would only hold a connection).
 *       A now-or-never acquire ({@code timeout <= 0}) admits or refuses the same way.</li>
 *   <li><b>Bursts are a hard bound.</b> A request for more than {@link #burst()} permits can
 *       never be admitted and throws {@link IllegalArgumentException}; no sequence of requests
 *       admits more than {@code burst + rate × t} in any window of length {@code t}.</li>
 *   <li><b>Cancellation and timeout.</b> Cancelling a reserved wait completes it cancelled; the
 *       reserved slot is not given back (it counts against the rate, like a request that was
 *       admitted and abandoned). A timed wait whose script reply does not come within the
 *       timeout fails with a {@link dev.nettysync.WaitTimeoutException} (the script may still
 *       run and spend a slot). A permit the script admits for a wait that was already cancelled
 *       or timed out is ended at once and not counted as queued. A Redis error fails the
 *       wait with Lettuce's exception (nothing is held).</li>
 *   <li><b>When Redis is unreachable</b> (see {@link RedisLimiters}): an acquire fails with a
 *       {@link RedisUnavailableException}: at once while the connection is down (nothing is
 *       sent), else when the command timeout expires without a reply. Nothing is held. After
 *       an empty restart every bucket is full again (the keys are gone).</li>
 *   <li><b>When the caller's executor shuts down.</b> The wait's timeout and a reservation's
 *       completion are timed by the caller's executor, and Netty cancels every scheduled task
 *       of an executor that shuts down (a graceful shutdown too, through its quiet period); a
 *       shut-down executor runs no listener. So the wait fails with a
 *       {@link java.util.concurrent.RejectedExecutionException}: at once, sending nothing, if
 *       the executor is already shut down, or, for a timed wait, already shutting down; as soon
 *       as the executor cancels the timeout while the script call is out (the script may still
 *       spend a slot); as soon as it cancels a reserved wait's completion, or at the reply if
 *       it is already shutting down then (the slot is spent); and instead of a permit at the
 *       grant if it has shut down. Such a wait is not counted as queued. An untimed or
 *       now-or-never acquire on an executor shutting down is still served if its slot is free
 *       now. An executor that cannot time ({@code ImmediateEventExecutor}) fails a timed wait
 *       at once, and a reserved one at the reply, with its exception.</li>
 *   <li><b>Permits give nothing back.</b> {@link Permit#release()} only ends the handle (once:
 *       every later end returns {@code false}). They are not tracked for leaks, as
 *       {@code AsyncRateLimiter}'s are not: dropping one loses nothing.</li>
 *   <li><b>Memory.</b> No queue of its own: a wait the script answers at once holds nothing
 *       after the reply; a reserved wait is one scheduled task on the caller's executor until its
 *       slot. How far ahead slots are reserved is bounded only by the wait's timeout (an untimed
 *       acquire reserves whatever slot comes next), so bound the waits with a timeout.</li>
 *   <li><b>No synchronous try:</b> {@link #tryAcquire()} throws; use
 *       {@code acquire(executor, 0, unit)}.</li>
 *   <li><b>Threads.</b> Thread-safe, never blocking; completions run on the caller's
 *       executor.</li>
 * </ul>
 */
public final class RedisRateLimiter implements AsyncLimiter {

    /*
     * Implementation notes
     *
     * One acquire is one Call: the promise, the timeout timer (if timed) and the script's reply
     * handler. A reply that reserves a slot ahead schedules a Reservation on the caller's
     * executor, counted in `waiting` until it runs, is cancelled or is lost (once, by CAS).
     *
     * Executors that shut down cancel their scheduled tasks (netty-sync's WaitQueue, "Timers
     * that die with their executor", whose rules this follows): the Call listens to its timer
     * and the Reservation to its task. The Call removes its listener before it cancels the
     * timer at the reply, so a cancellation it sees is the executor's; a Reservation's task is
     * otherwise cancelled only by the caller's cancel, after which its failure is a no-op.
     * Neither is scheduled on an executor already shutting down (refused instead), and one
     * found cancelled, or on an executor already shut down, right after scheduling is lost at
     * once. grant() reads isShutdown() before completing: no permit goes to a promise whose
     * listeners cannot run (the same residual race as the semaphore's remains).
     */

    /** The highest rate: one permit per microsecond, the resolution of the script's clock. */
    static final double MAX_RATE = 1e6;
    /** The longest refill of a whole burst (as {@code AsyncRateLimiter}'s): 2^60 ns. */
    private static final double MAX_TOLERANCE_NANOS = 0x1p60;

    private final Fleet fleet;
    private final String name;
    private final String key;                    // null for the name-wide limit
    private final double permitsPerSecond;
    private final int burst;
    private final String intervalMicros;         // 1e6 / rate, as sent to the script
    private final String[] keys;
    private final AtomicInteger waiting = new AtomicInteger();  // reservations not yet due, in this JVM
    private volatile long lastLeft;              // permits left per the last reply (statistics)

    RedisRateLimiter(Fleet fleet, String name, String key, double permitsPerSecond, int burst) {
        Objects.requireNonNull(name, "name");
        if (!(permitsPerSecond > 0) || Double.isInfinite(permitsPerSecond)) {
            throw new IllegalArgumentException("permitsPerSecond: " + permitsPerSecond + " (expected > 0, finite)");
        }
        if (permitsPerSecond > MAX_RATE) {
            // the script keeps time in the server's microseconds: a shorter interval is finer than
            // its clock
            throw new IllegalArgumentException("permitsPerSecond: " + permitsPerSecond
                    + " (expected at most " + (long) MAX_RATE + ": one per microsecond)");
        }
        if (burst < 1) {
            throw new IllegalArgumentException("burst: " + burst + " (expected >= 1)");
        }
        if (burst * (1e9 / permitsPerSecond) > MAX_TOLERANCE_NANOS) {
            // past it the script's times leave the doubles' exact range and Redis refuses the expiry
            throw new IllegalArgumentException("burst " + burst + " x interval " + (1e9 / permitsPerSecond)
                    + " ns exceeds 2^60 ns (36 years): raise the rate or lower the burst");
        }
        this.fleet = fleet;
        this.name = name;
        this.key = key;
        this.permitsPerSecond = permitsPerSecond;
        this.burst = burst;
        this.intervalMicros = Double.toString(1_000_000d / permitsPerSecond);
        this.keys = new String[] {fleet.rateKey(name, key)};
        this.lastLeft = burst;
    }

    /**
     * The same rate and burst, for one key (client, tenant, API key): an independent limit. Any
     * string is a key; keys nest with {@code ':'}: {@code forKey("a").forKey("b")} is
     * {@code forKey("a:b")}, the same limit.
     */
    public RedisRateLimiter forKey(String key) {
        Objects.requireNonNull(key, "key");
        return new RedisRateLimiter(fleet, name, this.key == null ? key : this.key + ":" + key, permitsPerSecond, burst);
    }

    public String name() {
        return name;
    }

    /** The key within the name, or {@code null} for the name-wide limit. */
    public String key() {
        return key;
    }

    public double permitsPerSecond() {
        return permitsPerSecond;
    }

    public int burst() {
        return burst;
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        return acquire0(executor, 1, -1);
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return acquire(executor, 1, timeout, unit);
    }

    /**
     * Admits {@code permits} at once, waiting up to {@code timeout} for them (zero or less: now
     * or never).
     *
     * @throws IllegalArgumentException if {@code permits} is not in {@code 1..burst()}
     */
    public Future<Permit> acquire(EventExecutor executor, int permits, long timeout, TimeUnit unit) {
        Objects.requireNonNull(unit, "unit");
        return acquire0(executor, permits, Math.max(0, unit.toNanos(timeout)));
    }

    /**
     * Not supported: Redis cannot answer without a round trip. Use
     * {@code acquire(executor, 0, unit)}.
     *
     * @throws UnsupportedOperationException always
     */
    @Override
    public Permit tryAcquire() {
        throw new UnsupportedOperationException("RedisRateLimiter " + name + " cannot answer without a round trip"
                + " to Redis; use acquire(executor, 0, unit), which fails with RateLimitedException when refused");
    }

    /**
     * {@code limit}: the burst; {@code inUse}: 0; {@code available}: whole permits left as of
     * the last reply this instance saw; {@code queued}: reservations of this instance not yet due.
     */
    @Override
    public LimiterStatistics statistics() {
        return new LimiterStatistics(burst, 0, Math.max(0, lastLeft), waiting.get());
    }

    @Override
    public String toString() {
        return "RedisRateLimiter(" + name + (key == null ? "" : "/" + key) + ", " + permitsPerSecond
                + "/s, burst " + burst + ")";
    }

    /** @param timeoutNanos -1: untimed; 0: now or never; > 0: timed */
    private Future<Permit> acquire0(EventExecutor executor, int permits, long timeoutNanos) {
        Objects.requireNonNull(executor, "executor");
        if (permits < 1 || permits > burst) {
            throw new IllegalArgumentException("permits: " + permits + " (expected 1.." + burst
                    + "; more than the burst can never be admitted)");
        }
        Future<Permit> refused = Promises.failedIfShutDown(executor,
                "the completion of an acquire on " + this + ": the slot it took would be lost");
        if (refused != null) {                    // checked before anything is sent or reserved
            return refused;
        }
        if (timeoutNanos > 0 && executor.isShuttingDown()) {
            // it would accept the timer and cancel it at the next turn of its shutdown loop
            return executor.newFailedFuture(Promises.shuttingDown(executor,
                    "run the timeout of a wait for " + this + " (nothing was sent)"));
        }
        Promise<Permit> result = executor.newPromise();
        if (!fleet.isConnected()) {               // fails at once, sends nothing
            result.setFailure(fleet.notConnected("RedisRateLimiter " + name + (key == null ? "" : "/" + key)));
            return result;
        }
        Call call = new Call(executor, result, permits);
        if (timeoutNanos > 0 && !call.startTimer(timeoutNanos)) {
            return result;                        // refused by the executor: nothing sent
        }
        long maxWaitMicros = timeoutNanos < 0 ? Long.MAX_VALUE / 4 : TimeUnit.NANOSECONDS.toMicros(timeoutNanos);
        fleet.<List<Object>>run(Fleet.GCRA, ScriptOutputType.MULTI, keys,
                intervalMicros, Integer.toString(burst), Integer.toString(permits), Long.toString(maxWaitMicros))
                .whenComplete(call);
        return result;
    }

    /**
     * One acquire: its promise, its timeout timer (if timed) and the handling of the script's
     * reply. The timer is timed by the caller's executor, and so is a reservation's completion;
     * both die with that executor (Netty cancels every scheduled task of an executor that shuts
     * down), so each is listened to, and a cancellation we did not make ends the wait at once
     * (see the implementation notes).
     */
    private final class Call implements BiConsumer<List<Object>, Throwable>, GenericFutureListener<Future<Object>> {
        private final EventExecutor executor;
        private final Promise<Permit> result;
        private final int permits;
        private volatile ScheduledFuture<?> timer;   // written once by startTimer; null if untimed

        Call(EventExecutor executor, Promise<Permit> result, int permits) {
            this.executor = executor;
            this.result = result;
            this.permits = permits;
        }

        /** Arms the timeout; {@code false} if the executor refused it (the promise has failed). */
        boolean startTimer(long nanos) {
            ScheduledFuture<?> t;
            try {
                t = executor.schedule(() -> {
                    result.tryFailure(new WaitTimeoutException("RedisRateLimiter " + name + ": no answer within the timeout"));
                }, nanos, TimeUnit.NANOSECONDS);
            } catch (RuntimeException e) {       // shut down since the check, or cannot time (Immediate...)
                result.setFailure(e);
                return false;
            }
            timer = t;
            if (Timers.listenLost(t, executor, this)) {
                timerLost();                      // it will never run
            }
            return true;
        }

        /** The timeout timer's listener: a cancellation we did not make is the executor's shutdown. */
        @Override
        public void operationComplete(Future<Object> t) {
            if (t.isCancelled()) {
                timerLost();
            }
        }

        private void timerLost() {
            result.tryFailure(Promises.shutDown(executor, "the timeout of its wait for " + RedisRateLimiter.this
                    + " (an executor shutting down cancels its timers, so the wait ended at once; the script"
                    + " may still spend a slot)"));
        }

        private void cancelTimer() {
            Timers.cancel(timer, this);
        }

        /** The script's reply, on a Lettuce thread (or Lettuce's timer, for the command timeout). */
        @Override
        public void accept(List<Object> reply, Throwable error) {
            cancelTimer();
            if (error != null) {
                result.tryFailure(error);
                return;
            }
            long code = (Long) reply.get(0);
            long micros = (Long) reply.get(1);
            lastLeft = (Long) reply.get(2);
            if (code == 1 && (micros <= 0 || result.isDone())) {
                // admitted now; or the caller gave up (cancel, timeout) before the reply:
                // the slot is spent either way, and nobody is left to wait for it
                grant(executor, result);
            } else if (code == 1) {
                reserve(micros);
            } else if (code == 0) {
                result.tryFailure(new RateLimitedException("RedisRateLimiter " + name
                        + (key == null ? "" : "/" + key) + ": rate exceeded",
                        Math.max(1, TimeUnit.MICROSECONDS.toNanos(micros))));
            } else {
                result.tryFailure(new IllegalArgumentException("permits: " + permits + " exceed the burst " + burst));
            }
        }

        /** The script reserved a slot {@code micros} ahead: the caller's executor completes the wait then. */
        private void reserve(long micros) {
            if (executor.isShuttingDown()) {     // it would cancel the task at the next turn of its shutdown loop
                result.tryFailure(Promises.shuttingDown(executor, "complete the wait for " + RedisRateLimiter.this
                        + " at the slot reserved " + micros + " µs ahead (the slot is spent)"));
                return;
            }
            Reservation r = new Reservation(executor, result);
            ScheduledFuture<?> due;
            try {
                due = executor.schedule(r, micros, TimeUnit.MICROSECONDS);
            } catch (RuntimeException e) {       // shut down meanwhile, or cannot time (Immediate...):
                r.uncount();                      // thrown here, on a Lettuce thread, it would be lost
                result.tryFailure(e);
                return;
            }
            boolean lost = Timers.listenLost(due, executor, r);
            result.addListener(f -> {
                if (f.isCancelled()) {
                    Timers.cancelQuietly(due);   // heard as a cancel by the reservation: it uncounts
                }
            });
            if (lost) {
                r.lost();                         // it will never run
            }
        }
    }

    /**
     * A reserved wait, counted in {@code waiting} from its scheduling until it is due, cancelled
     * or lost (once). The task that completes it at its slot, and the listener of that task: a
     * cancellation is the caller's cancel (the promise is cancelled already) or the executor's
     * shutdown (the wait fails at once, the slot spent).
     */
    private final class Reservation implements Runnable, GenericFutureListener<Future<Object>> {
        private final EventExecutor executor;
        private final Promise<Permit> result;
        private final AtomicBoolean counted = new AtomicBoolean(true);

        Reservation(EventExecutor executor, Promise<Permit> result) {
            this.executor = executor;
            this.result = result;
            waiting.incrementAndGet();
        }

        void uncount() {
            if (counted.compareAndSet(true, false)) {
                waiting.decrementAndGet();
            }
        }

        @Override
        public void run() {
            uncount();
            grant(executor, result);
        }

        @Override
        public void operationComplete(Future<Object> due) {
            if (due.isCancelled()) {
                lost();
            }
        }

        void lost() {
            uncount();
            result.tryFailure(Promises.shutDown(executor, "the completion of its wait for " + RedisRateLimiter.this
                    + " at its reserved slot (an executor shutting down cancels its timers; the slot is spent)"));
        }
    }

    /**
     * Completes {@code result} with a permit; one that nobody can receive is ended (not leaked).
     * A caller whose executor has shut down gets a refusal instead: no listener of it could run.
     */
    private void grant(EventExecutor executor, Promise<Permit> result) {
        if (executor.isShutdown()) {
            result.tryFailure(Promises.shutDown(executor, "the completion of its wait for " + this
                    + " (the slot is spent)"));
            return;
        }
        Permit permit = Permit.holdingNothing();          // not tracked: dropping it loses nothing
        if (!result.trySuccess(permit)) {
            permit.releaseIgnored();
        }
    }
}
