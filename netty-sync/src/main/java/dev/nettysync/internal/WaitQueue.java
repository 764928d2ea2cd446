package dev.nettysync.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The wait queue every primitive of {@code dev.nettysync} is built on (as tokio's
 * {@code batch_semaphore} serves its Mutex, Semaphore and RwLock): a strictly FIFO, intrusive
 * list of {@link Waiter}s with its monitor, the granting of servable waiters under it, their
 * completion after it is dropped, cancellation and timeouts. A primitive keeps only its own
 * state and the decision of <em>whom to serve</em>.
 *
 * <h2>Monitor</h2>
 * The queue object itself is the monitor: {@code synchronized (queue) { ... }}. Methods marked
 * "monitor" must be called holding it; the primitive guards its own state with the same monitor,
 * so that a decision and the queue change it causes are one critical section. Nothing here runs
 * user code, a listener or a promise completion while the monitor is held: waiters granted or
 * taken out under it are collected into a <em>chain</em> (linked through the waiters
 * themselves, so nothing is allocated), and completed after it is dropped.
 *
 * <h2>How a primitive uses it</h2>
 * <pre>{@code
 * // waiting: decide under the monitor, queue, arm the timer after it
 * synchronized (queue) {
 *     if (canProceedNow()) return succeeded;          // the primitive's own state
 *     w = new MyWaiter(executor, queue, ...);
 *     queue.enqueue(w);
 * }
 * return queue.armTimer(w, timeoutNanos);
 *
 * // serving: the Policy decides whom, the queue grants and completes
 * Waiter<?> chain;
 * synchronized (queue) {
 *     changeState();                                   // e.g. add released permits
 *     policy.serveLocked();                           // grantFirst() while the head can be served
 *     chain = queue.takeChain();
 * }
 * queue.completeGranted(chain);                        // listeners run here, no monitor held
 * }</pre>
 * The {@link Policy} is the decision: {@link Policy#serveLocked()} looks at the head (and on,
 * with {@link #peekFirst()} / {@link #nextOf}) and grants with {@link #grantFirst()} (one) or
 * {@link #grant(int)} (a batch) as long as the primitive's state allows. Granting a batch of
 * consecutive waiters in one critical section is how a read-write lock admits every reader
 * queued before the next writer: its policy walks from the head, grants readers while the
 * head is a reader and the reader limit allows, and stops at a writer (which is served only
 * when nothing is held). The queue calls the policy again after a waiter leaves by cancel or
 * timeout (the new head may be servable: a multi-permit head that timed out leaves its reserved
 * permits to the next ones) and after a granted waiter turned out to be completed behind the
 * primitive's back ({@link Policy#takeBackLocked}, then {@code serveLocked}). A primitive whose
 * waiters' leaving affects nobody (an event, a barrier) passes no policy.
 *
 * <h2>Leaving by a primitive's own protocol</h2>
 * A primitive whose waiters must do more than unlink when they leave (the rate limiter gives
 * back the leaver's queued permits, and runs a grant pass <em>before</em> it decides a timeout,
 * in the same critical section, so that a waiter due at its deadline is granted) overrides
 * {@link Waiter#cancel} and {@link Waiter#end} and, under the monitor, takes the waiter out
 * with {@link #remove} (only an unlink: no grant, no chain, no policy call), then serves the
 * queue itself and completes the chain as above. {@code remove} is the same single decision as
 * every other way of leaving: it succeeds once, and not after a grant.
 *
 * <h2>Links</h2>
 * The waiters form a ring through their {@code prev}/{@code next} fields: the queue object
 * holds only the newest waiter ({@code tail}), whose {@code next} is the oldest (the head), and
 * a lone waiter links to itself; a waiter is queued exactly when its {@code prev} is non-null
 * (leaving nulls both links). Waiters taken out under the monitor are pushed on a stack through
 * {@code next} ({@code chainTop}) and reversed into FIFO order by {@link #takeChain()}. So a
 * handoff writes two references into the queue object (the tail at an enqueue, the stack at a
 * grant) where a list with head and tail fields wrote four (head, tail, and the chain's head and
 * tail); the other stores land in waiters next to the one that moves, which in a short queue
 * are young. Measured under G1 (bench/README, "The wait queue as a ring"): a
 * {@code releaseAndRequeue} with 10^6 waiters queued (all of them, and the queue, in the old
 * generation) went from 66.4 to 57.3 ns; the rows with 10 or 16 waiters did not move beyond
 * their noise.
 *
 * <h2>Grants are final</h2>
 * Leaving the queue happens exactly once, under the monitor, and is the decision: granted
 * ({@link #grantFirst()} unlinks the head), abandoned (cancel, timeout) or taken out (close,
 * reset, signal), never two of them. {@code cancel()} takes the monitor and succeeds only if it
 * unlinks the waiter itself, so from the grant on it returns {@code false}, even before the
 * completion has run: the grant is linearizable at the unlink, inside the granter's critical
 * section, and the later completion only reports it. No CAS on the promise is needed for that
 * (an earlier version claimed with {@code setUncancellable()}, which made every grant cost three
 * CAS on the promise instead of one). See {@link Waiter} for the life of a waiter.
 *
 * <h2>Executors that shut down while their waiters are queued</h2>
 * A grant is completed after the monitor is dropped, and Netty's promise then runs the
 * waiter's listeners on the waiter's executor (inline if the completing thread is that
 * executor's, else through {@code execute}). An executor that has shut down accepts no task:
 * Netty logs "Failed to submit a listener notification task" and drops the notification, so
 * the holder's continuation would never run and what it was given (a permit, the lock, a
 * reader's share) would be lost for ever. So {@link #completeGranted} reads
 * {@code isShutdown()} of each granted waiter's executor (one volatile read, outside the
 * monitor, only on queues with a {@link Policy}) just before completing it; a waiter on a
 * shut-down executor is failed with a {@link java.util.concurrent.RejectedExecutionException}
 * and refuses its grant, as one completed behind the primitive's back does: the policy takes
 * its share back and serves the next waiter, in the same loop. The primitives refuse to queue
 * a wait on an executor already shut down; this covers one that shuts down while the wait is
 * queued.
 * <p><b>Residual race.</b> The executor may move to {@code SHUTDOWN} between that read and
 * Netty's submission of the listener notification; Netty offers no hook to learn that a
 * notification was dropped (its {@code DefaultPromise} only logs), so that grant is still lost.
 * The window is the few instructions of one promise completion (the CAS, the promise's own
 * monitor, the submission; the waiter's timer is cancelled before the check, since from
 * another thread that submits the timer's removal to the same executor, a whole
 * {@code execute()} that once sat inside the window), against a shutdown that the application started: a
 * graceful shutdown ({@code shutdownGracefully}, state {@code SHUTTING_DOWN}) still accepts
 * and runs tasks during its quiet period, and only the move to {@code SHUTDOWN} after it opens
 * the window. A thread preempted inside it widens it: before the timer was cancelled ahead of
 * the check, a stress run on a loaded two-core machine lost 3 grants among ~165 executors shut
 * down under queued waits (and passed 10 on); with the timer first, the same runs lost none.
 * Stop waiting on an event loop before shutting it down (cancel its waits) to be exact.
 * <p>Completing such a grant from a task of our own, submitted to the waiter's executor, would
 * narrow the window but not close it, so it is not done (it would also defer every
 * cross-executor completion by one hop): Netty's {@code execute()} refuses a task if the
 * executor has shut down, else adds it, and if it has shut down meanwhile rejects it only if
 * it can take it back out of its task queue. The queue of every I/O event loop is a JCTools MPSC queue, whose {@code remove} is
 * unsupported, so a task added just after the loop's final pass is neither run nor rejected:
 * Netty drops it at termination with a warning ("An event executor terminated with non-empty
 * task queue"). That is the same window as the notification's, inside Netty.
 *
 * <h2>Timers that die with their executor</h2>
 * A timed wait's timer runs on the waiter's executor. A Netty executor that shuts down cancels
 * every scheduled task ({@code AbstractScheduledEventExecutor.cancelScheduledTasks()}, on its
 * own thread, at each turn of its shutdown loop: through the quiet period of a graceful
 * shutdown and once more after the move to {@code SHUTDOWN}), so such a timeout never runs,
 * and the wait would stay queued until a grant or a signal reached it: holding a
 * {@code maxPending} slot, counted in {@link #size()}, keeping what it reserved (a
 * multi-permit head's permits) from the waiters behind it; an event, a condition or a barrier
 * would keep it until its next set, signal or trip. So each waiter is the one listener of its
 * own timer ({@link Waiter#operationComplete}: no allocation, the promise's single-listener
 * slot). {@link Waiter#cancelTimer} removes the listener before cancelling ({@link Timers}, the
 * protocol every timer of the project keeps, the other modules' too), so a cancellation
 * the listener sees was made by the executor: the wait then ends through {@link Waiter#end},
 * exactly as a timeout ends it (unlinked, the policy serving whoever can now be served; a
 * primitive with its own protocol runs it: a condition takes its lock back, the rate limiter
 * runs its grant pass), failed with a {@link java.util.concurrent.RejectedExecutionException}
 * ({@link Promises#shutDown}). A wait whose timeout no longer applies (granted, ended, a plain
 * condition wait already signalled) is left alone.
 * <p><b>Which thread.</b> Netty notifies a cancelled timer's listeners on the thread that
 * cancelled it if that is the executor's own (always, for the shutdown's sweep: inline, with
 * its listener stack-depth bound), else through {@code execute()}. So the wait ends on the
 * dying executor's thread, which still runs tasks then (state {@code SHUTTING_DOWN}): the
 * failed wait's own listeners run there, and so does a grant to a next waiter on that
 * executor. No monitor is held while the listener runs (it takes the queue's monitor only to
 * unlink, and completes after dropping it).
 * <p><b>Arming late.</b> A timer armed on an executor already shutting down would be cancelled
 * by the next sweep, or, armed from inside a sweep (a listener run by it that waits again),
 * dropped by it uncancelled; so {@link Waiter#startTimer} refuses an executor that
 * {@code isShuttingDown()} and the wait ends at once, as above. After scheduling, it looks
 * again: a timer already cancelled (by a sweep that came before the listener was added, whose
 * notification from this thread a shut-down executor refuses) or an executor already
 * {@code isShutdown()} (past its last sweep but one, so a timer scheduled from another thread,
 * whose scheduling task the final pass runs after its sweep, would never run nor be cancelled)
 * ends the wait at once too ({@link Waiter#end} decides once; a late second call is a no-op).
 * <p><b>Residual race.</b> A timer scheduled from another thread whose scheduling task is
 * queued after the last quiet-period pass, when the executor moves to {@code SHUTDOWN} just
 * after that second look: the final pass runs the task after its sweep, so the timer is
 * neither run nor cancelled, and the wait stays queued as before this fix until a grant (a
 * semaphore then refuses it, as above) or a signal. The window is the few instructions
 * between the scheduling and the second look, against a shutdown the application started;
 * the stress tests count such waits. Cost: one volatile read ({@code isShuttingDown()}) and
 * the listener per timed wait; the listener's removal (an uncontended monitor on the timer)
 * when a grant or a cancel cancels the timer; nothing for untimed waits, and no allocation.
 *
 * <p>Not thread-safe except as stated: every method marked "monitor" requires the caller to
 * hold it; {@link #size()} may be read by anyone, for monitoring.
 */
public final class WaitQueue<W extends Waiter<?>> {

    /**
     * The decision of whom to serve, supplied by the primitive. Both methods run under the
     * monitor and must not run user code.
     */
    public interface Policy<W extends Waiter<?>> {
        /** Grants ({@link WaitQueue#grantFirst()}) every waiter that can be served now, FIFO. */
        void serveLocked();

        /**
         * A waiter that was granted refused the grant: its promise had been completed by someone
         * else (a caller who cast it to {@code Promise}), or its executor had shut down (see
         * "Executors that shut down" above). Take back what was given to it; the
         * queue calls {@link #serveLocked()} next, in the same critical section, so a policy may
         * defer the take-back to that call (state read without the monitor then never shows
         * the share back before it is granted again).
         */
        default void takeBackLocked(W refused) {
        }
    }

    private static final VarHandle SIZE = VarHandles.field(MethodHandles.lookup(), "size", int.class);

    private final Object owner;               // the primitive, for messages
    private final Policy<W> policy;           // null: a waiter leaving affects nobody

    private Waiter<?> tail;                   // monitor: the newest waiter; tail.next is the head (a ring, see "Links")
    private Waiter<?> chainTop;               // monitor: waiters taken out, not yet handed to takeChain(), last first
    private int size;                         // written under the monitor (plain), read by anyone (opaque, through SIZE)

    /**
     * @param owner  the primitive, named in messages
     * @param policy whom to serve after a waiter leaves, or {@code null} if leaving affects nobody
     */
    public WaitQueue(Object owner, Policy<W> policy) {
        this.owner = Objects.requireNonNull(owner, "owner");
        this.policy = policy;
    }

    Object owner() {
        return owner;
    }

    // ------------------------------------------------------------ reading

    /**
     * The number of queued waiters: a racy read, for monitoring and messages. Any thread. It is
     * an opaque read of an int written with plain stores under the monitor: never torn, never
     * hoisted out of a caller's loop, but without ordering (the monitor's exit publishes it); a
     * monitor holder reads it exactly. (A volatile field cost a full fence on every enqueue and
     * unlink, on the handoff path; opaque stores through the VarHandle were not always
     * intrinsified in the big compiled bodies of that path, so the writes are plain.)
     */
    public int size() {
        return (int) SIZE.getOpaque(this);
    }

    /** Monitor. */
    public boolean isEmpty() {
        return tail == null;
    }

    /** The longest-waiting waiter, or {@code null}. Monitor. */
    @SuppressWarnings("unchecked")
    public W peekFirst() {
        return tail == null ? null : (W) tail.next;
    }

    /** The waiter queued after {@code w}, or {@code null}; {@code w} must be queued. Monitor. */
    @SuppressWarnings("unchecked")
    public W nextOf(W w) {
        assert contains(w) : "not queued";
        return w == tail ? null : (W) w.next;
    }

    /** Whether {@code w} is queued here now. Monitor. */
    public boolean contains(Waiter<?> w) {
        return w.queue == this && w.prev != null;
    }

    /** Whether {@code w} has left this queue (or was never in it); takes the monitor. */
    boolean hasLeft(Waiter<?> w) {
        synchronized (this) {
            return !contains(w);
        }
    }

    // ------------------------------------------------------------ waiting

    /** Queues {@code w} last. Monitor. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public void enqueue(W w) {
        assert w.queue == this && !contains(w) && w.next == null : "not a fresh waiter of this queue";
        Waiter raw = w;
        Waiter last = tail;
        if (last == null) {
            raw.prev = raw;
            raw.next = raw;
        } else {
            Waiter first = last.next;
            raw.prev = last;
            raw.next = first;
            last.next = raw;
            first.prev = raw;
        }
        tail = raw;
        size++;
    }

    /**
     * Arms {@code w}'s timeout if {@code timeoutNanos > 0} (none if negative; zero means the
     * caller refused to wait and never queued). Call after {@link #enqueue}, without the monitor.
     *
     * @return {@code w}
     */
    public W armTimer(W w, long timeoutNanos) {
        if (timeoutNanos > 0) {
            w.startTimer(timeoutNanos);
        }
        return w;
    }

    /**
     * A timeout as nanoseconds for the primitives' timed waits: negative values become 0 ("do not
     * wait"), so that -1 stays free to mean "no timeout".
     */
    public static long toNanos(long timeout, TimeUnit unit) {
        return Math.max(0, Objects.requireNonNull(unit, "unit").toNanos(timeout));
    }

    // ------------------------------------------------------------ serving

    /**
     * Grants the head waiter: unlinks it (the grant is final from here) and adds it to the chain.
     * The head must exist. Monitor.
     *
     * @return {@code false} if it was already completed behind the primitive's back (a caller
     *         who cast it to {@code Promise}): it left the queue with nothing, and the caller
     *         should look at the new head
     */
    public boolean grantFirst() {
        Waiter<?> w = peekFirst();
        unlink(w);
        if (w.isDone()) {
            return false;
        }
        addToChain(w);
        return true;
    }

    /** Grants up to {@code max} waiters from the head (a batch: an event's set, a barrier's cycle). Monitor. */
    public void grant(int max) {
        int granted = 0;
        while (granted < max && !isEmpty()) {
            if (grantFirst()) {
                granted++;
            }
        }
    }

    /** Takes {@code w} out of the queue into the chain without granting it (to fail it, or to signal it). Monitor. */
    public void takeOut(W w) {
        assert contains(w) : "not queued";
        unlink(w);
        addToChain(w);
    }

    /** Takes up to {@code max} waiters from the head into the chain without granting them. Monitor. */
    public void takeOut(int max) {
        for (int taken = 0; taken < max && !isEmpty(); taken++) {
            Waiter<?> w = peekFirst();
            unlink(w);
            addToChain(w);
        }
    }

    /**
     * Hands over the chain of waiters granted or taken out since the last call (FIFO), or
     * {@code null}, and starts a new one. Monitor. Complete it after dropping the monitor with
     * {@link #completeGranted}, {@link #failAll}, or walk it with {@link #detachNext}.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public W takeChain() {
        Waiter top = chainTop;
        chainTop = null;
        Waiter first = null;                  // reversed, so the chain is FIFO again
        while (top != null) {
            Waiter below = top.next;
            top.next = first;
            first = top;
            top = below;
        }
        return (W) first;
    }

    /** The waiter after {@code w} in a chain from {@link #takeChain()}, leaving it hooked. */
    @SuppressWarnings("unchecked")
    public static <W extends Waiter<?>> W peekNext(W w) {
        return (W) w.next;
    }

    /**
     * Unhooks {@code w} from its chain and returns the next one, or {@code null}. Read it before
     * completing {@code w}: its links are reused once it is done. Without the monitor.
     */
    @SuppressWarnings("unchecked")
    public static <W extends Waiter<?>> W detachNext(W w) {
        Waiter<?> next = w.next;
        w.next = null;
        return (W) next;
    }

    /**
     * Completes a chain of granted waiters in FIFO order, each with its
     * {@link Waiter#grantedValue(int) granted value}, without the monitor (listeners may run
     * inline here, and may call back into the primitive). A waiter refuses its grant if it was
     * completed behind the primitive's back, or, on a queue with a {@link Policy}, if its
     * executor has shut down (it is failed with a {@link java.util.concurrent.RejectedExecutionException}:
     * no listener of it could ever run, so whatever it was given would be lost for ever). A
     * refused share is {@linkplain Policy#takeBackLocked taken back} and whoever can now be
     * served is served, in a loop rather than by recursion. Without a policy (an event, a
     * barrier) a grant gives nothing that could be taken back, so a waiter on a shut-down
     * executor is completed as granted: its state tells the truth to whoever reads it, though
     * its listeners never run.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public void completeGranted(W chain) {
        while (chain != null) {
            Waiter refusedFirst = null;
            Waiter refusedLast = null;
            int index = 0;
            for (Waiter w = chain; w != null; index++) {
                Waiter next = detachNext(w);
                Object value = w.grantedValue(index);
                // The timer first: cancelled from another thread, Netty submits its removal to
                // the waiter's executor (a whole execute(), a wake-up), which must not sit
                // between the shut-down check and the completion (see "Residual race").
                w.cancelTimer();
                boolean refused;
                if (policy != null && w.executorShutDown()) {    // the one volatile read per grant
                    w.completeShutDown();
                    refused = true;
                } else {
                    refused = !w.trySuccess(value);              // the timer is cancelled above
                }
                if (refused) {
                    if (refusedLast == null) {
                        refusedFirst = w;
                    } else {
                        refusedLast.next = w;
                    }
                    refusedLast = w;
                }
                w = next;
            }
            if (refusedFirst == null || policy == null) {
                return;
            }
            synchronized (this) {
                for (Waiter w = refusedFirst; w != null; ) {
                    Waiter next = detachNext(w);
                    policy.takeBackLocked((W) w);
                    w = next;
                }
                policy.serveLocked();
                chain = takeChain();
            }
        }
    }

    /** Fails every waiter of a chain taken out of the queue with {@code cause}, without the monitor. */
    public static void failAll(Waiter<?> chain, Throwable cause) {
        for (Waiter<?> w = chain; w != null; ) {
            Waiter<?> next = detachNext(w);
            w.completeFailed(cause);
            w = next;
        }
    }

    // ------------------------------------------------------------ leaving

    /**
     * Cancel or timeout of {@code w}: takes it out of the queue if it is still there (which
     * decides its outcome: the caller completes it), then lets the policy serve whoever can now
     * be served, and completes those after dropping the monitor. Called by {@link Waiter},
     * without the monitor.
     *
     * @return {@code false} if {@code w} had already left (granted, abandoned, taken out)
     */
    boolean abandon(Waiter<?> w) {
        W chain;
        synchronized (this) {
            if (!contains(w)) {
                return false;
            }
            unlink(w);
            if (policy == null) {
                return true;
            }
            policy.serveLocked();
            chain = takeChain();
        }
        completeGranted(chain);
        return true;
    }

    // ------------------------------------------------------------ leaving by a primitive's own protocol

    /**
     * Takes {@code w} out of the queue if it is still there, and does nothing else: it is not
     * granted, not added to the chain, and the policy is not called (see "Leaving by a
     * primitive's own protocol" above). Monitor.
     *
     * @return {@code false} if {@code w} had already left (granted, abandoned, taken out)
     */
    public boolean remove(W w) {
        if (!contains(w)) {
            return false;
        }
        unlink(w);
        return true;
    }

    // ------------------------------------------------------------ links

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void addToChain(Waiter<?> w) {
        ((Waiter) w).next = chainTop;
        chainTop = w;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void unlink(Waiter<?> w) {
        Waiter raw = w;
        Waiter next = raw.next;
        if (next == raw) {
            tail = null;                      // it was the only one
        } else {
            Waiter prev = raw.prev;
            prev.next = next;
            next.prev = prev;
            if (raw == tail) {
                tail = prev;
            }
        }
        raw.prev = null;
        raw.next = null;
        size--;
    }
}
