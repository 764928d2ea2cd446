package dev.nettysync;

import dev.nettysync.internal.WaitQueue;
import dev.nettysync.internal.Waiter;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.Objects;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.TimeUnit;

/**
 * A cyclic barrier for a fixed number of parties, in the shape of Python's
 * {@code asyncio.Barrier}: each party calls {@link #await(EventExecutor)}, and all their futures
 * complete together once the last of {@code parties} arrives. Then the barrier is ready for the
 * next cycle.
 * <pre>{@code
 * AsyncBarrier warmedUp = new AsyncBarrier(loops, () -> log.info("all loops warm"));
 * // on each event loop:
 * warmUp().addListener(f -> warmedUp.await(loop).addListener(i -> startServing()));
 * }</pre>
 *
 * <h2>Semantics</h2>
 * <ul>
 *   <li><b>Arrival index.</b> Each future succeeds with an index unique within its cycle, in
 *       {@code 0..parties-1}, in arrival order (asyncio's; {@code CyclicBarrier} counts down):
 *       the last party gets {@code parties - 1}.</li>
 *   <li><b>Cyclic.</b> When the last party arrives, the cycle's waiters are taken off the
 *       barrier at once; parties that arrive while they are still being completed belong to
 *       the next cycle.</li>
 *   <li><b>Barrier action.</b> The optional action runs once per cycle, after the last party
 *       arrives and before any waiter of the cycle completes, in the thread of the last
 *       party's {@code await} call. Actions of successive cycles never overlap (as under
 *       {@code CyclicBarrier}'s lock, but without blocking anyone): a cycle that fills up while
 *       the previous trip is still under way trips right after it, in the thread that ran
 *       it, so {@link #waiting()} can briefly exceed {@code parties - 1}. If the action throws,
 *       the barrier breaks: the cycle's waiters (and the last party) fail with
 *       {@link BrokenBarrierException} whose cause is the exception, and parties that already
 *       arrived for the next cycle fail with one that says the action broke the barrier
 *       (without that cause). An action that calls {@link #abort()} or
 *       {@link #reset()} instead fails only the parties of the next cycle (and, for
 *       {@code abort}, those to come): the cycle that tripped was decided before the action
 *       ran and completes successfully ({@code CyclicBarrier} fails its parties then).</li>
 *   <li><b>Cancellation and timeout leave, they do not break.</b> A waiter that is cancelled
 *       or times out leaves the barrier and the count of waiting parties drops by one, as in
 *       asyncio; the others keep waiting for a full set. {@code CyclicBarrier} breaks the
 *       barrier instead, because its waiters are threads that will not come back; on an event
 *       loop, a waiter that gave up is typically a request that went away, and breaking the
 *       barrier for everyone else would turn one disconnect into many failures. Indexes are
 *       assigned when the barrier trips, so they stay unique.</li>
 *   <li><b>A party whose executor shut down while it waited</b> still counts: the cycle trips
 *       with it, and its future succeeds with its index, though none of its listeners can run
 *       (Netty logs that it could not submit them). A trip gives nothing that could be passed on
 *       to another party, and leaving the cycle instead would only make the others wait for a
 *       party that may never come; cancel such a party's wait (it then leaves, as above) if the
 *       cycle must not count it. A <em>timed</em> party leaves by itself: its executor cancels
 *       its timeout as it shuts down, and it leaves then, as at its timeout, failed with a
 *       {@link java.util.concurrent.RejectedExecutionException}, so the cycle does not count
 *       it (as on {@link AsyncSemaphore}, "Executors that shut down").</li>
 *   <li><b>{@link #reset()}</b> fails the current waiters with {@link BrokenBarrierException}
 *       and leaves the barrier usable; <b>{@link #abort()}</b> does the same and keeps it
 *       broken (every {@code await} fails at once) until {@code reset()}.</li>
 *   <li><b>Thread-safe, never blocking</b>; each future completes on the executor its
 *       waiter named.</li>
 * </ul>
 *
 * <h2>Memory consistency effects</h2>
 * Actions of every party before its {@code await} happen-before the barrier action, which
 * happens-before the completion of every future of that cycle.
 */
public final class AsyncBarrier {

    /*
     * Implementation notes: the waiting parties are the queue; a cycle trips when an arrival
     * finds parties - 1 waiting and no trip under way. The tripping arrival sets `tripping`,
     * grants (unlinks) them under the monitor (so late cancels lose, and new arrivals start
     * the next cycle), then runs the action and completes them outside it, with indexes in
     * queue order. Arrivals that complete a cycle while `tripping` is set queue instead; the
     * tripping thread, before it clears `tripping`, trips every full cycle found in the queue
     * (a combining loop: actions are serialized without anybody blocking or recursing).
     */

    private final int parties;
    private final Runnable action;                                      // may be null
    private final WaitQueue<Party> queue = new WaitQueue<>(this, null);   // its monitor is the lock
    private volatile boolean broken;                                    // written under the monitor
    private boolean tripping;          // guarded by the monitor: a trip (action, completions) is under way
    private boolean noWaitQueued;      // guarded by the monitor: a zero-timeout arrival queued behind that trip

    /**
     * A barrier for {@code parties} parties, without action.
     *
     * @throws IllegalArgumentException if {@code parties < 1}
     */
    public AsyncBarrier(int parties) {
        this(parties, null);
    }

    /**
     * A barrier for {@code parties} parties that runs {@code action} (may be {@code null}) each
     * time it trips.
     *
     * @throws IllegalArgumentException if {@code parties < 1}
     */
    public AsyncBarrier(int parties, Runnable action) {
        if (parties < 1) {
            throw new IllegalArgumentException("parties must be >= 1, was " + parties);
        }
        this.parties = parties;
        this.action = action;
    }

    /**
     * Arrives at the barrier and waits for the rest of the cycle.
     *
     * @return a future of this party's arrival index; it fails with
     *         {@link BrokenBarrierException} if the barrier is or gets broken or reset
     */
    public Future<Integer> await(EventExecutor executor) {
        return await0(Objects.requireNonNull(executor, "executor"), -1);
    }

    /**
     * As {@link #await(EventExecutor)}; after {@code timeout} the party leaves with a
     * {@link WaitTimeoutException}. A timeout of zero or less never waits for other parties: it
     * trips the barrier if this is the last party, else fails at once. (A last party that
     * arrives while the previous cycle's trip is under way waits for that trip, and fails then
     * if a party of its cycle has left meanwhile.)
     */
    public Future<Integer> await(EventExecutor executor, long timeout, TimeUnit unit) {
        return await0(Objects.requireNonNull(executor, "executor"), WaitQueue.toNanos(timeout, unit));
    }

    /**
     * A consistent snapshot of the barrier (trio's {@code statistics()}): its parties, the
     * parties waiting in the current cycle, whether it is broken, at one instant. O(1).
     */
    public Statistics statistics() {
        synchronized (queue) {
            return new Statistics(parties, queue.size(), broken);
        }
    }

    /**
     * A snapshot of an {@link AsyncBarrier} at one instant.
     *
     * @param parties the parties needed to trip it
     * @param waiting the parties waiting now
     * @param broken  whether it is broken (until {@code reset()})
     */
    public record Statistics(int parties, int waiting, boolean broken) {
    }

    /** The number of parties needed to trip the barrier. */
    public int parties() {
        return parties;
    }

    /** The number of parties waiting now in the current cycle. */
    public int waiting() {
        return queue.size();
    }

    /** Whether the barrier is broken (by {@link #abort()} or a failed action) until {@link #reset()}. */
    public boolean isBroken() {
        return broken;
    }

    /** Fails the waiting parties with {@link BrokenBarrierException}; the barrier is usable afterwards. */
    public void reset() {
        failAll(false, "reset");
    }

    /** Fails the waiting parties and keeps the barrier broken until {@link #reset()}. */
    public void abort() {
        failAll(true, "aborted");
    }

    @Override
    public String toString() {
        return "AsyncBarrier@" + Integer.toHexString(System.identityHashCode(this))
                + "{waiting=" + queue.size() + "/" + parties + (broken ? ", broken}" : "}");
    }

    // ---------------------------------------------------------------- implementation

    private Future<Integer> await0(EventExecutor executor, long timeoutNanos) {
        Party cycle;
        Party w;
        synchronized (queue) {
            if (broken) {
                return executor.newFailedFuture(new BrokenBarrierException(this + " is broken"));
            }
            boolean completesACycle = queue.size() >= parties - 1;
            if (!completesACycle || tripping) {
                // Not the last party; or the last one while the previous cycle's trip is still
                // under way, and then the thread finishing that trip trips this cycle after it.
                if (timeoutNanos == 0 && !completesACycle) {
                    return executor.newFailedFuture(new WaitTimeoutException(
                            "no wait allowed and " + this + " is not complete"));
                }
                if (timeoutNanos == 0) {
                    // It completes a cycle, but must wait for the trip under way: if a party of
                    // its cycle leaves meanwhile, the end of that trip fails it rather than let
                    // it wait (tripQueuedCycles).
                    w = new NoWaitParty(executor, queue);
                    noWaitQueued = true;
                } else {
                    w = new Party(executor, queue);
                }
                queue.enqueue(w);
                cycle = null;
            } else {
                w = null;                              // this arrival trips the barrier
                tripping = true;
                cycle = takeCycleLocked(parties - 1);
            }
        }
        if (w != null) {
            return queue.armTimer(w, timeoutNanos);
        }
        Throwable failure = trip(cycle);
        tripQueuedCycles();
        return failure == null
                ? executor.newSucceededFuture(parties - 1)
                : executor.newFailedFuture(brokenBy(failure));
    }

    /** Grants the first {@code n} waiters (unlinked: late cancels lose), chained in queue order. Monitor. */
    private Party takeCycleLocked(int n) {
        queue.grant(n);
        return queue.takeChain();
    }

    /**
     * Runs the action and completes a taken cycle, outside the monitor. On a throwing action the
     * barrier breaks, failing the cycle and whoever already arrived for the next one.
     *
     * @return what the action threw, or {@code null}
     */
    private Throwable trip(Party cycle) {
        Throwable failure = null;
        if (action != null) {
            try {
                action.run();
            } catch (Throwable t) {
                failure = t;
            }
        }
        if (failure == null) {
            queue.completeGranted(cycle);               // indexes 0, 1, ... in arrival order
        } else {
            WaitQueue.failAll(cycle, brokenBy(failure));
        }
        if (failure != null) {
            failAll(true, "broken by its action");
        }
        return failure;
    }

    /**
     * Called by the thread that finished a trip: trips, one after the other, the cycles that
     * filled up meanwhile (their last party queued instead of tripping), then ends the trip.
     * So actions of successive cycles never overlap, even when an action itself arrives.
     */
    private void tripQueuedCycles() {
        for (;;) {
            Party cycle;
            Party noWait = null;
            synchronized (queue) {
                if (broken || queue.size() < parties) {
                    tripping = false;
                    if (noWaitQueued) {
                        noWaitQueued = false;
                        noWait = takeOutNoWaitLocked();
                    }
                    cycle = null;
                } else {
                    cycle = takeCycleLocked(parties);
                }
            }
            if (cycle == null) {
                WaitQueue.failAll(noWait, new WaitTimeoutException("no wait allowed and " + this
                        + " is not complete (a party of the cycle this arrival completed left before it tripped)"));
                return;
            }
            trip(cycle);
        }
    }

    /** Takes the zero-timeout arrivals left in the queue out of it, as a chain. Monitor. */
    private Party takeOutNoWaitLocked() {
        for (Party w = queue.peekFirst(); w != null; ) {
            Party next = queue.nextOf(w);
            if (w instanceof NoWaitParty) {
                queue.takeOut(w);
            }
            w = next;
        }
        return queue.takeChain();
    }

    private BrokenBarrierException brokenBy(Throwable actionFailure) {
        BrokenBarrierException e = new BrokenBarrierException("the action of " + this + " threw " + actionFailure);
        e.initCause(actionFailure);
        return e;
    }

    private void failAll(boolean breakIt, String why) {
        Party first;
        synchronized (queue) {
            broken = breakIt;
            queue.takeOut(Integer.MAX_VALUE);
            first = queue.takeChain();
        }
        if (first != null) {
            WaitQueue.failAll(first, new BrokenBarrierException(this + " was " + why));
        }
    }

    /**
     * For tests: the broken invariant, or {@code null}. Exact (under the monitor): a broken
     * barrier has no waiters (breaking fails them, and awaits fail at once while broken); unless
     * a trip is under way, fewer than {@code parties} wait (a full cycle trips at once).
     */
    String brokenInvariant() {
        synchronized (queue) {
            if (broken && !queue.isEmpty()) {
                return "broken, yet " + queue.size() + " waiter(s) queued";
            }
            if (!tripping && queue.size() >= parties) {
                return queue.size() + " waiting for " + parties + " parties and no trip under way";
            }
            return null;
        }
    }

    /** A waiting party; granted with its arrival index within the cycle. */
    private static class Party extends Waiter<Integer> {
        Party(EventExecutor executor, WaitQueue<Party> queue) {
            super(executor, queue);
        }

        @Override
        protected Integer grantedValue(int index) {
            return index;
        }
    }

    /** A zero-timeout arrival that completed a cycle while a trip was under way (see await0). */
    private static final class NoWaitParty extends Party {
        NoWaitParty(EventExecutor executor, WaitQueue<Party> queue) {
            super(executor, queue);
        }
    }
}
