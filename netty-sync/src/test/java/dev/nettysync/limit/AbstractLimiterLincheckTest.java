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
 *       whose granted permit joins the pile on the thread that grants it,
 *       {@link #executorCancelsOldestTimer()} (group {@value #SWEEPER}) and
 *       {@link #cancelOldest()} (any thread);</li>
 *   <li>for the subclass's own operations: {@link #hold} (a {@code tryAcquire}'s result onto the
 *       pile) and {@link #endHeld} (an end of the oldest permit held);</li>
 *   <li>the pile's counts for the model's invariant: {@link #heldCount()},
 *       {@link #mostHeldAtOnce()} and {@link #heldPermits()};</li>
 *   <li>the validation {@link #permitsAreConserved()}: it counts the waits pending and checks
 *       that every granted wait's permit is held or ended, that a cancel that won left its wait
 *       cancelled and one that lost found it done, then asks the model
 *       ({@link #checkScenario}); it then cancels every wait and ends every permit held
 *       ({@link #endAtQuiescence}), checks that no cancelled wait was granted meanwhile, and asks
 *       the model again ({@link #checkQuiescent}): everything must be back;</li>
 *   <li>leak tracking off ({@link NoLeakTracking}: Lincheck and Netty's tracker do not mix) and
 *       a stress budget for limiters.</li>
 * </ul>
 *
 * <p>What a subclass supplies: {@link #limiter()}; its {@code tryAcquire} operation, one line
 * over {@link #hold} but the model's because its result is: whether a {@code tryAcquire}'s
 * outcome fits one sequential order differs from limiter to limiter (an operation that returns
 * nothing is not compared), and Java cannot narrow a return type in an override (nor would
 * Lincheck want one: it reads each class's declared methods, so an overriding operation would
 * be drawn twice as often); an end operation in the {@value #WAITER} group over
 * {@link #endHeld} (an end that refuses fails the run); any other operation; the invariant of a
 * finished scenario and of quiescence; and its model-checking sizes. A model whose results can
 * show the test's own bookkeeping says so: {@link #cancelsPickAtomically} (which wait a cancel
 * takes out) and {@link #endsFirst} (which permit an end takes); {@link #endAtQuiescence} picks
 * how the validation ends what is still held.
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
    private final Queue<Future<Permit>> toCancel = new ConcurrentLinkedQueue<>();   // waits cancelOldest has not taken yet
    private final Object picking = new Object();                             // see cancelsPickAtomically
    private final Queue<Future<Permit>> cancelWon = new ConcurrentLinkedQueue<>();  // waits whose cancel by cancelOldest won
    private final Queue<Future<Permit>> cancelLost = new ConcurrentLinkedQueue<>(); // waits whose cancel by cancelOldest lost
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

    /**
     * Whether an end takes {@code p} before the permits that joined the pile ahead of it (none by
     * default: the oldest goes first). The order of the pile is the test's: a permit joins it
     * after its grant, so two grants on two threads can join it in the other order than the
     * limiter made them; a model whose results depend on which permit an end takes says which
     * go first, so that it is the set held, not that order, that decides.
     */
    protected boolean endsFirst(Permit p) {
        return false;
    }

    /** How the validation ends a permit still held: {@link Permit#release()} unless the model says otherwise. */
    protected boolean endAtQuiescence(Permit p) {
        return p.release();
    }

    @Operation(nonParallelGroup = WAITER)
    public void acquire() {
        picking(() -> follow(limiter().acquire(ImmediateEventExecutor.INSTANCE)));
    }

    /** A timed wait whose timer never fires by itself (see {@link #executorCancelsOldestTimer}). */
    @Operation(nonParallelGroup = WAITER)
    public void acquireTimed() {
        picking(() -> follow(limiter().acquire(timers, 1, TimeUnit.HOURS)));
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
     * Ends the oldest permit held ({@linkplain #endsFirst} one that goes first if any), if any, with {@code end} (it leaves the count first: the end
     * may grant a wait at once): true if there was one; a permit that refuses its first end
     * fails the run.
     */
    protected final boolean endHeld(Predicate<Permit> end) {
        Permit p = null;
        for (Permit q : held) {
            if (endsFirst(q) && held.remove(q)) {
                p = q;
                break;
            }
        }
        if (p == null && (p = held.poll()) == null) {
            return false;
        }
        holding.decrementAndGet();
        if (!end.test(p)) {
            throw new IllegalStateException(p + " refused its first end");
        }
        return true;
    }

    /**
     * Cancels the oldest wait not cancelled by this yet (granted or not). Its outcome is not a
     * result (the validation checks it against its own wait): "the oldest wait" is the test's
     * bookkeeping, which learns of a wait only after the limiter's acquire has returned it and
     * picks one before the cancel reaches the limiter, so neither step is one with the
     * limiter's. Its effect can still show in a result (a wait cancelled or not changes who a
     * later end grants, and so a {@code tryAcquire}'s outcome): see {@link #cancelsPickAtomically}.
     */
    @Operation
    public void cancelOldest() {
        picking(() -> {
            Future<Permit> f = toCancel.poll();
            if (f != null) {
                (f.cancel(false) ? cancelWon : cancelLost).add(f);
            }
        });
    }

    /**
     * Whether an acquire with its registration, and a cancel with its pick, are each one step
     * among acquires and cancels (no by default, so that they race in the limiter). A model that
     * compares results a cancel's effect can show says yes: else one cancel can pick the oldest
     * wait, a second find none (or an acquire be done but not yet registered), an end grant the
     * picked wait and only then the first cancel reach it: no sequential order has that (model
     * checking found such histories). Cancels still race grants, ends, sweeps and tryAcquires.
     */
    protected boolean cancelsPickAtomically() {
        return false;
    }

    private void picking(Runnable step) {
        if (cancelsPickAtomically()) {
            synchronized (picking) {
                step.run();
            }
        } else {
            step.run();
        }
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
        for (Future<Permit> f : cancelWon) {
            check(f.isCancelled(), "a cancel won, but its wait ended as " + f);
        }
        for (Future<Permit> f : cancelLost) {
            check(f.isDone(), "a cancel lost, but its wait is still pending: " + f);
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
