package dev.nettysync.redis;

import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.internal.Promises;
import dev.nettysync.internal.Timers;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import io.lettuce.core.ScriptOutputType;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A counting semaphore shared by a fleet of JVMs through Redis: at most {@link #limit()}
 * permits are held at once by all the replicas that use its name. Permits are <em>leased</em>:
 * each grant is a lease with a random id and an expiry on the server's clock, renewed while
 * held, so the permits of a replica that dies come back when its leases expire, without anyone
 * releasing them.
 *
 * <pre>{@code
 * RedisSemaphore backend = fleet.semaphore("backend", 64, Duration.ofSeconds(10));
 *
 * backend.withPermit(ctx.executor(), () -> callBackend(msg))        // FIFO, never blocks
 *        .addListener(f -> ctx.writeAndFlush(render(f)));
 * }</pre>
 *
 * <h2>Contract</h2>
 * The {@link AsyncLimiter} contract, with these specifics.
 * <ul>
 *   <li><b>Threads and executors.</b> Thread-safe; one instance per name per
 *       {@link RedisLimiters}, shared by every event loop. Nothing blocks: each acquire or
 *       release is one asynchronous script call. The returned future belongs to the executor
 *       the caller names: Redis replies arrive on Lettuce's I/O threads, and the completion hops
 *       to that executor (its listeners run there, never on a Lettuce thread); a timeout is timed
 *       by that executor.</li>
 *   <li><b>Fairness.</b> FIFO among the waiters of this JVM: once a call waits, no later call of
 *       this JVM overtakes it, and only the head of the local queue asks Redis. Between JVMs
 *       there is no order: whoever's script runs first after a release wins. A call goes
 *       straight to Redis (the uncontended path: one script call, concurrent with others) only
 *       when nobody in this JVM is queued and, as far as this JVM last heard from Redis, enough
 *       permits are free for it and for the direct calls already on their way; otherwise it
 *       joins the local queue. So two calls of one JVM can finish out of order only if another
 *       JVM took the last permits within that round trip (the refused one then queues at the
 *       tail), never once either is queued. A multi-permit head waits until Redis has all of its
 *       permits free; later local waiters wait behind it.</li>
 *   <li><b>How a wait ends:</b> with a {@link RedisPermit}, which the caller ends exactly once;
 *       cancelled by the caller (its place in the local queue is freed at once, and a lease that
 *       Redis granted at that same moment is released, never lost); with a
 *       {@link WaitTimeoutException}; with a {@link QueueFullException} when
 *       {@code maxPending} waiters are queued in this JVM; with a {@link ClosedException} after
 *       {@link RedisLimiters#close()}; with a {@link java.util.concurrent.RejectedExecutionException}
 *       when the executor shuts down (next item); at once, holding nothing, with the
 *       executor's exception if it cannot time a timed wait ({@code ImmediateEventExecutor}'s
 *       {@code UnsupportedOperationException}); or with a
 *       {@link RedisUnavailableException} when Redis cannot decide (below).</li>
 *   <li><b>When the caller's executor shuts down.</b> Netty cancels every scheduled task of an
 *       executor that shuts down (a graceful shutdown too, through its quiet period), so a
 *       timeout timed there never runs, and a shut-down executor runs no listener, so a lease
 *       handed to it would be renewed for as long as its future is referenced and the waiters
 *       behind it would starve. So the wait fails with a
 *       {@link java.util.concurrent.RejectedExecutionException}, holding nothing: at once,
 *       queueing, counting and sending nothing, if the executor is already shut down, or, for a
 *       timed wait, already shutting down; as soon as the executor cancels its timer, for a
 *       timed wait queued or out (its place is free before it hears, as after a timeout); and,
 *       for a wait whose executor has shut down, when it reaches the head (it is not asked for)
 *       or when Redis grants it (the lease is released by id at once, and the next waiter is
 *       served, as after any release). An untimed wait on an executor that shut down stays
 *       queued until it reaches the head. Residual race: an executor that moves to shut down
 *       between that last check and the completion (Netty gives no hook to learn that the
 *       notification was dropped) loses the grant, whose lease is then renewed until its future
 *       is collected and expires a lease later; cancel the waits of an event loop before
 *       shutting it down to be exact.</li>
 *   <li><b>When Lettuce's computation executor shuts down</b> (the client's resources shut down
 *       before {@link RedisLimiters#close()}): it times the fallback polls and the lease
 *       renewals, so no wait can be served safely any more. Acquires fail at once, and the
 *       queued waiters as soon as their poll is cancelled or cannot be armed, with a
 *       {@link java.util.concurrent.RejectedExecutionException}; a held permit's
 *       {@link RedisPermit#lease()} fails at once with a {@link LeaseLostException}.</li>
 *   <li><b>When Redis is unreachable</b> (see {@link RedisLimiters}): an acquire made while the
 *       connection is down fails at once, without sending anything; when the connection drops,
 *       every waiter queued in this JVM fails at once; a call out at that moment fails when
 *       its command timeout expires, and so does any call that gets no reply in time. All with
 *       a {@link RedisUnavailableException}, never later than the command timeout, and
 *       holding nothing (a lease the unanswered call may still take is released by id). An
 *       error the server answered (a script error, {@code OOM}) fails the call, and the queue,
 *       with Lettuce's exception. After Lettuce reconnects, acquires are served again; permits
 *       held across an empty restart find their lease gone ({@link RedisPermit#lease()} fails
 *       with a {@link LeaseLostException}) and their release changes nothing in the new
 *       server's count.</li>
 *   <li><b>Release proves ownership.</b> A release names the lease id; the script frees permits
 *       only if that lease is live. A second release, the release of an id never granted or
 *       already released, and the release of an expired lease change nothing. Permits are given
 *       back once: by their release or by their lease's expiry.</li>
 *   <li><b>Leases.</b> Expiry is the server's {@code TIME} plus the lease, renewed every third
 *       of the lease while the permit is held; if renewal finds the lease gone, or cannot reach
 *       Redis for a whole lease, {@link RedisPermit#lease()} fails with a
 *       {@link LeaseLostException}: stop the work, someone else may hold the permit now.</li>
 *   <li><b>No synchronous try.</b> {@link #tryAcquire()} throws: Redis cannot answer without
 *       a round trip. {@code acquire(executor, 0, unit)} is the now-or-never form: one script
 *       call, then a permit or a {@code WaitTimeoutException}.</li>
 *   <li><b>Memory consistency.</b> Within this JVM, actions before a permit's release
 *       happen-before the completion of an acquire granted after the release's script ran, as
 *       far as the Lettuce reply and the executor hop order them; across JVMs there is no memory
 *       effect, only the count.</li>
 * </ul>
 *
 * <p>Keys, scripts and failure modes: see the module README.
 */
public final class RedisSemaphore implements AsyncLimiter {

    /*
     * Implementation notes
     *
     * Redis state (hash tag {name}, see semaphore-common.lua): a ZSET of lease id -> expiry, a
     * HASH of lease id -> permits, and the sum of those permits. Every script first repairs a
     * torn set (one key evicted or deleted alone: the sum rebuilt, or the leases forgotten), then
     * reaps the expired leases (server TIME) and publishes what that freed, so expiry needs no
     * timer in Redis and no client clock.
     *
     * Local state, under `lock` (held for O(1) steps, never while completing a promise or
     * sending a command):
     *
     *     waiters       ordered by ticket (arrival order), O(log n) removal on cancel/timeout;
     *                   a direct call refused by Redis is inserted at its arrival place, so a
     *                   call that queued while it was out does not overtake it
     *     directInFlight permits asked by direct calls now out; while any is out the head is
     *                   not asked for (it may be later than them)
     *     headInFlight  an acquire script is out for the head; at most one at a time, so the
     *                   queue costs one call per release notice, not one per waiter
     *     notices       counts release notices (pub/sub messages, resubscriptions, local
     *                   releases); an attempt remembers the count it was sent at, and a refusal
     *                   that crossed a notice retries at once instead of sleeping
     *     fallback      the one timer that asks again when no notice comes: at the nearest
     *                   lease expiry the refusal reported, at most maxPoll away
     *
     * Wake-up: a release publishes on the name's channel; every JVM with waiters (one
     * subscription per name per RedisLimiters) sends one attempt for its head. Pub/sub is
     * at-most-once (a disconnect, CLIENT KILL, a restart drops notices): then the fallback timer
     * asks anyway, so a lost notice delays a waiter by at most maxPoll and strands nobody.
     *
     * Each waiter is a promise whose end is claimed once (Waiter.claim): by the grant, by
     * cancel(), by its timer, or by close(). A grant that finds the waiter already claimed
     * (cancelled or timed out while its script was in flight) releases the lease it just got:
     *
     *     WAITING --claim by grant------> GRANTED   (permit delivered)
     *        |----claim by cancel/timer--> ENDED    (left the queue; a late grant is released)
     *
     * A script call whose outcome is unknown (Lettuce error, command timeout) may still have
     * taken the lease: it is released by id, which is harmless if it never was. Lettuce keeps
     * (and sends once reconnected) what was out when a connection dropped, and the release is
     * sent after the acquire, so it runs after it. Such a failure ends the call's waiter (direct)
     * or every waiter queued when the head attempt was sent (tickets below `arrivedBefore`):
     * Redis could not decide for them; later arrivals get an attempt of their own. No acquire
     * is sent while the connection is down (`fleet.isConnected()`), so an outage does not pile
     * commands into Lettuce's buffer; releases are sent (buffered) all the same. The same
     * re-sending runs an acquire twice when only its reply was lost: each call has its own lease
     * id, so the script answers a second run that finds that id live as granted, taking nothing
     * more (semaphore-acquire.lua), and the reply that does arrive is the call's one outcome.
     *
     * Executors that shut down (see netty-sync's WaitQueue, "Executors that shut down" and
     * "Timers that die with their executor", whose rules this follows; its Waiter is not reused
     * because this queue is ordered by ticket, with refused direct calls inserted at their
     * arrival place, and ends waits by a claim instead of an unlink):
     *   - a timed waiter is the one listener of its timer (Waiter.startTimer); cancelTimer
     *     removes it before cancelling, so a cancellation it sees is the executor's shutdown
     *     sweep: timerLost() claims and ends the wait as timeOut() does, with a
     *     RejectedExecutionException. A timer is not armed on an executor already shutting
     *     down (acquire0 refuses the wait), and one found cancelled, or on an executor already
     *     shut down, right after scheduling is lost at once.
     *   - deliver() cancels the timer first (from another thread that submits a task to the
     *     waiter's executor), then reads isShutdown(): a grant to a dead executor is released by
     *     id, its release notice serving the next waiter; it reads it again once the permit is
     *     made (scheduling its renewal, registering it with the cleaner), just before completing,
     *     and then ends the permit (which releases the lease). drive() drops such waiters
     *     instead of asking for them.
     *   - the fallback timer runs on Lettuce's computation executor and has one listener
     *     (fallbackLost), removed before our own cancels; a cancellation it sees, or a timer
     *     that cannot be armed, means that executor is shutting down: every queued waiter fails
     *     (schedulerDown). Each timer is numbered, and only the one armed clears the field when
     *     it fires.
     */

    private final Fleet fleet;
    private final Consumer<RedisSemaphore> onClose;  // the owner's: stop delivering notices to it
    private final String name;
    private final int limit;
    private final long leaseMillis;
    private final String[] keys;
    private final String channel;

    private final Object lock = new Object();
    private final TreeSet<Waiter> waiters = new TreeSet<>(Comparator.comparingLong(w -> w.ticket)); // guarded by lock
    private long tickets;                       // guarded by lock; the next arrival's ticket
    private boolean headInFlight;               // guarded by lock
    private long notices;                       // guarded by lock; only grows
    private ScheduledFuture<?> fallback;        // guarded by lock; null when none is armed
    private long fallbacksArmed;                // guarded by lock; numbers the fallback timers (who fired)
    private final GenericFutureListener<Future<Object>> fallbackLost = this::onFallbackLost;   // on every fallback timer
    private long fallbackAtNanos;               // guarded by lock; when `fallback` fires
    private boolean closed;                     // guarded by lock; set once by close()

    private int directInFlight;                 // guarded by lock; permits asked by direct calls out now
    private final AtomicLong heldHere = new AtomicLong();   // permits held by this JVM's permits
    private final AtomicLong available;         // free permits fleet-wide as last heard: set by
                                                // acquire replies, raised by our releases (a hint)

    RedisSemaphore(Fleet fleet, String name, int limit, long leaseMillis, Consumer<RedisSemaphore> onClose) {
        this.fleet = fleet;
        this.onClose = onClose;
        this.name = name;
        this.limit = limit;
        this.leaseMillis = leaseMillis;
        this.keys = new String[] {
                fleet.key("sem", name, "leases"), fleet.key("sem", name, "held"), fleet.key("sem", name, "used")};
        this.channel = fleet.key("sem", name, "released");
        this.available = new AtomicLong(limit);
    }

    /** The name shared by the fleet. */
    public String name() {
        return name;
    }

    /** The fleet-wide number of permits. */
    public int limit() {
        return limit;
    }

    /** The lease of each grant, in milliseconds (renewed every third of it while held). */
    public long leaseMillis() {
        return leaseMillis;
    }

    String channel() {
        return channel;
    }

    String[] keys() {
        return keys;
    }

    @Override
    @SuppressWarnings("unchecked")
    public Future<Permit> acquire(EventExecutor executor) {
        return (Future<Permit>) (Future<?>) acquire0(executor, 1, -1);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return (Future<Permit>) (Future<?>) acquire(executor, 1, timeout, unit);
    }

    /** Waits, FIFO in this JVM, for {@code permits} permits held under one lease. */
    public Future<RedisPermit> acquire(EventExecutor executor, int permits) {
        return acquire0(executor, permits, -1);
    }

    /**
     * Waits up to {@code timeout} for {@code permits} permits held under one lease; a timeout of
     * zero or less makes one script call (now or never).
     *
     * @throws IllegalArgumentException if {@code permits} is not in {@code 1..limit()}
     */
    public Future<RedisPermit> acquire(EventExecutor executor, int permits, long timeout, TimeUnit unit) {
        Objects.requireNonNull(unit, "unit");
        return acquire0(executor, permits, Math.max(0, unit.toNanos(timeout)));
    }

    /**
     * Not supported: Redis cannot answer without a round trip, and this method may not block.
     * Use {@code acquire(executor, 0, unit)}, which makes one script call and fails with a
     * {@link WaitTimeoutException} if refused.
     *
     * @throws UnsupportedOperationException always
     */
    @Override
    public Permit tryAcquire() {
        throw new UnsupportedOperationException("RedisSemaphore " + name + " cannot answer without a round trip"
                + " to Redis; use acquire(executor, 0, unit), which fails with WaitTimeoutException when refused");
    }

    /**
     * {@code limit}; {@code inUse}: permits held by this JVM; {@code available}: free permits
     * fleet-wide as of the last script reply this JVM saw; {@code queued}: this JVM's waiters.
     */
    @Override
    public LimiterStatistics statistics() {
        int queued;
        synchronized (lock) {
            queued = waiters.size();
        }
        return new LimiterStatistics(limit, heldHere.get(), Math.max(0, available.get()), queued);
    }

    @Override
    public String toString() {
        LimiterStatistics s = statistics();
        return "RedisSemaphore(" + name + ", limit " + limit + ", held here " + s.inUse()
                + ", available " + s.available() + ", queued " + s.queued() + ")";
    }

    // --- acquiring ------------------------------------------------------------------------------

    /** @param timeoutNanos -1: untimed; 0: now or never; > 0: timed */
    private Future<RedisPermit> acquire0(EventExecutor executor, int permits, long timeoutNanos) {
        Objects.requireNonNull(executor, "executor");
        if (permits < 1 || permits > limit) {
            throw new IllegalArgumentException("permits: " + permits + " (expected 1.." + limit + ")");
        }
        Future<RedisPermit> refused = Promises.failedIfShutDown(executor,
                "the completion of an acquire on RedisSemaphore " + name + ": a lease granted to it would be lost");
        if (refused != null) {                    // before anything is queued, counted or sent
            return refused;
        }
        if (fleet.schedulerShuttingDown()) {      // no poll, no renewal: a grant could not be held
            return executor.newFailedFuture(fleet.schedulerDown("RedisSemaphore " + name));
        }
        if (timeoutNanos > 0 && executor.isShuttingDown()) {
            // it would accept the timer and cancel it at the next turn of its shutdown loop
            return executor.newFailedFuture(Promises.shuttingDown(executor,
                    "run the timeout of a wait for RedisSemaphore " + name + " (nothing was queued or sent)"));
        }
        Waiter w = new Waiter(executor, permits);
        boolean direct;
        long seq;
        Throwable refusal = null;
        synchronized (lock) {
            w.ticket = tickets++;
            seq = notices;
            // now-or-never asks Redis whenever nobody is queued: the hint may be stale
            direct = waiters.isEmpty() && !headInFlight
                    && (timeoutNanos == 0 || available.get() - directInFlight >= permits);
            if (closed) {
                refusal = closedException();
            } else if (!fleet.isConnected()) {
                refusal = fleet.notConnected("RedisSemaphore " + name);
            } else if (direct) {
                directInFlight += permits;
            } else {
                if (timeoutNanos == 0) {
                    refusal = new WaitTimeoutException("RedisSemaphore " + name + ": others are waiting");
                } else if (waiters.size() >= fleet.maxPending()) {
                    refusal = new QueueFullException("RedisSemaphore " + name + ": " + waiters.size() + " waiting");
                } else {
                    waiters.add(w);
                }
            }
        }
        if (refusal != null) {
            w.claim();
            w.setFailure(refusal);
            return w;
        }
        if (timeoutNanos > 0) {
            RuntimeException e = w.startTimer(timeoutNanos);
            if (e != null) {                      // shut down since the check, or cannot time: undo, then fail
                if (direct) {
                    directDone(permits);
                }
                fail(w, e);
                return w;
            }
        }
        if (!direct) {
            drive();
        } else if (w.isClaimed()) {               // ended already (cancelled, or its timer lost): ask nothing
            directDone(permits);
            drive();
        } else {
            attemptDirect(w, seq, timeoutNanos == 0);
        }
        return w;
    }

    /** The uncontended path: one script call; a refusal joins the local queue. */
    private void attemptDirect(Waiter w, long seq, boolean nowOrNever) {
        if (!fleet.isConnected()) {               // nothing sent, nothing to give back
            directDone(w.permits);
            fail(w, fleet.notConnected("RedisSemaphore " + name));
            return;
        }
        String lease = fleet.newLeaseId();
        sendAcquire(w.permits, lease).whenComplete((reply, error) -> {
            if (error != null) {                  // outcome unknown: the call may have taken the lease
                abandon(lease, w.permits);
                directDone(w.permits);
                fail(w, error);
                return;
            }
            long code = (Long) reply.get(0);
            if (code == 1) {
                directDone(w.permits);
                deliver(w, lease, reply);
                drive();
            } else {
                available.set((Long) reply.get(1));
                if (nowOrNever) {
                    directDone(w.permits);
                    timeOut(w);
                    drive();
                } else {
                    enqueueRefused(w, seq, (Long) reply.get(2));
                }
            }
        });
    }

    private void directDone(int permits) {
        synchronized (lock) {
            directInFlight -= permits;
        }
    }

    /** A direct call was refused: it queues at its arrival place. */
    private void enqueueRefused(Waiter w, long seq, long hintMillis) {
        boolean now = false;
        boolean cannotPoll = false;
        Throwable refusal = null;
        synchronized (lock) {
            directInFlight -= w.permits;          // in the same critical section as the insertion
            if (w.isDone()) {
                now = true;                       // cancelled or timed out meanwhile: the head may go
            } else if (closed) {
                refusal = closedException();
            } else if (waiters.size() >= fleet.maxPending()) {
                refusal = new QueueFullException("RedisSemaphore " + name + ": " + waiters.size() + " waiting");
            } else {
                waiters.add(w);
                if (!headInFlight && directInFlight == 0) {
                    if (notices != seq) {
                        now = true;               // a release crossed our refusal
                    } else {
                        cannotPoll = !arm(hintMillis);
                    }
                }
            }
        }
        if (refusal != null) {
            fail(w, refusal);
        } else if (cannotPoll) {
            schedulerDown();
        } else if (now) {
            drive();
        }
    }

    /** Sends one attempt for the head of the queue, unless one is already out. */
    private void drive() {
        if (!fleet.isConnected() && !fleet.closed()) {
            failAll(fleet.notConnected("RedisSemaphore " + name), Long.MAX_VALUE);   // nobody here can be served now
            return;
        }
        if (fleet.schedulerShuttingDown()) {
            schedulerDown();                      // a grant could not be renewed: ask for nobody
            return;
        }
        Waiter head = null;
        List<Waiter> dead = null;                 // waiters whose executor shut down: never asked for
        long seq = 0;
        long arrivedBefore = 0;                   // the tickets of the waiters queued when it is sent
        synchronized (lock) {
            if (headInFlight || directInFlight > 0 || closed) {
                return;                           // a reply to come will drive again
            }
            for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
                Waiter w = it.next();
                if (w.isDone()) {
                    it.remove();
                } else if (w.executor().isShutdown()) {
                    it.remove();
                    if (dead == null) {
                        dead = new ArrayList<>();
                    }
                    dead.add(w);
                } else {
                    head = w;
                    break;
                }
            }
            if (head != null) {
                headInFlight = true;
                seq = notices;
                arrivedBefore = tickets;
            }
        }
        if (dead != null) {
            for (Waiter w : dead) {
                if (w.claim()) {
                    refuseShutDown(w, "it left the queue unserved");
                }
            }
        }
        if (head != null) {
            attemptHead(head, seq, arrivedBefore);
        }
    }

    /** One acquire for the head {@code h}; {@code seq}: notices then, {@code arrivedBefore}: tickets then. */
    private void attemptHead(Waiter h, long seq, long arrivedBefore) {
        String lease = fleet.newLeaseId();
        sendAcquire(h.permits, lease).whenComplete((reply, error) -> {
            boolean again = false;
            if (error != null) {                  // outcome unknown: the call may have taken the lease
                abandon(lease, h.permits);
                synchronized (lock) {
                    headInFlight = false;
                }
                // Redis could not decide for those who waited through this call; a waiter that
                // came later (the connection may be back by now) gets an attempt of its own
                failAll(error, arrivedBefore);
                drive();
                return;
            }
            long code = (Long) reply.get(0);
            if (code == 1) {
                synchronized (lock) {
                    headInFlight = false;
                    waiters.remove(h);
                }
                deliver(h, lease, reply);
                again = true;
            } else {
                available.set((Long) reply.get(1));
                boolean cannotPoll = false;
                synchronized (lock) {
                    headInFlight = false;
                    again = notices != seq || h.isDone();
                    if (!again) {
                        cannotPoll = !arm((Long) reply.get(2));
                    }
                }
                if (cannotPoll) {
                    schedulerDown();
                }
            }
            if (again) {
                drive();
            }
        });
    }

    /**
     * Arms the fallback timer to fire within {@code hintMillis} (if >= 0) and within maxPoll.
     *
     * @return {@code false} if it cannot be armed, Lettuce's computation executor shutting down
     *         (the caller then fails the queue, after the lock: {@link #schedulerDown()})
     */
    private boolean arm(long hintMillis) {
        assert Thread.holdsLock(lock);
        if (fleet.schedulerShuttingDown()) {
            return false;                         // it would cancel the timer at its next turn
        }
        long delay = fleet.maxPollNanos();
        if (hintMillis >= 0) {
            delay = Math.min(delay, TimeUnit.MILLISECONDS.toNanos(Math.max(1, hintMillis)));
        }
        long at = System.nanoTime() + delay;
        if (fallback != null && !fallback.isDone() && fallbackAtNanos - at <= 0) {
            return true;                          // an earlier timer is armed already
        }
        long n = ++fallbacksArmed;
        ScheduledFuture<?> t;
        try {
            t = fleet.scheduler().schedule(() -> onFallback(n), delay, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            return false;
        }
        cancelFallbackLocked();
        fallback = t;
        fallbackAtNanos = at;
        return !Timers.listenLost(t, fleet.scheduler(), fallbackLost);   // false: it will never run
    }

    /** Cancels the fallback timer, if any, after removing our listener (so it sees only foreign cancels). */
    private void cancelFallbackLocked() {
        assert Thread.holdsLock(lock);
        Timers.cancel(fallback, fallbackLost);
        fallback = null;
    }

    /** The fallback timer number {@code n} fired (a timer replaced meanwhile may still fire: harmless). */
    private void onFallback(long n) {
        synchronized (lock) {
            if (fallbacksArmed == n) {
                fallback = null;                  // fired: the next refusal arms a new one
            }
        }
        drive();
    }

    /**
     * The fallback timer was cancelled, not by us ({@link #cancelFallbackLocked} removes this
     * listener first): Lettuce's computation executor is shutting down (it cancels every
     * scheduled task, on its own thread). Nothing would ask Redis again for the queue.
     */
    private void onFallbackLost(Future<Object> timer) {
        if (!timer.isCancelled() || Thread.holdsLock(lock)) {
            return;                               // it ran; or added by arm() to a timer cancelled already: arm() reports it
        }
        synchronized (lock) {
            if (fallback != timer) {
                return;
            }
            fallback = null;
        }
        schedulerDown();
    }

    /**
     * Lettuce's computation executor is shutting down: no queued waiter can be polled for, nor
     * any grant renewed; every queued waiter fails now (their places are free before they hear).
     */
    private void schedulerDown() {
        failAll(fleet.schedulerDown("RedisSemaphore " + name), Long.MAX_VALUE);
    }

    /** A release notice (pub/sub, resubscription, or a release by this JVM). */
    void onNotice() {
        synchronized (lock) {
            notices++;
        }
        drive();
    }

    private CompletionStage<List<Object>> sendAcquire(int permits, String lease) {
        return fleet.run(Fleet.ACQUIRE, ScriptOutputType.MULTI, keys,
                Integer.toString(limit), Integer.toString(permits), lease, Long.toString(leaseMillis), channel);
    }

    /** Hands a granted lease to its waiter, or releases it if the waiter ended meanwhile. */
    private void deliver(Waiter w, String lease, List<Object> reply) {
        available.set((Long) reply.get(1));
        if (!w.claim()) {
            abandon(lease, w.permits);
            return;
        }
        w.cancelTimer();                          // first: from another thread, a task for its executor
        if (w.executor().isShutdown()) {          // no listener of it could run: the lease would be lost
            abandon(lease, w.permits);            // released by id; the release notice drives the queue
            refuseShutDown(w, "the lease granted to it was released, for the next waiter");
            return;
        }
        if (fleet.schedulerShuttingDown()) {      // nobody could renew the lease
            abandon(lease, w.permits);
            w.setFailure(fleet.schedulerDown("RedisSemaphore " + name));
            return;
        }
        heldHere.addAndGet(w.permits);
        RedisPermit permit;
        try {
            permit = new RedisPermit(this, lease, w.permits, w.executor());
        } catch (RuntimeException | Error e) {    // e.g. the renewal cannot be scheduled: Lettuce's
            heldHere.addAndGet(-w.permits);       // computation executor is shut down; a lease
            abandon(lease, w.permits);            // nobody would renew is not handed out
            w.setFailure(e);
            return;
        }
        if (w.executor().isShutdown()) {          // again, just before completing: the window of the
            permit.releaseIgnored();              // residual race is the completion alone, not the
            refuseShutDown(w, "the lease granted to it was released, for the next waiter");   // permit's making
            return;
        }
        w.setSuccess(permit);
    }

    /** Fails a waiter, claimed by the caller, whose executor has shut down (its listeners will never run). */
    private void refuseShutDown(Waiter w, String what) {
        w.cancelTimer();
        w.setFailure(Promises.shutDown(w.executor(), "the completion of its wait for RedisSemaphore " + name
                + " (" + what + ")"));
    }

    /**
     * The waiter's timer was cancelled by its executor, which cancels every scheduled task as it
     * shuts down: the timeout will never run, so the wait ends now, as a timeout would.
     */
    private void timerLost(Waiter w) {
        fail(w, Promises.shutDown(w.executor(), "the timeout of its wait for RedisSemaphore " + name
                + " (an executor shutting down cancels its timers, so the wait ended at once)"));
    }

    private void timeOut(Waiter w) {
        fail(w, new WaitTimeoutException("RedisSemaphore " + name + ": no permit within the timeout"));
    }

    private void fail(Waiter w, Throwable cause) {
        if (w.claim()) {
            w.cancelTimer();
            remove(w);
            w.setFailure(cause);
            drive();
        }
    }

    /** A waiter ended without a grant: frees its place (the caller then lets the next one ask). */
    private void remove(Waiter w) {
        synchronized (lock) {
            waiters.remove(w);
        }
    }

    /** Releases a lease whose owner is gone or unknown; harmless if it was never granted. */
    private void abandon(String lease, int permits) {
        sendRelease(lease).whenComplete((result, error) -> {
            if (error == null && result == 1) {
                freed(permits);
            }
        });
    }

    // --- permits --------------------------------------------------------------------------------

    CompletionStage<Long> sendRelease(String lease) {
        return fleet.run(Fleet.RELEASE, ScriptOutputType.INTEGER, keys, lease, channel);
    }

    CompletionStage<List<Object>> sendRenew(String lease) {
        return fleet.run(Fleet.RENEW, ScriptOutputType.MULTI, keys, lease, Long.toString(leaseMillis), channel);
    }

    /** Called once per permit: by its first release, or when it was collected without one. */
    void released(int permits) {
        heldHere.addAndGet(-permits);
    }

    /** A release script freed {@code permits}: raise the hint, and let our waiters ask. */
    void freed(int permits) {
        available.accumulateAndGet(permits, (a, p) -> Math.min(limit, a + p));
        onNotice();
    }

    Fleet fleet() {
        return fleet;
    }

    // --- Redis unreachable ----------------------------------------------------------------------

    /** The command connection dropped (a Lettuce I/O thread): every local waiter fails now. */
    void onDisconnected() {
        failAll(new RedisUnavailableException("RedisSemaphore " + name
                + ": Redis unreachable (connection lost; Lettuce is reconnecting)", null), Long.MAX_VALUE);
    }

    /**
     * Fails every queued waiter whose ticket is below {@code arrivedBefore} with {@code cause}: a
     * script call failed or the connection is down, so Redis cannot grant them now. Their places
     * are free before they hear; a head attempt still out finds its waiter ended and releases
     * what it gets.
     */
    private void failAll(Throwable cause, long arrivedBefore) {
        List<Waiter> failed;
        synchronized (lock) {
            failed = takeOutLocked(arrivedBefore);
        }
        failTaken(failed, cause);
    }

    /** Takes the queued waiters with a ticket below {@code arrivedBefore} out; the last one out stops the timer. */
    private List<Waiter> takeOutLocked(long arrivedBefore) {
        assert Thread.holdsLock(lock);
        List<Waiter> taken = new ArrayList<>();
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (w.ticket >= arrivedBefore) {
                break;                            // ordered by ticket: the rest came later
            }
            taken.add(w);
            it.remove();
        }
        if (waiters.isEmpty()) {
            cancelFallbackLocked();
        }
        return taken;
    }

    /** Fails waiters taken out of the queue, without the lock. */
    private static void failTaken(List<Waiter> taken, Throwable cause) {
        for (Waiter w : taken) {
            if (w.claim()) {
                w.cancelTimer();
                w.setFailure(cause);
            }
        }
    }

    // --- closing --------------------------------------------------------------------------------

    void close() {
        List<Waiter> failed;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            failed = takeOutLocked(Long.MAX_VALUE);
        }
        failTaken(failed, closedException());
        onClose.accept(this);
    }

    private ClosedException closedException() {
        return new ClosedException("RedisSemaphore " + name + " closed", null);
    }

    /**
     * One wait: the promise the caller gets, and the claim that decides how it ends (grant,
     * cancel, timeout or close), exactly once.
     */
    private final class Waiter extends DefaultPromise<RedisPermit> implements GenericFutureListener<Future<Object>> {
        private static final AtomicIntegerFieldUpdater<Waiter> CLAIMED =
                AtomicIntegerFieldUpdater.newUpdater(Waiter.class, "claimed");

        final int permits;
        long ticket;                               // arrival order; written once under the lock
        private volatile int claimed;              // 0 -> 1 once, by CAS: the end is decided
        private volatile ScheduledFuture<?> timer; // written once by startTimer; null if untimed

        Waiter(EventExecutor executor, int permits) {
            super(executor);
            this.permits = permits;
        }

        boolean claim() {
            return CLAIMED.compareAndSet(this, 0, 1);
        }

        boolean isClaimed() {
            return claimed != 0;
        }

        /**
         * Arms the timeout on the waiter's executor, as the core's waiters do (netty-sync's
         * WaitQueue, "Timers that die with their executor"): this waiter listens to its timer,
         * and a cancellation it sees was made by the executor as it shut down ({@link
         * #cancelTimer} removes the listener first), so the wait then ends at once
         * ({@link #timerLost}). Called once, after the waiter is queued or its direct call
         * counted, by the thread that made it.
         *
         * @return the executor's refusal (shut down, or cannot time: ImmediateEventExecutor
         *         throws UnsupportedOperationException), with nothing armed; or {@code null}
         */
        RuntimeException startTimer(long nanos) {
            EventExecutor executor = executor();
            ScheduledFuture<?> t;
            try {
                t = executor.schedule(() -> timeOut(this), nanos, TimeUnit.NANOSECONDS);
            } catch (RuntimeException e) {
                return e;
            }
            timer = t;
            boolean lost = Timers.listenLost(t, executor, this);
            if (isClaimed()) {
                cancelTimer();                    // ended before the timer was published
            } else if (lost) {
                timerLost(this);                  // no one will run it
            }
            return null;
        }

        /** The timer's listener: a cancellation not ours is the executor's (it is shutting down). */
        @Override
        public void operationComplete(Future<Object> t) {
            if (t.isCancelled() && t == timer) {
                timerLost(this);
            }
        }

        /** Cancels the timeout, if armed: our listener first, so it only ever sees the executor's cancels. */
        void cancelTimer() {
            Timers.cancel(timer, this);
        }

        @Override
        protected EventExecutor executor() {
            return super.executor();
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (!claim()) {
                return false;                       // granted, timed out or closed already
            }
            cancelTimer();
            remove(this);                           // the place is free before listeners run
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            drive();
            return cancelled;
        }
    }
}
