package dev.nettysync.limit;

import dev.nettysync.AbstractLincheckTest;
import dev.nettysync.testing.NoLeakTracking;
import dev.nettysync.testing.SweptTimersExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * One Lincheck scaffold for the models of an {@link AsyncLimiter}'s wait: threads race the
 * limiter's {@code tryAcquire}, cancels of the oldest wait and a shutting-down executor's sweep
 * of timers against one thread (the {@value #WAITER} group) that queues untimed and timed waits
 * and ends the permits held. Every permit granted, by a {@code tryAcquire} or to a wait, goes to
 * one pile of held permits; the ends take from it.
 *
 * <p>What it gives:
 * <ul>
 *   <li>the operations {@link #acquire()} and {@link #acquireTimed()} (group {@value #WAITER}),
 *       whose granted permit joins the pile on the thread that grants it, and
 *       {@link #executorCancelsOldestTimer()} (group {@value #SWEEPER});</li>
 *   <li>for the subclass's own operations: {@link #hold} (a {@code tryAcquire}'s result onto the
 *       pile), {@link #endHeld} (an end of the oldest permit held) and {@link #cancelOldestWait};</li>
 *   <li>the pile's counts for the model's invariant: {@link #heldCount()},
 *       {@link #mostHeldAtOnce()} and {@link #heldPermits()};</li>
 *   <li>the validation {@link #permitsAreConserved()}: it counts the waits pending and checks
 *       that every granted wait's permit is held or ended, then asks the model
 *       ({@link #checkScenario}); it then cancels every wait and ends every permit held
 *       ({@link #endAtQuiescence}), checks that no cancelled wait was granted meanwhile, and asks
 *       the model again ({@link #checkQuiescent}): everything must be back;</li>
 *   <li>leak tracking off ({@link NoLeakTracking}: Lincheck and Netty's tracker do not mix) and
 *       a stress budget for limiters.</li>
 * </ul>
 *
 * <p>What a subclass supplies: {@link #limiter()}; its {@code tryAcquire} and
 * {@code cancelOldest} operations, which are one line over {@link #hold} and
 * {@link #cancelOldestWait} but are the model's because their results are: whether a
 * {@code tryAcquire}'s or a cancel's outcome fits one sequential order differs from limiter to
 * limiter (an operation that returns nothing is not compared), and Java cannot narrow a return
 * type in an override (nor would Lincheck want one: it reads each class's declared methods, so
 * an overriding operation would be drawn twice as often); an end operation in the
 * {@value #WAITER} group over {@link #endHeld} (an end that refuses fails the run); any other
 * operation; the invariant of a finished scenario and of quiescence; and its model-checking
 * sizes.
 *
 * <p>Ends are on one thread: two threads ending "the permit held" would race on the test's pile,
 * not on the limiter (the second could look between an end and the grant it causes). The
 * sweeps are on one thread too: two sweeps are not one step (the second can find no timer left
 * while the first has not yet ended the wait it took), which no sequential order explains; a
 * sweep still races grants, cancels and the waiter.
 */
@ExtendWith(NoLeakTracking.class)
public abstract class AbstractLimiterLincheckTest extends AbstractLincheckTest {
    /** The non-parallel group of the thread that queues waits and ends permits. */
    protected static final String WAITER = "waiter";
    /** The non-parallel group of the timer sweeps. */
    protected static final String SWEEPER = "sweeper";

    private final SweptTimersExecutor timers = new SweptTimersExecutor();
    private final List<Future<Permit>> acquires = new ArrayList<>();         // waiter thread only
    private final Queue<Future<Permit>> toCancel = new ConcurrentLinkedQueue<>();   // waits cancelOldestWait has not taken yet
    private final Queue<Permit> held = new ConcurrentLinkedQueue<>();        // granted, not taken by an end: any thread adds, the waiter takes
    private final AtomicInteger holding = new AtomicInteger();               // granted and not ended: up before a permit joins the pile, down when an end takes it, before it gives back
    private final AtomicInteger mostHeld = new AtomicInteger();              // the most holding has been

    /** The limiter under test (read only by operations, so a subclass's field may hold it). */
    protected abstract AsyncLimiter limiter();

    /**
     * The model's invariant after a scenario, before anything is cancelled or ended:
     * {@code pending} waits are not done.
     */
    protected abstract void checkScenario(int pending);

    /** The model's invariant once every wait is cancelled and every permit held is ended: all is back. */
    protected abstract void checkQuiescent();

    /** How the validation ends a permit still held: {@link Permit#release()} unless the model says otherwise. */
    protected boolean endAtQuiescence(Permit p) {
        return p.release();
    }

    @Operation(nonParallelGroup = WAITER)
    public void acquire() {
        follow(limiter().acquire(ImmediateEventExecutor.INSTANCE));
    }

    /** A timed wait whose timer never fires by itself (see {@link #executorCancelsOldestTimer}). */
    @Operation(nonParallelGroup = WAITER)
    public void acquireTimed() {
        follow(limiter().acquire(timers, 1, TimeUnit.HOURS));
    }

    /** What a shutting-down executor does to each of its timers: cancels the oldest, inline (the wait fails). */
    @Operation(nonParallelGroup = SWEEPER)
    public void executorCancelsOldestTimer() {
        timers.cancelOldestTimer();
    }

    private void follow(Future<Permit> f) {
        acquires.add(f);
        toCancel.add(f);
        f.addListener(done -> {
            if (done.isSuccess()) {
                hold((Permit) done.getNow());
            }
        });
    }

    /** Puts {@code p}, if any, on the pile of permits held: true if there was one. */
    protected final boolean hold(Permit p) {
        if (p == null) {
            return false;
        }
        mostHeld.accumulateAndGet(holding.incrementAndGet(), Math::max);
        held.add(p);
        return true;
    }

    /**
     * Ends the oldest permit held, if any, with {@code end} (it leaves the count first: the end
     * may grant a wait at once): true if there was one; a permit that refuses its first end
     * fails the run.
     */
    protected final boolean endHeld(Predicate<Permit> end) {
        Permit p = held.poll();
        if (p == null) {
            return false;
        }
        holding.decrementAndGet();
        if (!end.test(p)) {
            throw new IllegalStateException(p + " refused its first end");
        }
        return true;
    }

    /** Cancels the oldest wait not cancelled by this yet (granted or not): true if the cancel won. */
    protected final boolean cancelOldestWait() {
        Future<Permit> f = toCancel.poll();
        return f != null && f.cancel(false);
    }

    /** Permits granted and not ended. */
    protected final int heldCount() {
        return holding.get();
    }

    /** The most permits held at once in this scenario, counted at each grant. */
    protected final int mostHeldAtOnce() {
        return mostHeld.get();
    }

    /** The permits held (a view). */
    protected final Collection<Permit> heldPermits() {
        return Collections.unmodifiableCollection(held);
    }

    @Validate
    public final void permitsAreConserved() {
        int pending = 0;
        for (Future<Permit> f : acquires) {
            if (!f.isDone()) {
                pending++;
            } else if (f.isSuccess()) {
                check(held.contains(f.getNow()) || f.getNow().isReleased(),
                        "granted " + f.getNow() + " is neither held nor ended");
            } else if (f.isCancelled()) {
                check(f.getNow() == null, "a cancelled wait carries " + f.getNow());
            }
        }
        checkScenario(pending);

        // Quiescence: nothing pending, nothing held; then everything is back.
        for (Future<Permit> f : acquires) {
            f.cancel(false);
        }
        for (int i = held.size(); i > 0; i--) {
            endHeld(this::endAtQuiescence);
        }
        check(held.isEmpty() && heldCount() == 0, "a cancelled wait was granted: " + held);
        checkQuiescent();
    }

    /* Each invocation runs a limiter's wait queue and Netty's promises on real threads. */
    @Override
    protected int stressInvocations() {
        return Integer.getInteger("nettysync.lincheck.stress.invocations", 40);
    }
}
