package dev.nettysync;

import dev.nettysync.internal.Promises;
import dev.nettysync.internal.SucceededFutures;
import dev.nettysync.internal.VarHandles;
import dev.nettysync.internal.WaitQueue;
import dev.nettysync.internal.Waiter;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A counting semaphore for Netty event loops: {@code acquire} returns a {@link Future} instead
 * of blocking, in the shape of Python's {@code asyncio.Semaphore}.
 *
 * <p>A semaphore holds a number of permits. {@link #acquire(EventExecutor)} takes one (or
 * {@code n}) when available; otherwise the caller is queued and the returned future completes
 * once a {@link #release()} hands the permits over. Typical use in a handler, limiting the
 * number of concurrent calls to a backend:
 * <pre>{@code
 * AsyncSemaphore backendSlots = new AsyncSemaphore(32);   // shared by all event loops
 *
 * public void channelRead(ChannelHandlerContext ctx, Object msg) {
 *     backendSlots.withPermit(ctx.executor(), () -> backend.call(msg))
 *                 .addListener(f -> ctx.writeAndFlush(f.isSuccess() ? f.getNow() : error(f.cause())));
 * }
 * }</pre>
 *
 * <h2>Threads and executors</h2>
 * All methods are thread-safe; one semaphore may be shared by every event loop of a group and
 * by plain threads. No method ever blocks: the waiting methods return a future created on the
 * {@link EventExecutor} the caller names (normally {@code ctx.executor()}), so its listeners run
 * on that executor, and a timeout is timed by that executor's scheduler. Internal state is
 * guarded by compare-and-set and, on the slow path, by a monitor held only for O(1) list
 * operations (O(k) when one release serves k waiters); no user code, listener or promise
 * completion ever runs while it is held, so listeners may call back into the semaphore.
 *
 * <h2>Fairness</h2>
 * Strictly FIFO. While anyone is queued, {@link #tryAcquire()} fails and new {@code acquire}
 * calls queue behind, even if permits are available; a release hands permits directly to the
 * head waiter, so no newcomer can barge in between. A waiter asking for several permits is
 * served only once all of them are available; the permits released meanwhile are counted by
 * {@link #availablePermits()} but reserved for it, so it is not starved by later small requests,
 * and if it is cancelled or times out they go on to the next waiters.
 *
 * <h2>Changing the limit</h2>
 * {@link #reducePermits(int)} shrinks the permits live, never revoking a held one (the
 * available count may go negative until enough releases come in), and {@link #release(int)}
 * grows them, serving queued waiters at once in FIFO order: an adaptive limit drives one
 * semaphore while it is in use.
 *
 * <h2>Monitoring</h2>
 * {@link #availablePermits()}, {@link #queueLength()} and {@link #locked()} are racy snapshots
 * read without locking; {@link #totalPermits()} and {@link #statistics()} are exact, taken
 * under the internal monitor. The <b>total</b> is the permits the semaphore manages, held and
 * available together: the initial count, lowered by {@code reducePermits}, and raised by a
 * release that takes the available permits above it (a plain semaphore may be released more
 * often than acquired, as asyncio's may; an {@link AsyncBoundedSemaphore} refuses that, so its
 * total is its bound). The semaphore does not record who holds, so it counts as held
 * {@code total - available}: exact while every release gives back a permit that was acquired
 * (through any API), and at rest the total equals the available permits.
 *
 * <h2>How a wait ends</h2>
 * The future returned by {@code acquire} completes in one of four ways:
 * <ul>
 *   <li>successfully: the caller now holds the permits and must {@link #release() release}
 *       them;</li>
 *   <li>cancelled, by the caller's {@link Future#cancel(boolean) cancel}: the waiter leaves the
 *       queue at once (O(1)) and holds nothing. A grant is final: once a release has handed the
 *       permits to the waiter (under the internal monitor), a {@code cancel} returns
 *       {@code false}, even if the future's completion has not run yet, and the caller holds
 *       the permits and must release them. So {@code cancel} returns {@code true} exactly when
 *       the waiter left the queue holding nothing;</li>
 *   <li>with a {@link WaitTimeoutException} (timed variants), having left the queue and holding
 *       nothing;</li>
 *   <li>with a {@link QueueFullException}, at once, when {@code maxPending} waiters are already
 *       queued, or with a {@link ClosedException} after {@link #close()};</li>
 *   <li>with a {@link java.util.concurrent.RejectedExecutionException}, holding nothing, if
 *       the caller's executor has shut down: at once if it had when the wait would have
 *       queued, or, if it shuts down while the wait is queued, when the permits are handed to
 *       it: none of its listeners could ever run to use and release them, so they go on to the
 *       next waiter instead. A timed wait ends sooner: as the executor shuts down, which
 *       cancels its timeout (see "Executors that shut down").</li>
 * </ul>
 * Whatever the interleaving of release, cancel, timeout and close, no permit is lost or
 * duplicated. A timeout, like a grant, is final once decided: a {@code cancel} racing it
 * returns {@code false} and the future fails with the {@link WaitTimeoutException}.
 *
 * <h2>Executors that shut down</h2>
 * Netty runs a future's listeners on its executor; once that executor has shut down it runs
 * none, and only logs "Failed to submit a listener notification task". So:
 * <ul>
 *   <li><b>Queued waits are checked when granted.</b> The executor's {@code isShutdown()} is
 *       read once per grant, outside the internal monitor; a shut-down one fails the wait (see
 *       above) and its permits serve the next waiter. Residual race: an executor that moves to
 *       {@code SHUTDOWN} between that read and the completion's submission of the listeners
 *       loses that grant; Netty gives no hook to learn of it. The window is a few instructions
 *       (widened when the completing thread is preempted inside it), and a graceful shutdown
 *       still runs tasks through its quiet period; cancel the waits of an event loop before
 *       shutting it down to be exact.</li>
 *   <li><b>Timed waits end as their executor shuts down.</b> A Netty executor cancels its
 *       timers as it shuts down, so a queued wait's timeout would never run and the wait would
 *       keep its place (a {@code maxPending} slot, its count in {@link #queueLength()}, the
 *       permits reserved for a multi-permit head) until a grant reached it. The wait listens
 *       to its timer instead: when the executor cancels it, the wait leaves the queue as a
 *       timeout would (its reserved permits serving the next waiters) and fails with a
 *       {@link java.util.concurrent.RejectedExecutionException}, on the executor's own thread,
 *       which still runs its listeners then. A timed wait that would queue on an executor
 *       already shutting down ends so at once. Nothing of this costs an untimed wait or a
 *       grant anything. Residual race: a timer scheduled from another thread in the instant
 *       the executor moves to {@code SHUTDOWN}; the wait is then left to the grant-time check
 *       above.</li>
 *   <li><b>The fast path is not checked.</b> An {@code acquire} on an executor that has
 *       already shut down, with a permit free and nobody queued, takes the permit and returns
 *       a succeeded future whose listeners never run (the same as Netty's own
 *       {@code executor.newSucceededFuture()} on that executor). The check would be a volatile
 *       read on the uncontended path (one CAS, a few nanoseconds), and the caller is not lost
 *       here: it runs on another thread and holds the future, so {@code isSuccess()} tells it
 *       that it holds the permit and must release it. {@code tryAcquire} and the permit it
 *       returns are the same as ever. {@link #withPermit(EventExecutor, Supplier) withPermit},
 *       whose action would never run, checks first and refuses a shut-down executor before
 *       taking anything.</li>
 *   <li><b>An executor that refuses tasks while it runs</b> (a bounded task queue that is
 *       full, Netty's {@code maxPendingTasks}) drops a listener notification as a shut-down one
 *       does, but does not look shut down, so nothing above catches it: a grant whose
 *       notification it refuses reaches no listener and its permits are lost, as is the action
 *       (and so the release) of a {@code withPermit} whose notification it refuses. Do not
 *       bound the task queue of an executor that waits here. (Its refusal to cancel a timer is
 *       harmless: the timer finds nothing to do when it runs.)</li>
 * </ul>
 *
 * <h2>Where the next holder's listeners run</h2>
 * A {@link #release()} that hands permits to a waiter completes the waiter's future on the
 * releasing thread, after the internal monitor is dropped. By Netty's promise semantics, when
 * the waiter's executor is the one the releasing thread runs on (the same event loop), its
 * listeners run <b>inline, inside {@code release()}</b> (up to Netty's
 * {@code io.netty.defaultPromise.maxListenerStackDepth}, 8 by default, then through
 * {@code execute}); otherwise they are submitted to the waiter's executor. asyncio instead
 * always defers a woken task to a later turn of the loop. So code that releases and then
 * acquires again, or reads shared state after {@code release()}, must expect the next holder
 * to have run in between: its own new {@code acquire} queues behind that holder (FIFO), and
 * state the holders guard may have changed by the time {@code release()} returns. To defer
 * the handoff, release from a task of its own, {@code ctx.executor().execute(sem::release)},
 * or have the waiter's listeners hop themselves ({@code f -> ctx.executor().execute(...)}).
 * The same holds for {@link AsyncLock#unlock()}, {@link AsyncEvent#set()},
 * {@link AsyncCondition#signal()} (through the lock) and {@link AsyncBarrier#await} (the last
 * party completes the others).
 *
 * <h2>Memory consistency effects</h2>
 * Actions in a thread before a {@code release} happen-before the successful completion of the
 * acquire the permits are handed to, and hence before that future's listeners run. A successful
 * {@code tryAcquire} happens-after the release that made its permits available.
 *
 * @see AsyncBoundedSemaphore
 * @see AsyncLock
 */
public class AsyncSemaphore {

    /*
     * Implementation notes
     *
     * State. One 64-bit word: the available permits as a signed int in the high 32 bits
     * (negative after reducePermits took more than was free), a resize epoch and three flags in
     * the low 32 bits:
     *
     *     63                       32 31                   3    2        1       0
     *     [ available permits (int) ][ resize epoch (29 b) ][RESIZING][CLOSED][QUEUED]
     *
     * The count sits above the flags so that adding or subtracting permits (n << 32) is plain
     * signed arithmetic that can never borrow into or carry out of the flags; a range check
     * (in long arithmetic) comes before every change. Fast paths (tryAcquire, acquire and
     * release when nobody waits) are one CAS on the word and run only while no flag is set. Any
     * flag sends them to the slow path under `queue`'s monitor, and flags change only under that
     * monitor. So, while a flag is set, the word is written by monitor holders alone; while none
     * is set, fast paths may CAS it concurrently and monitor holders must CAS too.
     *
     * Resizing. reducePermits subtracts under the monitor (available may go negative; held
     * permits are never revoked; waiters wait until releases bring availability back, and I2
     * keeps holding because availability only went down). Growing is release(n). The total
     * (see "Total"), which on a bounded semaphore is the bound, moves with the count, so a
     * release's check "available + n <= total" must read a total consistent with the word it
     * CASes: the reducer sets RESIZING (fast paths then fail their CAS and queue on the monitor
     * it holds), writes the total, then writes the new count and clears RESIZING in one
     * store that also bumps the epoch, so a release that read the word before the resize
     * cannot CAS it after (no ABA through a resize and a release that restores the count). A
     * fast release reads the word, then the total, and acts only by a CAS of that same word: no
     * resize step can fall between the read and a successful CAS (RESIZING or a new epoch would
     * show), so the total it used belongs to that word. A release refused as an over-release is
     * refused under the monitor, on the word and bound as they are then. (Model checking found
     * an earlier refusal outside the monitor missing a re-read of the word: a release saw the
     * old word and the new bound.) Likewise an acquire too large for the bound is refused
     * under the monitor, before it queues: checked before the monitor, it could see the old
     * bound and then queue after the resize, never to be served, or see the new bound while a
     * reader still saw the count from before the resize (model checking found both).
     *
     * Invariants (checked by the tests):
     *   I1  QUEUED is set  <=>  the queue is non-empty.
     *   I2  QUEUED is set   =>  available < permits wanted by the head waiter
     *       (a release or a head removal serves the head as far as permits allow, in the same
     *       critical section), so nobody waits while they could be served.
     *   I3  available + held = initial + releases - reductions, where "held" counts permits taken by
     *       tryAcquire and the fast path, and permits granted to waiters (unlinked under the
     *       monitor), whether or not their futures have completed yet.
     *
     * Wake-up. The waiters stand in a WaitQueue (dev.nettysync.internal), whose monitor is this
     * semaphore's lock; the semaphore keeps only the decision of whom to serve (addAndServeLocked:
     * grant the head while the available permits cover it, then make QUEUED match the queue).
     * A release adds its permits and serves, under the monitor; the queue collects the granted
     * waiters into a chain and completes them in FIFO order after the monitor is dropped.
     * Completion can run listeners inline (same executor, Netty's DefaultPromise bounds that
     * recursion at MAX_LISTENER_STACK_DEPTH and then hops through execute()), and a listener may
     * call back into the semaphore; nothing is held then, so that is safe. The queue calls
     * it again after a cancel or timeout (a multi-permit head that left may leave its
     * reserved permits to the next ones).

     * Cancellation race. Leaving the queue happens once, under the monitor, and unlinking is
     * the decision: either a granter unlinks the waiter (from then on its cancel() returns
     * false: cancel() takes the monitor and succeeds only if it unlinks the waiter itself), or
     * cancel()/the timer unlinks it first (then nothing is held). So the grant is linearizable:
     * it takes effect at the unlink, inside the releaser's critical section, and the later
     * completion (one CAS on the promise) only reports it. (The first design let a cancel win in
     * the window between unlink and completion and gave the permits back; Lincheck showed that
     * a cancel could then succeed after the same thread's release had already made the grant
     * certain. The second made the grant final with the promise's setUncancellable(), which
     * cost two extra CAS per grant; the monitor that cancel() needs anyway does the same.)
     *   I3 counts a waiter as holding its permits from that unlink on.
     *
     * Total. `total` is held + available as the semaphore can know it: the initial count, minus
     * reductions, raised to the count a release writes when that count is above it (a plain
     * semaphore grows by releases with nothing held for them). As a sequential spec: release(n)
     * sets total = max(total, available + n), reducePermits(r) sets total -= r.
     *   I4  total >= available; it holds whenever the monitor is free (inside a growing release or a resize, the monitor
     *       holder writes the word and `total` one after the other).
     *   So total - available (the "held" of statistics()) is >= 0 and <= the permits really
     *   held: a release with nothing held for it, made while others hold, counts as one of
     *   theirs coming back until the count passes the total. At rest it is 0 and the total is
     *   initial + growth - reductions.
     * A bounded semaphore's bound is its total (bound(): a release may not raise the count above
     * it, so the total never grows, and a reduction lowers both at once); a plain semaphore's
     * bound is Integer.MAX_VALUE. Keeping the total costs the fast path nothing: the release
     * fast path compares the count it would write with `total`, read after the word: on a
     * bounded semaphore that is the bound, on a plain one the point where it must grow. A
     * release that would pass it takes the monitor, which decides exactly: refuse (above
     * bound()), or add the permits and raise `total` to the count written, in one critical
     * section.
     * Every write of `total` is made under the monitor, so:
     *   - between two resizes `total` only grows, so a fast release that read an older total
     *     than the word it CASes only errs towards the monitor; a resize in between bumps the
     *     epoch, so that CAS fails. reducePermits (both kinds of semaphore) sets RESIZING, writes
     *     `total`, then the word: a release that reads the new word reads the new
     *     total (the reasoning of "Resizing", with `total` as the bound);
     *   - growing with no flag set: the release CASes the word (fast paths race on it) and then
     *     raises `total` to the count it wrote. In between, a fast release that reads the new
     *     word reads the old total, which its count exceeds, and waits for the monitor. With a
     *     flag set, `total` is raised before the word is written. Two growing releases are
     *     serialized by the monitor, each on the word as it is then: no release is lost from
     *     the total, whatever they saw before (the stress test checks the sum at rest);
     *   - totalPermits() and statistics() read `total` under the monitor, where I4 holds and
     *     `total` belongs to the word: exact, linearizable.
     * (A first design raised `total` after the fast path's CAS, outside the monitor, when the
     * count written was above it, guarded by the epoch against a resize in between: a second
     * volatile read on every release, and a window in which a reader saw the count above the
     * total.)
     */

    private static final int COUNT_SHIFT = 32;
    private static final long LOW_MASK = 0xFFFF_FFFFL;          // epoch and flags
    private static final long QUEUED = 1L;
    private static final long CLOSED = 1L << 1;
    private static final long RESIZING = 1L << 2;
    private static final long FLAGS = QUEUED | CLOSED | RESIZING;
    private static final long EPOCH_ONE = 1L << 3;
    private static final long EPOCH_MASK = LOW_MASK & ~FLAGS;

    private static final VarHandle STATE = VarHandles.field(MethodHandles.lookup(), "state", long.class);

    /** The timeout of a wait without a bound. */
    static final long UNTIMED = -1;

    @SuppressWarnings("unused") // accessed through STATE
    private volatile long state;                 // see the notes: CAS while no flag, else monitor
    private final WaitQueue<PermitWaiter> queue = new WaitQueue<>(this, new Serving()); // its monitor is the lock
    private final boolean bounded;               // the total is a bound on available permits: see bound()
    private volatile int total;                  // held + available (I4): written only under the monitor, by
                                                 // reducePermits (RESIZING set) and a release that grows it;
                                                 // read by the release fast path after the word
    private final int maxPending;                // bound on queued waiters
    private volatile Throwable closeCause;       // written once by close, under the monitor, before CLOSED

    /**
     * Creates a semaphore with {@code permits} permits and no bound on queued waiters.
     *
     * @throws IllegalArgumentException if {@code permits} is negative
     */
    public AsyncSemaphore(int permits) {
        this(permits, Integer.MAX_VALUE);
    }

    /**
     * Creates a semaphore with {@code permits} permits that queues at most {@code maxPending}
     * waiters; an {@code acquire} that would queue more fails at once with a
     * {@link QueueFullException}. {@code maxPending == 0} means "never wait".
     *
     * @throws IllegalArgumentException if either argument is negative
     */
    public AsyncSemaphore(int permits, int maxPending) {
        this(permits, maxPending, false);
    }

    /**
     * A semaphore that is bounded if {@code bounded}, for the subclasses that are one
     * ({@link AsyncBoundedSemaphore}, the locks' semaphore): its initial {@code permits} are the
     * bound, which {@code reducePermits} lowers and a release may not pass.
     */
    AsyncSemaphore(int permits, int maxPending, boolean bounded) {
        if (permits < 0) {
            throw new IllegalArgumentException("permits must be >= 0, was " + permits);
        }
        if (maxPending < 0) {
            throw new IllegalArgumentException("maxPending must be >= 0, was " + maxPending);
        }
        this.bounded = bounded;
        this.maxPending = maxPending;
        this.total = permits;                    // and, on a bounded semaphore, the bound
        this.state = (long) permits << COUNT_SHIFT;
    }

    // ---------------------------------------------------------------- acquiring

    /**
     * Acquires one permit if one is available and nobody is queued, without waiting.
     *
     * @return {@code true} if the permit was acquired (the caller must release it)
     */
    public boolean tryAcquire() {
        return tryAcquire0(1);
    }

    /**
     * Acquires {@code permits} permits if that many are available and nobody is queued, without
     * waiting; otherwise takes none.
     *
     * @throws IllegalArgumentException if {@code permits < 1}
     */
    public boolean tryAcquire(int permits) {
        return tryAcquire0(checkPermits(permits));
    }

    /**
     * Acquires one permit, waiting in FIFO order if none is available.
     *
     * @param executor the caller's executor (normally {@code ctx.executor()}): the returned future
     *                 belongs to it and its listeners run on it
     * @return a future that succeeds once the permit is held; see the class documentation for
     *         the ways it can end
     */
    public Future<Void> acquire(EventExecutor executor) {
        return acquire0(checkExecutor(executor), 1, UNTIMED, false);
    }

    /** As {@link #acquire(EventExecutor)}, for {@code permits} permits at once. */
    public Future<Void> acquire(EventExecutor executor, int permits) {
        return acquire0(checkExecutor(executor), checkPermits(permits), UNTIMED, false);
    }

    /**
     * As {@link #acquire(EventExecutor)}, but gives up after {@code timeout}: the future then
     * fails with a {@link WaitTimeoutException}. The timer runs on {@code executor}. A timeout
     * of zero or less succeeds only if the permit is available at once.
     *
     * <p>On an executor already shut down, a wait that would have to queue fails at once with a
     * {@link RejectedExecutionException}, timed or not: a permit granted to
     * it later would reach no listener and be lost. One that shuts down while a wait is queued
     * fails it in the same way when the permit is handed to it, and the permit goes to the next
     * waiter (see "Executors that shut down" in the class documentation).
     */
    public Future<Void> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return acquire(executor, 1, timeout, unit);
    }

    /** As {@link #acquire(EventExecutor, long, TimeUnit)}, for {@code permits} permits at once. */
    public Future<Void> acquire(EventExecutor executor, int permits, long timeout, TimeUnit unit) {
        return acquireNanos(executor, permits, WaitQueue.toNanos(timeout, unit));
    }

    /**
     * {@code permits} permits, waiting at most {@code timeoutNanos} (>= 0), or without a bound
     * if {@link #UNTIMED}: the timed and untimed acquire in one, for the locks built on this.
     */
    final Future<Void> acquireNanos(EventExecutor executor, int permits, long timeoutNanos) {
        return acquire0(checkExecutor(executor), checkPermits(permits), timeoutNanos, false);
    }

    /**
     * Acquires a permit, runs {@code action} on {@code executor}, and releases the permit exactly
     * once when the action's own future completes, however it completes (success, failure,
     * cancellation by the action itself), or at once if {@code action} throws or returns
     * {@code null}.
     *
     * <p>The returned future completes like the action's future, after the permit is released.
     * If the acquire fails (queue full, closed), it fails the same way and the action never runs.
     * If {@code executor} has shut down, which would never run the action nor the release, it
     * fails with a {@link RejectedExecutionException} and no permit is taken; one that shuts
     * down while the call waits in the queue has its grant passed on to the next waiter (the
     * returned future's listeners could not run anyway). Once the action runs, the permit is
     * released by a listener of the action's own future, on that future's executor: one that
     * has shut down by then never runs it.
     * The action must not release the permit itself: if the release then fails (a bounded
     * semaphore, a lock), the returned future fails with that {@link IllegalStateException}
     * (added as suppressed if the action threw) instead of staying pending.
     *
     * <p><b>Cancelling the returned future</b> never shortens the time the permit is held by
     * running code, so the permit count really bounds the actions that run:
     * <ul>
     *   <li>while still queued: the waiter leaves the queue and the action never runs;</li>
     *   <li>after the grant, before the action started: the action never runs and the permit
     *       goes back at once;</li>
     *   <li>while the action runs: the returned future is cancelled at once, for the caller, but
     *       the action's own future is left alone and the permit is released only when that
     *       future completes by itself. Java cannot stop the action's code, and cancelling its
     *       future would complete it while that code may still run, letting another holder in
     *       beside it (kotlinx.coroutines' {@code withPermit} makes the same promise). An action
     *       that wants to hear of the cancellation uses
     *       {@link #withPermit(EventExecutor, Function)}.</li>
     * </ul>
     */
    public <T> Future<T> withPermit(EventExecutor executor, Supplier<? extends Future<T>> action) {
        return withPermit(executor, asFunction(action));
    }

    /**
     * As {@link #withPermit(EventExecutor, Supplier)}, but the action receives the future
     * returned to the caller, so that it can observe a cancellation: {@code isCancelled()} tells
     * whether the caller gave up, and a listener added to it runs when that happens. The action
     * decides what to do; the permit is still released only when the action's own future
     * completes. An action whose future really stops the work when cancelled (a timer, a call
     * whose {@code cancel} aborts it) can pass the cancellation on:
     * <pre>{@code
     * sem.withPermit(ex, caller -> {
     *     Future<Response> call = backend.call(request);
     *     caller.addListener(c -> { if (c.isCancelled()) call.cancel(false); });
     *     return call;            // the permit is released when `call` completes (cancelled here)
     * });
     * }</pre>
     * The action must not complete the future it receives.
     */
    public <T> Future<T> withPermit(EventExecutor executor,
                                    Function<? super Future<T>, ? extends Future<T>> action) {
        Objects.requireNonNull(action, "action");
        Future<T> refused = refuseIfShutDown(executor);
        return refused != null ? refused : runHolding(acquire(executor), executor, action);
    }

    /**
     * As {@link #withPermit(EventExecutor, Supplier)}, but gives up waiting for the permit after
     * {@code timeout}: the returned future then fails with a {@link WaitTimeoutException} and the
     * action never runs. The timeout bounds the wait in the queue only, not the action.
     */
    public <T> Future<T> withPermit(EventExecutor executor, long timeout, TimeUnit unit,
                                    Supplier<? extends Future<T>> action) {
        return withPermit(executor, timeout, unit, asFunction(action));
    }

    /**
     * As {@link #withPermit(EventExecutor, long, TimeUnit, Supplier)}, the action receiving the
     * caller's future as in {@link #withPermit(EventExecutor, Function)}.
     */
    public <T> Future<T> withPermit(EventExecutor executor, long timeout, TimeUnit unit,
                                    Function<? super Future<T>, ? extends Future<T>> action) {
        Objects.requireNonNull(action, "action");
        Future<T> refused = refuseIfShutDown(executor);
        return refused != null ? refused : runHolding(acquire(executor, timeout, unit), executor, action);
    }

    /**
     * One permit that is owed to the caller: neither {@link #close()} nor {@code maxPending}
     * refuses it, and close() leaves it queued. For a condition waiter taking back the lock it
     * released to wait (AsyncLock.relock), so that its caller always holds the lock again.
     */
    final Future<Void> acquireOwed(EventExecutor executor) {
        return acquire0(executor, 1, UNTIMED, true);
    }

    private Future<Void> acquire0(EventExecutor executor, int n, long timeoutNanos, boolean owed) {
        if (tryAcquire0(n)) {
            return SucceededFutures.of(executor);
        }
        return acquireSlow(executor, n, timeoutNanos, owed);
    }

    // Kept apart from acquire0 so that the uncontended acquire compiles to a small body (the slow
    // path holds the monitor): 8.74 -> 8.22 ns per acquire+release, bench/results/p1-split-20261127.
    private Future<Void> acquireSlow(EventExecutor executor, int n, long timeoutNanos, boolean owed) {
        PermitWaiter w;
        synchronized (queue) {
            int bound = bound();
            if (n > bound) {              // under the monitor: the bound of the word it queues on
                throw new IllegalArgumentException("cannot acquire " + n + " permits of " + this
                        + ": it never holds more than " + bound);
            }
            for (;;) {
                long s = state;
                if ((s & CLOSED) != 0 && !owed) {
                    return executor.newFailedFuture(closedException());
                }
                if ((s & QUEUED) == 0 && available(s) >= n) {   // released since the fast path
                    if (STATE.compareAndSet(this, s, s - permits(n))) {
                        granted(n);
                        return SucceededFutures.of(executor);
                    }
                    continue;
                }
                if (timeoutNanos == 0) {
                    return executor.newFailedFuture(new WaitTimeoutException(
                            "no wait allowed and " + n + " permit(s) of " + this + " not available"));
                }
                if (executor.isShutdown()) {      // checked first: the message is built only then
                    return executor.newFailedFuture(Promises.shutDown(executor, "the wait for " + this
                            + ": a grant to it would be lost"));
                }
                if (queue.size() >= maxPending && !owed) {
                    return executor.newFailedFuture(new QueueFullException(
                            "too many waiters: " + this + " already queues its maximum of " + maxPending));
                }
                // Set QUEUED with a CAS: with no flag set, fast paths may still be changing the
                // permit count, and a release that lands first must be seen (I2).
                if ((s & QUEUED) != 0 || STATE.compareAndSet(this, s, s | QUEUED)) {
                    break;
                }
            }
            w = PermitWaiter.of(executor, queue, n, owed);
            queue.enqueue(w);
        }
        return queue.armTimer(w, timeoutNanos);
    }

    private boolean tryAcquire0(int n) {
        for (;;) {
            long s = state;
            if ((s & FLAGS) != 0 || available(s) < n) {
                if ((s & RESIZING) != 0) {
                    // A resize is under way under the monitor: wait for it (O(1)) and look
                    // again, rather than fail though permits may be free before and after it.
                    synchronized (queue) {
                        continue;
                    }
                }
                return false;
            }
            if (STATE.compareAndSet(this, s, s - permits(n))) {
                granted(n);
                return true;
            }
        }
    }

    // ---------------------------------------------------------------- releasing

    /**
     * Releases one permit, handing it to the head waiter if there is one. May be called by any
     * thread, not only the one that acquired. Releasing after {@link #close()} is harmless.
     *
     * <p>A release that raises the available permits above the {@link #totalPermits() total}
     * (one with nothing held for it, or a limit grown by {@code release(n)}) raises the total
     * with them.
     *
     * @throws IllegalStateException if the release would raise the available permits above
     *         {@link AsyncBoundedSemaphore their bound} (or above {@code Integer.MAX_VALUE});
     *         nothing is changed then
     */
    public void release() {
        release0(1);
    }

    /** As {@link #release()}, for {@code permits} permits at once. */
    public void release(int permits) {
        release0(checkPermits(permits));
    }

    private void release0(int n) {
        for (;;) {
            long s = state;
            // The total is read after the word (see "Total"): a count that would pass it, refused
            // or growing the total, is decided under the monitor, as is anything with a flag set.
            if ((s & FLAGS) != 0 || (long) available(s) + n > total) {
                releaseSlow(n);
                return;
            }
            if (STATE.compareAndSet(this, s, s + permits(n))) {
                return;
            }
        }
    }

    private void releaseSlow(int n) {
        PermitWaiter granted;
        synchronized (queue) {
            addAndServeLocked(n);
            granted = queue.takeChain();
        }
        queue.completeGranted(granted);
    }

    /**
     * The decision of whom to serve: adds {@code n} permits (0 after a waiter left) and grants
     * the head waiters in FIFO order while the available permits cover the head's request, then
     * makes QUEUED match the queue (I1, I2). One write of the word, so a racy reader never sees
     * the added permits before the grants take them (Lincheck caught an add-then-serve split:
     * availablePermits() read 1 during a release that handed its permit straight to a waiter).
     * Throws the over-release, changing nothing; raises the total when the count passes it
     * (I4, "Total"). Monitor.
     */
    private void addAndServeLocked(int n) {
        long s = state;
        if ((s & FLAGS) == 0) {
            // Nobody queued (I1), so nothing to grant; fast paths may race on the count.
            for (;;) {
                if ((long) available(s) + n > bound()) {
                    throw overRelease(n, available(s));
                }
                if (n == 0) {
                    return;
                }
                if (STATE.compareAndSet(this, s, s + permits(n))) {
                    growTotalLocked(available(s) + n);    // the count this release wrote
                    return;
                }
                s = state;
            }
        }
        // A flag is set: only monitor holders write the word now.
        if ((long) available(s) + n > bound()) {
            throw overRelease(n, available(s));
        }
        int available = available(s) + n;
        growTotalLocked(available);                       // before the word, which fast paths read first
        PermitWaiter head;
        // A head completed behind our back (its future cast to Promise) holds nothing and must
        // not block those behind it, however many permits it asked for: grantFirst takes it out.
        while ((head = queue.peekFirst()) != null && (head.permits() <= available || head.isDone())) {
            if (queue.grantFirst()) {
                available -= head.permits();
                granted(head.permits());
            }
        }
        // A release store, not a volatile one: while a flag is set no one else writes the word
        // (fast paths only read it, see a flag and take the monitor), and the monitor's exit,
        // which follows at once, orders it for everyone who takes the monitor next. It saves
        // the full fence of a volatile store on every grant.
        STATE.setRelease(this, ((long) available << COUNT_SHIFT) | (s & EPOCH_MASK)
                | (queue.isEmpty() ? 0 : QUEUED) | (s & CLOSED));
    }

    /**
     * Raises the total to {@code written}, the count a release wrote, if it is above (a plain
     * semaphore released more often than acquired; never on a bounded one, whose releases stop
     * at the total, its bound). Monitor.
     */
    private void growTotalLocked(int written) {
        if (written > total) {
            total = written;
        }
    }

    /**
     * The most permits that may be available: a bounded semaphore's total (its releases never
     * pass it, so it is lowered only by reductions), else {@code Integer.MAX_VALUE}. Monitor.
     */
    private int bound() {
        return bounded ? total : Integer.MAX_VALUE;
    }

    /** The semaphore's side of the wait queue: after a waiter left, or refused its grant. */
    private final class Serving implements WaitQueue.Policy<PermitWaiter> {
        private int takenBack;            // guarded by the monitor: permits of refused grants, added by the next serve

        @Override
        public void serveLocked() {
            int n = takenBack;
            takenBack = 0;
            addAndServeLocked(n);
        }

        @Override
        public void takeBackLocked(PermitWaiter refused) {
            granted(-refused.permits());
            takenBack += refused.permits();     // added in the same write as the grants that follow
        }
    }

    // ---------------------------------------------------------------- resizing

    /**
     * Shrinks the number of permits by {@code reduction}, like
     * {@link java.util.concurrent.Semaphore}'s protected {@code reducePermits}, for limits that
     * change while the semaphore is in use (an adaptive concurrency limit). The permits are
     * taken from the available ones; if fewer are available, {@link #availablePermits()} goes
     * negative: held permits are never revoked, and the semaphore stays short until that many
     * more releases have come in. Queued waiters keep their place and wait until releases
     * bring availability back to what the head wants. It never blocks and never waits.
     *
     * <p>Growing is {@link #release(int) release(n)}: it serves queued waiters at once, in FIFO
     * order, as far as the permits go. So a limit moved from {@code L} to {@code L'} is
     * {@code reducePermits(L - L')} or {@code release(L' - L)}, whatever is held or queued.
     *
     * <p>On an {@link AsyncBoundedSemaphore} the bound goes down by {@code reduction} too: the
     * bound stays "the permits this semaphore manages", so a release that would raise the
     * available permits above the reduced bound (a release with nothing held for it) still
     * throws; growing a bounded semaphore with {@code release} is therefore refused, as any
     * over-release is. A waiter already queued for more permits than the reduced bound can
     * then only be served after it is cancelled, times out or the semaphore is closed.
     *
     * <p>The {@link #totalPermits() total} goes down by {@code reduction} too, so it keeps
     * counting the permits still held.
     *
     * <p>Works on a closed semaphore too (harmlessly). A {@code reducePermits} and the
     * operations it races are linearizable, like every other operation here.
     *
     * @param reduction the number of permits to remove, {@code >= 0} ({@code 0} does nothing)
     * @throws IllegalArgumentException if {@code reduction} is negative, or if it would take
     *         the available permits (or a bounded semaphore's bound) below
     *         {@code Integer.MIN_VALUE}; nothing is changed then
     */
    public void reducePermits(int reduction) {
        if (reduction < 0) {
            throw new IllegalArgumentException("reduction must be >= 0, was " + reduction);
        }
        if (reduction == 0) {
            return;
        }
        synchronized (queue) {
            // Fast paths must not CAS the word while the total (and a bounded semaphore's bound)
            // and the count disagree: see "Resizing" and "Total".
            long s;
            do {
                s = state;
            } while (!STATE.compareAndSet(this, s, s | RESIZING));
            // Only monitor holders write the word now.
            long newAvailable = (long) available(s) - reduction;
            if (newAvailable < Integer.MIN_VALUE) {
                state = s;
                throw tooFarReduced(reduction);
            }
            total -= reduction;          // >= newAvailable >= Integer.MIN_VALUE, as total >= available(s) (I4)
            state = resized(s, (int) newAvailable);
            // Availability only went down: the head (if any) still cannot be served (I2).
        }
    }

    /** The word {@code s} with {@code available} permits, the epoch bumped, and RESIZING clear. */
    private static long resized(long s, int available) {
        return ((long) available << COUNT_SHIFT) | (((s & EPOCH_MASK) + EPOCH_ONE) & EPOCH_MASK) | (s & (QUEUED | CLOSED));
    }

    private IllegalArgumentException tooFarReduced(int reduction) {
        return new IllegalArgumentException("reducePermits(" + reduction + ") would take " + this
                + " below Integer.MIN_VALUE permits");
    }

    private static int available(long s) {
        return (int) (s >> COUNT_SHIFT);
    }

    private static long permits(int n) {
        return (long) n << COUNT_SHIFT;
    }

    // ---------------------------------------------------------------- closing

    /** Closes the semaphore; see {@link #close(Throwable)}. */
    public void close() {
        close(null);
    }

    /**
     * Closes the semaphore: every queued waiter fails with a {@link ClosedException} whose cause
     * is {@code cause} (may be {@code null}), and so does every later {@code acquire};
     * ({@link AsyncCondition} waiters taking back the lock they released are the exception: they
     * are owed the lock and still get it, so that their callers hold it as documented there);
     * {@code tryAcquire} returns {@code false}. Holders keep their permits and may still
     * release them (harmlessly). Closing twice does nothing.
     */
    public void close(Throwable cause) {
        PermitWaiter failed;
        PermitWaiter granted;
        synchronized (queue) {
            if (isClosed()) {
                return;
            }
            closeCause = cause;      // before CLOSED is visible, so every failure carries it
            for (;;) {
                long s = state;
                if (STATE.compareAndSet(this, s, s | CLOSED)) {
                    break;
                }
            }
            for (PermitWaiter w = queue.peekFirst(); w != null; ) {
                PermitWaiter next = queue.nextOf(w);
                if (!w.owed()) {
                    queue.takeOut(w);
                }
                w = next;
            }
            failed = queue.takeChain();
            // An owed waiter left behind may now be at the head and servable (I2); this also
            // clears QUEUED if nobody is left.
            addAndServeLocked(0);
            granted = queue.takeChain();
        }
        WaitQueue.failAll(failed, closedException());
        queue.completeGranted(granted);
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return (state & CLOSED) != 0;
    }

    private ClosedException closedException() {
        return new ClosedException(this + " is closed", closeCause);
    }

    // ---------------------------------------------------------------- monitoring

    /**
     * The number of permits available now. While waiters are queued this may be positive (the
     * permits reserved for a multi-permit head waiter) though {@code tryAcquire} fails. After
     * {@link #reducePermits(int)} it may be negative: that many releases must come in before a
     * permit is available again.
     */
    public int availablePermits() {
        return available(state);
    }

    /** The number of queued waiters now (cancelled and timed-out ones have already left). */
    public int queueLength() {
        return queue.size();
    }

    /**
     * Whether a permit cannot be taken at once now (asyncio's {@code Semaphore.locked()}): no
     * permit is available, or waiters are queued (they come first), or the semaphore is closed.
     * A racy snapshot, like {@link #availablePermits()}.
     */
    public boolean locked() {
        long s = state;
        return (s & (QUEUED | CLOSED)) != 0 || available(s) < 1;
    }

    /**
     * The permits this semaphore manages now, held and available together (see "Monitoring" in
     * the class documentation): the initial count, minus {@link #reducePermits reductions},
     * raised by every release that takes the available permits above it. On an
     * {@link AsyncBoundedSemaphore} it is the bound. May be negative after a reduction larger
     * than the total. Exact: read under the internal monitor; O(1).
     */
    public int totalPermits() {
        synchronized (queue) {
            return total;
        }
    }

    /**
     * A consistent snapshot of the semaphore (trio's {@code statistics()}), taken under the
     * internal monitor: the available permits (negative after {@link #reducePermits}), the
     * {@link #totalPermits() total}, the queued waiters and whether it is closed, all at one
     * instant. For monitoring; O(1).
     */
    public Statistics statistics() {
        synchronized (queue) {
            long s = state;
            return new Statistics(available(s), total, queue.size(), (s & CLOSED) != 0);
        }
    }

    /**
     * A snapshot of an {@link AsyncSemaphore} at one instant.
     *
     * @param available the available permits (may be negative after {@code reducePermits})
     * @param total     the {@link AsyncSemaphore#totalPermits() total permits}, held and available;
     *                  never below {@code available}
     * @param waiters   the waiters queued
     * @param closed    whether {@code close()} was called
     */
    public record Statistics(int available, int total, int waiters, boolean closed) {

        /**
         * The permits held, as the semaphore counts them: {@code total - available}, never
         * negative. Exact while every release gives back a permit that was acquired; see
         * {@link AsyncSemaphore}'s "Monitoring".
         */
        public int held() {
            return total - available;
        }
    }

    /** The maximum number of queued waiters given at construction. */
    public int maxPending() {
        return maxPending;
    }

    @Override
    public String toString() {
        long s = state;
        return getClass().getSimpleName() + '@' + Integer.toHexString(System.identityHashCode(this))
                + "{permits=" + available(s) + ", total=" + total + ", queued=" + queue.size()
                + ((s & CLOSED) != 0 ? ", closed}" : "}");
    }

    /**
     * For tests (Caffeine-style invariant validation): the first broken invariant among I1, I2,
     * I4 and "closed means no waiters but owed ones", or {@code null}. Exact, because it takes the monitor: the
     * flags and, while a flag is set, the whole word only change under it.
     */
    String brokenInvariant() {
        synchronized (queue) {
            long s = state;
            boolean queued = (s & QUEUED) != 0;
            if (queued == queue.isEmpty()) {
                return "I1: QUEUED is " + queued + " but the queue holds " + queue.size();
            }
            PermitWaiter head = queue.peekFirst();
            if (head != null && head.permits() <= available(s)) {
                return "I2: the head waits for " + head.permits() + " permit(s) while " + available(s) + " are available";
            }
            if ((s & RESIZING) != 0) {
                return "RESIZING is set outside reducePermits";
            }
            if (available(s) > total) {
                return "I4: available " + available(s) + " above the total " + total;
            }
            for (PermitWaiter w = head; (s & CLOSED) != 0 && w != null; w = queue.nextOf(w)) {
                if (!w.owed()) {
                    return "closed with a waiter that close() should have failed: " + w.describeWait();
                }
            }
            return null;
        }
    }

    // ---------------------------------------------------------------- shared with subclasses and AsyncLock

    /**
     * Called when {@code n} permits are granted, at the moment the grant becomes final: after the
     * fast path's CAS, or under the monitor when a queued waiter is granted (before its future
     * completes); with {@code -n} when such a grant is taken back because its promise had been
     * completed behind the semaphore's back. For AsyncReadWriteLock, which must know who holds
     * before the holder's future can be seen done. Must be quick, must not throw, and must not
     * call user code (it may run under the monitor).
     */
    void granted(int n) {
    }

    /**
     * {@link #statistics()} and what {@code view} makes of it with a lock's own bookkeeping, at one
     * instant: {@code view} runs under the internal monitor, where every grant to a queued waiter
     * has had its {@link #granted} call or not begun. For AsyncReadWriteLock; {@code view} must be
     * quick and call no user code.
     */
    final <T> T statistics(Function<? super Statistics, ? extends T> view) {
        synchronized (queue) {
            return view.apply(statistics());
        }
    }

    IllegalStateException overRelease(int n, int available) {
        return new IllegalStateException("release(" + n + ") would raise the available permits of "
                + this + " from " + available + " above its maximum of " + bound());
    }

    /**
     * Runs {@code action} on {@code executor} once {@code acquired} succeeds and releases one
     * permit exactly once when the action's own future completes. Shared by withPermit and
     * withLock; see withPermit for the contract. A cancel of the result reaches the acquire
     * (which leaves the queue if still there) but never the action's future.
     */
    final <T> Future<T> runHolding(Future<Void> acquired, EventExecutor executor,
                                   Function<? super Future<T>, ? extends Future<T>> action) {
        return runHolding(acquired, executor, action, () -> release0(1));
    }

    /** As above, ending the hold with {@code release} (AsyncReadWriteLock's writers give back all permits). */
    final <T> Future<T> runHolding(Future<Void> acquired, EventExecutor executor,
                                   Function<? super Future<T>, ? extends Future<T>> action, Runnable release) {
        Promise<T> result = executor.newPromise();
        result.addListener(r -> {
            if (r.isCancelled()) {
                acquired.cancel(false);     // no-op once granted; the branch below then releases
            }
        });
        acquired.addListener(a -> {         // runs on executor
            if (!a.isSuccess()) {
                if (!a.isCancelled()) {
                    result.tryFailure(a.cause());
                }
                return;
            }
            if (result.isDone()) {          // cancelled between the grant and now: never run
                release.run();
                return;
            }
            Future<T> running;
            try {
                running = Objects.requireNonNull(action.apply(result), "action returned a null future");
            } catch (Throwable t) {
                Throwable misuse = releaseOrCause(release);
                if (misuse != null) {
                    t.addSuppressed(misuse);
                }
                result.tryFailure(t);
                return;
            }
            // Only the action's own completion releases: a cancelled result leaves it alone.
            running.addListener(done -> {
                // Before completing, so the result's listeners can re-acquire. A release that
                // throws (the action unlocked or downgraded itself) fails the result rather than
                // leaving it pending for ever. An action that ended by giving the hold up (a
                // condition wait of this lock whose executor refused to resume it) holds nothing.
                Throwable misuse = gaveUpHold(done.cause()) ? null : releaseOrCause(release);
                if (misuse != null) {
                    result.tryFailure(misuse);
                } else {
                    Promises.propagate(done, result);
                }
            });
        });
        return result;
    }

    /**
     * Whether an action that failed with {@code cause} gave up the hold a with-block took for it,
     * so that there is nothing to release: a lock's {@link LockGivenUpException}. A semaphore's
     * holds are never given up that way.
     */
    boolean gaveUpHold(Throwable cause) {
        return false;
    }

    private static Throwable releaseOrCause(Runnable release) {
        try {
            release.run();
            return null;
        } catch (RuntimeException e) {
            return e;
        }
    }

    /** A with-block's refusal of a shut-down executor, before anything is taken; see Promises. */
    static <T> Future<T> refuseIfShutDown(EventExecutor executor) {
        return Promises.failedIfShutDown(checkExecutor(executor), "the action nor give back the permit");
    }

    static <T> Function<Future<T>, Future<T>> asFunction(Supplier<? extends Future<T>> action) {
        Objects.requireNonNull(action, "action");
        return ignored -> action.get();
    }

    static EventExecutor checkExecutor(EventExecutor executor) {
        return Objects.requireNonNull(executor, "executor");
    }

    static int checkPermits(int permits) {
        if (permits < 1) {
            throw new IllegalArgumentException("permits must be >= 1, was " + permits);
        }
        return permits;
    }

    /**
     * A queued acquire of one permit, the common case: no field of its own, so it stays at the
     * 48 bytes of a {@link Waiter} (a permit count and a flag here made it 56, see Waiter's size
     * note). Other acquires are {@link PermitsWaiter}s.
     */
    private static class PermitWaiter extends Waiter<Void> {

        static PermitWaiter of(EventExecutor executor, WaitQueue<PermitWaiter> queue, int permits, boolean owed) {
            return permits == 1 && !owed ? new PermitWaiter(executor, queue)
                    : new PermitsWaiter(executor, queue, permits, owed);
        }

        PermitWaiter(EventExecutor executor, WaitQueue<PermitWaiter> queue) {
            super(executor, queue);
        }

        /** The permits it waits for. */
        int permits() {
            return 1;
        }

        /** See acquireOwed: close() leaves it queued. */
        boolean owed() {
            return false;
        }

        @Override
        protected String describeWait() {
            return permits() + " permit(s) of " + super.describeWait();
        }
    }

    /** A queued acquire of several permits, or an owed one. */
    private static final class PermitsWaiter extends PermitWaiter {
        private final int permits;
        private final boolean owed;

        PermitsWaiter(EventExecutor executor, WaitQueue<PermitWaiter> queue, int permits, boolean owed) {
            super(executor, queue);
            this.permits = permits;
            this.owed = owed;
        }

        @Override
        int permits() {
            return permits;
        }

        @Override
        boolean owed() {
            return owed;
        }
    }
}
