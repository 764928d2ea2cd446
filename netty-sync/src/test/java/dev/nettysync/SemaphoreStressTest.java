package dev.nettysync;

import dev.nettysync.testing.DoomedExecutors;
import dev.nettysync.testing.StressRun;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress: two event loops and two plain threads hammer one semaphore with acquire
 * (1 or 2 permits), timed acquire with timeouts around the release cadence, tryAcquire, cancel
 * of random pending waiters, and releases both inline and hopped to another loop. It checks,
 * while running, that the permits held never exceed the limit, and at the end that every
 * future completed, every permit came back, and the queue is empty. The second run also resizes
 * the semaphore live ({@code reducePermits(1)} and {@code release()} growing it back, the limit
 * kept within 1..{@value #MAX_LIMIT}) and checks conservation: available + held == initial +
 * grown - reduced, with in-use never above the largest limit. The third completes some pending
 * waits behind the semaphore's back (their futures cast to {@code Promise}) instead of
 * cancelling them, and the fourth shuts down the executors of queued waits.
 *
 * <p>Size: {@code -Dnettysync.stress.ops=N} operations in all (default 10^6, as in CI); run
 * {@code mvn -pl netty-sync verify -Dnettysync.stress.ops=10000000 -Dtest=SemaphoreStressTest}
 * for a longer soak.
 */
class SemaphoreStressTest {
    private static final long OPS = Long.getLong("nettysync.stress.ops", 1_000_000);
    private static final int PERMITS = 3;
    private static final int MAX_PENDING_PER_ACTOR = 4;
    private static final int MAX_LIMIT = 6;

    @RegisterExtension final StressRun run = new StressRun();
    @RegisterExtension final DoomedExecutors doomed = new DoomedExecutors();

    private final AsyncSemaphore sem = new AsyncSemaphore(PERMITS);
    private final AtomicInteger limit = new AtomicInteger(PERMITS); // the limit the resizes aim at
    private final AtomicLong reduced = new AtomicLong();
    private final AtomicLong grown = new AtomicLong();
    private final AtomicBoolean resizeBusy = new AtomicBoolean();
    private boolean resizing;                                     // set before the actors start
    private boolean dooming;                                      // idem: some waits on executors that shut down
    private final Queue<DoomedExecutors.Tracked<Void>> doomedWaits = new ConcurrentLinkedQueue<>();
    private final Queue<DoomedExecutors.Tracked<Void>> doomedTimedWaits = new ConcurrentLinkedQueue<>();  // 1 h timeouts
    private final AtomicInteger inUse = new AtomicInteger();
    private final AtomicInteger maxInUse = new AtomicInteger();
    private final AtomicLong grants = new AtomicLong();
    private final AtomicLong cancels = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong tries = new AtomicLong();
    private final AtomicLong forged = new AtomicLong();
    private boolean forging;                                      // set before the actors start

    @Test
    void permitsAreConservedUnderRandomAcquireCancelTimeoutAndRelease() throws Exception {
        runAndCheck();
    }

    @Test
    void permitsAreConservedWhileTheLimitIsResizedLive() throws Exception {
        resizing = true;
        runAndCheck();
        assertThat(reduced.get()).as("the test did shrink the limit").isPositive();
        assertThat(grown.get()).as("the test did grow the limit").isPositive();
    }

    /**
     * Some pending waits are completed behind the semaphore's back (their future cast to
     * {@code Promise} and failed), as a caller may: a queued one must then leave with nothing
     * when a grant reaches it, and one already granted but not yet completed must give its grant
     * back, so the permits are still conserved and nobody waits behind a dead wait for ever.
     */
    @Test
    void permitsAreConservedWhenWaitsAreCompletedBehindTheSemaphoresBack() throws Exception {
        forging = true;
        runAndCheck();
        assertThat(forged.get()).as("the test did complete waits behind the semaphore's back").isPositive();
    }

    /**
     * A tenth of the waits are on executors that the actors shut down now and then (one step in
     * {@value #DOOM_EVERY}) while waits on them are queued: a grant reaching such a wait must go
     * on to the next waiter, so the permits are still conserved. At the end every such wait must
     * have ended; a grant whose listener never ran (Netty could not submit it) is counted as
     * orphaned, given back by the test, and may only be the residual race of the check (an
     * executor moving to SHUTDOWN between the check and the submission): fewer than the grants
     * the check passed on. Some of those waits have a timeout of an hour (one is queued just
     * before each shutdown): only their executor's shutdown, which cancels their timers, can end
     * them before a grant, and some must have ended so; once every executor has terminated none
     * may still be queued, but for the residual race of a timer armed from another thread
     * (WaitQueue's notes), which must stay rare.
     */
    @Test
    void permitsAreConservedWhileExecutorsOfQueuedWaitsShutDown() throws Exception {
        dooming = true;
        run.actors(OPS, Actor::new);
        doomed.shutdownAllAndAwait(Duration.ofSeconds(30));   // runs what they accepted, then ends
        // Every executor has terminated: a wait with a long timeout that is still queued now
        // could only leave by a grant (its timer is gone). Each must have ended as its executor
        // shut down, but for the residual race of a timer scheduled from another thread whose
        // scheduling task ran after the executor's last sweep (see WaitQueue).
        long endedByShutdown = 0;
        long stuck = 0;
        for (DoomedExecutors.Tracked<Void> t : doomedTimedWaits) {
            if (t.cancelIfStillQueued()) {
                stuck++;
            } else if (t.endedByItsTimersCancellation()) {
                endedByShutdown++;
            }
        }
        // Grants whose listener never ran (the residual race) hold their permits until settled:
        // settle them first, or the waits behind them would wait for nothing. Every executor has
        // terminated, so no listener of a doomed wait can run any more, and a doomed wait still
        // queued will be refused at its grant, not succeed.
        long orphaned = 0;
        for (DoomedExecutors.Tracked<Void> t : doomedWaits) {
            if (t.future.isSuccess() && t.claim()) {
                orphaned++;                  // granted, and no listener ever ran: give it back
                sem.release(t.permits);
            }
        }
        run.awaitUnfinished(Duration.ofSeconds(60), () -> { });
        long refusedAtGrant = 0;
        long waits = 0;
        for (DoomedExecutors.Tracked<Void> t : doomedWaits) {
            waits++;
            assertThat(t.future.isDone()).as("a wait on a shut-down executor ended").isTrue();
            if (t.refusedAtGrant()) {
                refusedAtGrant++;
            }
            if (t.future.isSuccess() && t.claim()) {
                orphaned++;                  // granted, and no listener ever ran: give it back
                sem.release(t.permits);
            }
        }
        System.out.printf("SemaphoreStressTest (dooming): %,d waits on %,d executors shut down: %,d refused at the"
                + " grant (passed on), %,d orphaned by the residual race; of %,d with a 1 h timeout, %,d ended"
                + " by the shutdown, %,d left queued (the residual race of the timer)%n",
                waits, doomed.shutdowns(), refusedAtGrant, orphaned, doomedTimedWaits.size(), endedByShutdown, stuck);
        checkConservation();
        assertThat(doomed.shutdowns()).as("the test did shut executors down").isGreaterThan(10);
        assertThat(refusedAtGrant).as("grants reached waits whose executor had shut down").isPositive();
        assertThat(endedByShutdown).as("timed waits ended when their executor cancelled their timers").isPositive();
        assertThat(stuck).as("timed waits left queued after their executor terminated (the residual race of a"
                + " timer armed from another thread as it shuts down) stay rare").isLessThanOrEqualTo(endedByShutdown / 10);
        // The residual race (the executor moves to SHUTDOWN between the check and Netty's
        // submission of the listeners) is a window of a few instructions, widened by a thread
        // preempted inside it: on a loaded machine a run has seen 3. Without the check every
        // such grant is orphaned and none refused.
        assertThat(orphaned).as("grants lost to a shut-down executor (the residual race) stay fewer than"
                + " those the check passed on").isLessThanOrEqualTo(refusedAtGrant);
    }

    private static final int DOOM_EVERY = 2_000;
    private static final IllegalStateException FORGED = new IllegalStateException("completed behind the semaphore's back");

    private void runAndCheck() throws Exception {
        run.actors(OPS, Actor::new);
        if (resizing) {
            // An untimed wait for 2 permits queued while the limit was at 1 is served only once
            // the limit grows again: nothing else can bring the permits a plain semaphore has
            // no bound to refuse it for. The actors have stopped resizing, so grow the limit to
            // the largest request, as the adaptive limit it stands for would; before this, a
            // long run (a loaded machine) that ended at 1 kept such a wait for ever.
            while (limit.get() < 2) {
                resize(true);
            }
        }
        run.awaitUnfinished(Duration.ofSeconds(60), () -> { });
        checkConservation();
    }

    private void checkConservation() {
        long ops = run.actorOps(OPS);
        long millis = run.elapsedMillis();
        System.out.printf("SemaphoreStressTest: %,d ops in %,d ms (%,.0f ops/s): %,d grants, %,d tries ok,"
                        + " %,d cancels won, %,d timeouts, %,d completed behind its back, max in use %d of %d;"
                        + " resizes -%,d +%,d%n",
                ops, millis, ops * 1000.0 / Math.max(1, millis),
                grants.get(), tries.get(), cancels.get(), timeouts.get(), forged.get(), maxInUse.get(), maxLimit(),
                reduced.get(), grown.get());

        run.assertNoFailure();
        assertThat(run.unfinished()).as("every future completed and every release ran").isZero();
        assertThat(maxInUse.get()).isLessThanOrEqualTo(maxLimit());
        assertThat(inUse.get()).isZero();
        assertThat(sem.queueLength()).isZero();
        assertThat(sem.availablePermits()).as("permits conserved: available + held (0) == initial + grown - reduced")
                .isEqualTo(PERMITS + grown.get() - reduced.get());
        assertThat(sem.availablePermits()).isEqualTo(limit.get());
        assertThat(sem.brokenInvariant()).isNull();
        assertThat(grants.get()).as("the test did grant through the queue").isPositive();
        assertThat(cancels.get()).as("the test did cancel queued waiters").isPositive();
        assertThat(timeouts.get()).as("the test did time out waiters").isPositive();
    }

    private final class Actor extends StressRun.Actor {
        private final List<Future<Void>> pending = new ArrayList<>();   // confined to this actor

        @Override
        protected void step() {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            int n = rnd.nextInt(10) == 0 ? 2 : 1;
            int op = rnd.nextInt(100);
            pending.removeIf(Future::isDone);
            if (pending.size() >= MAX_PENDING_PER_ACTOR && op < 50) {
                backOff();                 // so the loops can run granted listeners
            } else if (op >= 70 && op < 85) {
                if (!pending.isEmpty()) {
                    Future<Void> f = pending.remove(rnd.nextInt(pending.size()));
                    if (forging && rnd.nextInt(3) == 0) {
                        ((Promise<Void>) f).tryFailure(FORGED);   // a caller who cast it
                    } else {
                        f.cancel(false);
                    }
                }
            } else if (dooming && rnd.nextInt(DOOM_EVERY) == 0) {
                // queued (most often) just before its executor shuts down: an untimed one is then
                // refused at its grant; one with a 1 h timeout ends as the shutdown cancels its timer
                if (rnd.nextBoolean()) {
                    doomedTimedWaits.add(trackDoomed(sem.acquire(doomed.current(), n, 1, TimeUnit.HOURS), n));
                } else {
                    trackDoomed(sem.acquire(doomed.current(), n), n);
                }
                doomed.replace();
            } else if (dooming && op < 50 && rnd.nextInt(10) == 0) {
                if (op < 35) {
                    trackDoomed(sem.acquire(doomed.current(), n), n);
                } else if (op < 42) {
                    // a timeout that only its executor's shutdown can cut short
                    doomedTimedWaits.add(trackDoomed(sem.acquire(doomed.current(), n, 1, TimeUnit.HOURS), n));
                } else {
                    trackDoomed(sem.acquire(doomed.current(), n, rnd.nextInt(300), TimeUnit.MICROSECONDS), n);
                }
            } else if (op < 35) {
                track(sem.acquire(run.randomLoop(), n), n);
            } else if (op < 50) {
                track(sem.acquire(run.randomLoop(), n, rnd.nextInt(300), TimeUnit.MICROSECONDS), n);
            } else if (op < 70) {
                if (sem.tryAcquire(n)) {
                    tries.incrementAndGet();
                    holdThenRelease(n);
                }
            } else if (resizing && op >= 85 && op < 90) {
                resize(rnd.nextBoolean());
            } else {
                // monitoring calls may be made from anywhere at any time
                int available = sem.availablePermits();
                if (available < (resizing ? -MAX_LIMIT : 0) || available > maxLimit()) {
                    run.fail("availablePermits() = " + available);
                }
                String broken = sem.brokenInvariant();    // I1, I2: nobody waits who could be served
                if (broken != null) {
                    run.fail(broken);
                }
            }
        }

        /** A wait on a doomed executor: its listener may never run, so the test settles it at the end. */
        private DoomedExecutors.Tracked<Void> trackDoomed(Future<Void> f, int n) {
            DoomedExecutors.Tracked<Void> t = new DoomedExecutors.Tracked<>(f, n);
            doomedWaits.add(t);
            pending.add(f);
            f.addListener(x -> {
                if (x.isSuccess() && t.claim()) {
                    grants.incrementAndGet();
                    holdThenRelease(n);
                } else if (!x.isSuccess() && !x.isCancelled() && !(x.cause() instanceof WaitTimeoutException)
                        && !(x.cause() instanceof java.util.concurrent.RejectedExecutionException)) {
                    run.fail(x.cause());
                }
            });
            if (f.isSuccess() && t.claim()) {
                holdThenRelease(n);          // the fast path on a shut-down executor: the caller holds it
            }
            return t;
        }

        private void track(Future<Void> f, int n) {
            run.begin();
            pending.add(f);
            f.addListener(x -> {
                if (x.isSuccess()) {
                    grants.incrementAndGet();
                    holdThenRelease(n);
                } else if (x.isCancelled()) {
                    cancels.incrementAndGet();
                } else if (x.cause() instanceof WaitTimeoutException) {
                    timeouts.incrementAndGet();
                } else if (x.cause() == FORGED) {
                    forged.incrementAndGet();      // holds nothing
                } else {
                    run.fail(x.cause());
                }
                run.end();
            });
        }
    }

    /** Moves the limit by one, within 1..MAX_LIMIT, as an adaptive limit would. */
    private void resize(boolean grow) {
        if (!resizeBusy.compareAndSet(false, true)) {
            return;                        // one resize at a time, so the limit stays in 1..MAX_LIMIT
        }
        try {
            int l = limit.get();
            if (grow && l < MAX_LIMIT) {
                grown.incrementAndGet();
                sem.release();
                limit.set(l + 1);
            } else if (!grow && l > 1) {
                reduced.incrementAndGet();
                sem.reducePermits(1);
                limit.set(l - 1);
            }
        } finally {
            resizeBusy.set(false);
        }
    }

    private int maxLimit() {
        return resizing ? MAX_LIMIT : PERMITS;
    }

    private void holdThenRelease(int n) {
        int now = inUse.addAndGet(n);
        maxInUse.accumulateAndGet(now, Math::max);
        if (now > maxLimit()) {
            run.fail(now + " permits in use, limit at most " + maxLimit());
        }
        if (ThreadLocalRandom.current().nextBoolean()) {
            inUse.addAndGet(-n);
            sem.release(n);
        } else {
            run.begin();
            run.randomLoop().execute(() -> {
                inUse.addAndGet(-n);
                sem.release(n);
                run.end();
            });
        }
    }
}
