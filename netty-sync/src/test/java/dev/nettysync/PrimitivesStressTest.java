package dev.nettysync;

import dev.nettysync.testing.DoomedExecutors;
import dev.nettysync.testing.StressRun;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Consumer;

import static java.util.concurrent.TimeUnit.MICROSECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress for {@link AsyncEvent}, {@link AsyncCondition} and {@link AsyncBarrier}, in
 * the manner of {@link SemaphoreStressTest}: two event loops and two plain threads pick random
 * operations on one instance of each (waits plain and timed, with timeouts around the cadence
 * of the operations that end them, cancels of random pending waits, set/clear, lock + signal /
 * signalAll / await / awaitUntil, barrier arrivals and rare resets). Checked:
 * <ul>
 *   <li>every future completes (after a final drain: set, signalAll until empty, reset);</li>
 *   <li>event: a wait still pending at the end, or cancelled successfully, was queued after
 *       the last {@code set()} that began (for a cancel: and returned) before, and no wait
 *       failed other than by cancel or timeout;</li>
 *   <li>condition: the lock is never held by two parties, every wait resumes holding it, and
 *       at the end it is free with nobody queued on it or on the condition;</li>
 *   <li>barrier: each trip (counted by its action) handed out each index {@code 0..P-1} exactly
 *       once, so every index was returned exactly {@code trips} times; failures are only
 *       cancels, timeouts and {@link BrokenBarrierException}s from resets; {@code waiting()}
 *       is 0 at the end.</li>
 * </ul>
 * Size: {@code -Dnettysync.stress.ops=N} operations in all (default 10^6).
 */
class PrimitivesStressTest {
    private static final long OPS = Long.getLong("nettysync.stress.ops", 1_000_000);
    private static final int PARTIES = 3;
    private static final int MAX_PENDING_PER_ACTOR = 8;

    @RegisterExtension final StressRun run = new StressRun();
    @RegisterExtension final DoomedExecutors doomed = new DoomedExecutors();

    private final AsyncEvent event = new AsyncEvent();
    private final AsyncCondition cond = new AsyncCondition();
    private final AsyncLock lock = cond.lock();
    private final AtomicLong barrierTrips = new AtomicLong();
    private final AsyncBarrier barrier = new AsyncBarrier(PARTIES, barrierTrips::incrementAndGet);

    private final AtomicLong seq = new AtomicLong();                  // orders sets and event waits
    private final AtomicLong lastSetStartedAt = new AtomicLong(-1);
    private final AtomicLong lastReturnedSetStartedAt = new AtomicLong(-1);  // of sets that returned
    private final ConcurrentLinkedQueue<QueuedEventWait> queuedEventWaits = new ConcurrentLinkedQueue<>();
    private final AtomicInteger holders = new AtomicInteger();
    private final AtomicLongArray indexCounts = new AtomicLongArray(PARTIES);
    private volatile boolean draining;                                // makes every predicate true
    private boolean dooming;                                          // set before the actors start
    private final ConcurrentLinkedQueue<DoomedExecutors.Tracked<Void>> doomedLocks = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<DoomedExecutors.Tracked<Void>> doomedWaits = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<DoomedExecutors.Tracked<Void>> doomedEventWaits = new ConcurrentLinkedQueue<>();
    private static final long HOUR_MICROS = 3_600_000_000L;          // a timeout only a shutdown cuts short
    private static final int DOOM_EVERY = 2_000;

    private final AtomicLong eventWakes = new AtomicLong();
    private final AtomicLong condResumes = new AtomicLong();
    private final AtomicLong cancels = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong broken = new AtomicLong();

    @Test
    void eventConditionAndBarrierUnderRandomWaitsCancelsTimeoutsAndWakeUps() throws Exception {
        runAndCheck();
    }

    /**
     * As above, with an eighth of the lock-and-condition operations on executors that the actors
     * shut down now and then (one step in {@value #DOOM_EVERY}), while lock waits and condition
     * waits on them are queued: a lock handed to a dead waiter goes on, a dead condition waiter
     * passes its signal and the lock on. The lock must end free, both queues empty; a grant
     * whose listener never ran (the residual race of the check) is unlocked by the test and
     * counted, and must stay below the waits refused. Some lock and condition waits on them, and
     * an event wait queued just before each shutdown, have a timeout of an hour: only their
     * executor's shutdown (which cancels their timers) can end them early, and some must have
     * ended so; no such event wait may still be queued once every executor has terminated, but
     * for the residual race of a timer armed from another thread, which must stay rare.
     */
    @Test
    void theLockAndItsConditionSurviveExecutorsThatShutDownUnderQueuedWaits() throws Exception {
        dooming = true;
        runAndCheck();
    }

    /**
     * Settles the doomed waits that ended holding the lock with no listener run (the residual
     * race): unlocks for each, claimed so that a late listener does not too. Returns how many.
     */
    private long unlockOrphans() {
        long orphaned = 0;
        for (DoomedExecutors.Tracked<Void> t : doomedLocks) {
            if (t.future.isSuccess() && t.claim()) {
                orphaned++;                       // granted, no listener ran: nobody holds it
                lock.unlock();
            }
        }
        for (DoomedExecutors.Tracked<Void> t : doomedWaits) {
            if (t.future.isDone() && !heldNothing(t.future, true) && t.claim()) {
                orphaned++;                       // ended holding the lock, no listener ran
                lock.unlock();
            }
        }
        return orphaned;
    }

    private void runAndCheck() throws Exception {
        run.actors(OPS, Actor::new);
        long orphaned = 0;
        long eventWaitsStuck = 0;
        if (dooming) {
            doomed.shutdownAllAndAwait(Duration.ofSeconds(30));
            orphaned += unlockOrphans();
            // Every executor has terminated: an event wait with a 1 h timeout still queued now
            // could only leave by a set (its timer is gone); each must have ended as its executor
            // shut down, but for the residual race of a timer armed from another thread (WaitQueue).
            for (DoomedExecutors.Tracked<Void> t : doomedEventWaits) {
                if (t.cancelIfStillQueued()) {
                    eventWaitsStuck++;
                } else if (!t.future.isSuccess() && !(t.future.cause() instanceof java.util.concurrent.RejectedExecutionException)) {
                    run.fail(t.future.cause());
                }
            }
        }

        // Quiesce: let timers and hops run out, then check the event, then drain everything.
        long deadline = System.nanoTime() + SECONDS.toNanos(2);
        while (System.nanoTime() < deadline && lock.isLocked()) {
            Thread.sleep(1);
        }
        long lastSet = lastSetStartedAt.get();
        for (QueuedEventWait w : queuedEventWaits) {
            if (!w.future.isDone() && w.stamp < lastSet) {
                run.fail("an event wait queued at " + w.stamp + " is still pending after a set began at " + lastSet);
            }
        }
        draining = true;
        run.awaitUnfinished(Duration.ofSeconds(60), () -> {
            event.set();
            barrier.reset();
            if (lock.tryLock()) {
                cond.signalAll();
                lock.unlock();
            }
        });
        System.out.printf("PrimitivesStressTest: %,d ops in %,d ms: %,d event wakes, %,d condition resumes,"
                        + " %,d barrier trips, %,d cancels, %,d timeouts, %,d broken by reset%n",
                run.actorOps(OPS), run.elapsedMillis(), eventWakes.get(), condResumes.get(), barrierTrips.get(),
                cancels.get(), timeouts.get(), broken.get());

        run.assertNoFailure();
        assertThat(run.unfinished()).as("every future completed (lock %s, %d on the condition, %d on the event,"
                + " %d at the barrier)", lock, cond.queueLength(), event.queueLength(), barrier.waiting()).isZero();
        if (dooming) {
            // A condition wait on a doomed executor is not one of the run's futures, and a lock
            // grant's listener may have queued it after the drain's last signal (its timer, on
            // the dead executor, never fires): signal until each one has ended, which it must
            // once signalled (refused, passing the signal and the lock on).
            long signalUntil = System.nanoTime() + SECONDS.toNanos(10);
            while (System.nanoTime() < signalUntil
                    && doomedWaits.stream().anyMatch(t -> !t.future.isDone())) {
                if (lock.tryLock()) {
                    cond.signalAll();
                    lock.unlock();
                }
                Thread.sleep(1);
            }
            orphaned += unlockOrphans();
            long refused = 0;
            long endedByShutdown = 0;
            for (DoomedExecutors.Tracked<Void> t : doomedEventWaits) {
                if (t.endedByItsTimersCancellation()) {
                    endedByShutdown++;
                }
            }
            for (DoomedExecutors.Tracked<Void> t : doomedLocks) {
                if (t.endedByItsTimersCancellation()) {
                    endedByShutdown++;
                }
            }
            for (DoomedExecutors.Tracked<Void> t : doomedWaits) {
                if (t.endedByItsTimersCancellation()) {
                    endedByShutdown++;
                }
            }
            for (DoomedExecutors.Tracked<Void> t : doomedWaits) {
                assertThat(t.future.isDone()).as("a condition wait on a dead executor ended once signalled"
                        + " (condition queue %d, lock %s)", cond.queueLength(), lock).isTrue();
                if (t.future.cause() instanceof java.util.concurrent.RejectedExecutionException) {
                    refused++;
                }
            }
            for (DoomedExecutors.Tracked<Void> t : doomedLocks) {
                assertThat(t.future.isDone()).as("a lock wait on a dead executor ended").isTrue();
                if (t.refusedAtGrant()) {
                    refused++;
                }
            }
            System.out.printf("PrimitivesStressTest (dooming): %,d lock, %,d condition and %,d event waits on %,d"
                    + " executors shut down: %,d refused, %,d orphaned by the residual race; %,d timed waits ended"
                    + " by the shutdown, %,d event waits left queued (the residual race of the timer)%n",
                    doomedLocks.size(), doomedWaits.size(), doomedEventWaits.size(), doomed.shutdowns(), refused,
                    orphaned, endedByShutdown, eventWaitsStuck);
            assertThat(doomed.shutdowns()).isGreaterThan(10);
            assertThat(endedByShutdown).as("timed waits ended when their executor cancelled their timers").isPositive();
            assertThat(eventWaitsStuck).as("timed event waits left queued after their executor terminated (the"
                    + " residual race of a timer armed from another thread) stay rare")
                    .isLessThanOrEqualTo(endedByShutdown / 10);
            assertThat(refused).as("waits on shut-down executors were refused and passed on").isPositive();
            assertThat(orphaned).as("grants lost to a shut-down executor (the residual race, see"
                    + " SemaphoreStressTest) stay fewer than the waits refused").isLessThanOrEqualTo(refused);
        }
        assertThat(holders.get()).isZero();
        assertThat(lock.isLocked()).isFalse();
        assertThat(lock.queueLength()).isZero();
        assertThat(cond.queueLength()).isZero();
        assertThat(event.queueLength()).isZero();
        assertThat(barrier.waiting()).isZero();
        assertThat(barrier.isBroken()).isFalse();
        for (Object p : new Object[] {event, cond, barrier}) {
            assertThat(Invariants.brokenInvariant(p)).as("%s", p).isNull();
        }
        for (int i = 0; i < PARTIES; i++) {
            assertThat(indexCounts.get(i)).as("index %d handed out once per trip", i).isEqualTo(barrierTrips.get());
        }
        assertThat(eventWakes.get()).isPositive();
        assertThat(condResumes.get()).isPositive();
        assertThat(barrierTrips.get()).isPositive();
        assertThat(cancels.get()).isPositive();
        assertThat(timeouts.get()).isPositive();
    }

    private final class Actor extends StressRun.Actor {
        private final List<Future<?>> pending = new ArrayList<>();   // confined to this actor
        private final Map<Future<?>, Long> eventWaitStamps = new IdentityHashMap<>();  // idem

        @Override
        protected void step() {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            int op = rnd.nextInt(100);
            pending.removeIf(Future::isDone);
            eventWaitStamps.keySet().removeIf(Future::isDone);
            boolean full = pending.size() >= MAX_PENDING_PER_ACTOR;
            if (dooming && rnd.nextInt(DOOM_EVERY) == 0) {
                // queued (unless the event is set) just before its executor shuts down
                doomedEventWaits.add(new DoomedExecutors.Tracked<>(event.await(doomed.current(), 1, TimeUnit.HOURS), 0));
                doomed.replace();
            } else if (op < 12) {
                if (!pending.isEmpty()) {
                    Future<?> f = pending.remove(rnd.nextInt(pending.size()));
                    Long queuedAt = eventWaitStamps.remove(f);
                    long setBefore = lastReturnedSetStartedAt.get();
                    if (f.cancel(false) && queuedAt != null && setBefore > queuedAt) {
                        run.fail("cancelled an event wait queued at " + queuedAt + " after a set that began at "
                                + setBefore + " had returned without waking it");
                    }
                }
            } else if (op < 20) {
                long setAt = seq.incrementAndGet();
                lastSetStartedAt.accumulateAndGet(setAt, Math::max);
                event.set();
                lastReturnedSetStartedAt.accumulateAndGet(setAt, Math::max);
            } else if (op < 27) {
                event.clear();
            } else if (op < 55) {
                if (full) {
                    backOff();
                } else if (op < 40) {
                    eventWait(rnd);
                } else {
                    barrierArrive(rnd);
                }
            } else if (op < 99) {
                if (full) {
                    backOff();
                } else {
                    conditionOp(rnd);
                }
            } else {
                barrier.reset();
            }
        }

        private void eventWait(ThreadLocalRandom rnd) {
            boolean timed = rnd.nextBoolean();
            Future<Void> f = timed ? event.await(run.randomLoop(), rnd.nextInt(300), MICROSECONDS) : event.await(run.randomLoop());
            if (!f.isDone()) {
                // stamped after the await returned, when it is queued: a set stamped later must wake it
                long stamp = seq.incrementAndGet();
                queuedEventWaits.add(new QueuedEventWait(stamp, f));
                eventWaitStamps.put(f, stamp);
            }
            track(f, true, x -> {
                if (x.isSuccess()) {
                    eventWakes.incrementAndGet();
                } else {
                    expectCancelOrTimeout(x);
                }
            });
        }

        private void barrierArrive(ThreadLocalRandom rnd) {
            boolean timed = rnd.nextInt(4) == 0;
            Future<Integer> f = timed ? barrier.await(run.randomLoop(), rnd.nextInt(500), MICROSECONDS) : barrier.await(run.randomLoop());
            track(f, true, x -> {
                if (x.isSuccess()) {
                    int i = (Integer) x.getNow();
                    if (i < 0 || i >= PARTIES) {
                        run.fail("barrier index " + i);
                    } else {
                        indexCounts.incrementAndGet(i);
                    }
                } else if (x.cause() instanceof BrokenBarrierException) {
                    broken.incrementAndGet();
                } else {
                    expectCancelOrTimeout(x);
                }
            });
        }

        /** lock, then signal / signalAll / await / awaitUntil holding it; unlock when done. */
        private void conditionOp(ThreadLocalRandom rnd) {
            boolean onDoomed = dooming && rnd.nextInt(8) == 0;
            EventExecutor ex = onDoomed ? doomed.current() : run.randomLoop();
            boolean timed = rnd.nextInt(4) == 0;
            Future<Void> locked = timed ? lock.lock(ex, rnd.nextInt(300), MICROSECONDS)
                    : onDoomed && rnd.nextInt(3) == 0 ? lock.lock(ex, HOUR_MICROS, MICROSECONDS) : lock.lock(ex);
            int what = rnd.nextInt(10);
            long waitTimeout = rnd.nextInt(3) == 0 ? rnd.nextInt(400) : onDoomed && rnd.nextBoolean() ? HOUR_MICROS : -1;
            trackOn(onDoomed, doomedLocks, locked, true, x -> {
                if (!x.isSuccess()) {
                    expectCancelOrTimeout(x);
                    return;
                }
                enter();
                if (what < 3) {
                    cond.signal();
                    leave();
                } else if (what < 4) {
                    cond.signalAll();
                    leave();
                } else {
                    holders.decrementAndGet();                  // await releases the lock
                    Future<Void> w;
                    if (what < 7) {
                        w = waitTimeout < 0 ? cond.await(ex) : cond.await(ex, waitTimeout, MICROSECONDS);
                    } else {
                        w = waitTimeout < 0
                                ? cond.awaitUntil(ex, () -> draining || ThreadLocalRandom.current().nextBoolean())
                                : cond.awaitUntil(ex, () -> draining || ThreadLocalRandom.current().nextBoolean(),
                                        waitTimeout, MICROSECONDS);
                    }
                    pendingFromListener(w);
                    trackOn(onDoomed, doomedWaits, w, false, y -> {   // in a listener: not this actor's thread
                        enter();                               // held again, however it ended
                        if (y.isSuccess()) {
                            condResumes.incrementAndGet();
                        } else if (y.cause() instanceof java.util.concurrent.RejectedExecutionException) {
                            // refused at once (the executor had shut down; the lock was never
                            // released), or ended as its executor cancelled its timer (it took the
                            // lock back on its executor, which still ran it)
                        } else {
                            expectCancelOrTimeout(y);
                        }
                        leave();
                    });
                }
            });
        }

        /** Condition waits are made in listeners (on loops); hand them to a cancelling actor. */
        private void pendingFromListener(Future<Void> w) {
            if (ThreadLocalRandom.current().nextInt(8) == 0) {
                run.randomLoop().execute(() -> w.cancel(false));
            }
        }

        /**
         * As {@link #track}, or, for a future on a doomed executor (whose listener may never
         * run), tracked for the final settling: whoever claims it (its listener, or the end of
         * the test) owns what it holds. A lock found already held (the fast path on an executor
         * already shut down) is claimed and handled here by the caller.
         */
        private void trackOn(boolean onDoomed, ConcurrentLinkedQueue<DoomedExecutors.Tracked<Void>> doomedList,
                             Future<Void> f, boolean mine, Consumer<Future<?>> onDone) {
            if (!onDoomed) {
                track(f, mine, onDone);
                return;
            }
            DoomedExecutors.Tracked<Void> t = new DoomedExecutors.Tracked<>(f, 1);
            doomedList.add(t);
            if (mine && !f.isDone()) {
                pending.add(f);
            }
            boolean conditionWait = doomedList == doomedWaits;
            Consumer<Future<?>> once = x -> {
                if (heldNothing(x, conditionWait)) {
                    return;                        // refused: holds nothing
                }
                if (t.claim()) {
                    try {
                        onDone.accept(x);
                    } catch (Throwable e) {
                        run.fail(e);
                    }
                }
            };
            f.addListener(once::accept);
            if (f.isDone()) {
                once.accept(f);
            }
        }

        private <T> void track(Future<T> f, boolean mine, Consumer<Future<?>> onDone) {
            run.begin();
            if (mine && !f.isDone()) {
                pending.add(f);
            }
            f.addListener(x -> {
                try {
                    onDone.accept(x);
                } catch (Throwable t) {
                    run.fail(t);
                }
                run.end();
            });
        }
    }

    private static final class QueuedEventWait {
        final long stamp;
        final Future<Void> future;

        QueuedEventWait(long stamp, Future<Void> future) {
            this.stamp = stamp;
            this.future = future;
        }
    }

    /**
     * Whether a lock or condition wait on a doomed executor ended holding nothing, by the
     * contract's types: a lock wait refused with a RejectedExecutionException holds nothing; a
     * condition wait holds nothing only if it gave the lock up (LockGivenUpException). Its other
     * refusals (at once, before it let the lock go; or ended as its executor cancelled its timer,
     * taking the lock back on that executor, which still ran it) leave the caller holding it.
     */
    private static boolean heldNothing(Future<?> f, boolean conditionWait) {
        Throwable c = f.cause();
        return conditionWait ? c instanceof LockGivenUpException : c instanceof java.util.concurrent.RejectedExecutionException;
    }

    private void enter() {
        int h = holders.incrementAndGet();
        if (h != 1 || !lock.isLocked()) {
            run.fail(h + " holders of the lock, isLocked=" + lock.isLocked());
        }
    }

    private void leave() {
        holders.decrementAndGet();          // before unlock: the unlock may hand it on at once
        lock.unlock();
    }

    private void expectCancelOrTimeout(Future<?> x) {
        if (x.isCancelled()) {
            cancels.incrementAndGet();
        } else if (x.cause() instanceof WaitTimeoutException) {
            timeouts.incrementAndGet();
        } else {
            run.fail(x.cause());
        }
    }
}
