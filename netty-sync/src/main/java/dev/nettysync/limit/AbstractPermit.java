package dev.nettysync.limit;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakTracker;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.LongAdder;

/**
 * The base of a limiter's {@link Permit}s: ends exactly once and is tracked for leaks (a
 * sample, at Netty's default level). A limiter subclasses it and implements
 * {@link #onEnd(Outcome)}, which runs once, on the thread of the first release call, with no
 * lock held by this class. (The permits of {@link AsyncLimiter#of(dev.nettysync.AsyncSemaphore)}
 * and its siblings are their own succeeded future, so they cannot extend it and keep the same
 * end-once flag and leak tracker themselves; a rate limiter's permits hold nothing and are not
 * tracked.)
 *
 * <p>A permit that holds other permits ({@link KeyedLimiter}'s holds its key's,
 * {@link AsyncLimiter#all}'s one per part) is reported alone when it leaks, as Netty tracks only
 * the outer leak-aware buffer of a wrapped one: once the outer permit is tracked, the permits it
 * holds are not tracked any more, so one leak is one report (and one count in
 * {@link #leaksReported()}), the outer permit's, with the place the application acquired it. A
 * held permit stays tracked while its wrapper is not sampled (at the SIMPLE and ADVANCED
 * levels), so that a leak of that wrapper can still be reported, as its held permit's; a
 * permit that a limiter hands out directly is tracked as any other.
 */
public abstract class AbstractPermit implements Permit {

    private static final AtomicIntegerFieldUpdater<AbstractPermit> ENDED =
            AtomicIntegerFieldUpdater.newUpdater(AbstractPermit.class, "ended");

    private static final LeakDetector LEAKS = new LeakDetector();

    private volatile int ended;                      // 0 -> 1 once, by CAS (any thread)
    private final ResourceLeakTracker<Permit> leak;  // null when not sampled

    protected AbstractPermit() {
        leak = trackLeak(this);
    }

    /**
     * Starts leak tracking of a new permit (a sample, at Netty's SIMPLE and ADVANCED levels):
     * for the permits of this package that cannot extend this class.
     */
    static ResourceLeakTracker<Permit> trackLeak(Permit permit) {
        return LEAKS.track(permit);
    }

    /**
     * For the end of the constructor of a permit of this package that holds others (a keyed
     * permit its key's, a composite its parts', named by {@link #untrackHeld}): if this permit is
     * tracked, those it holds, and what they hold, are no longer tracked, so that a leak of this
     * permit is reported once, as this permit (see the class comment). Nothing to do, and nothing
     * done, when this permit is not tracked (leak detection off, or not sampled).
     */
    final void takeOverLeakTracking() {
        if (leak != null) {
            untrackHeld();
        }
    }

    /** Stops the leak tracking of {@code permit} and of what it holds, if it is this package's. */
    static void untrack(Permit permit) {
        if (permit instanceof AbstractPermit p) {
            if (p.leak != null) {
                p.leak.close(p);                 // idempotent: its own end closes it again, a no-op
            }
            p.untrackHeld();
        } else if (permit instanceof PrimitiveLimiter.PrimitivePermit p) {
            p.untrack();
        }
    }

    /** For a {@code HoldingPermit}: {@link #untrack} each permit it holds. Nothing by default. */
    void untrackHeld() {
    }

    /**
     * For a subclass whose constructor fails after this one ran (tracking starts here): the
     * permit was never handed out, so nobody will end it. Marks it ended without running
     * {@link #onEnd(Outcome)} (a later release call returns {@code false}) and closes its leak
     * tracking, so that its collection is not reported as a leak. Call it on the constructor's
     * failure path, before throwing.
     */
    protected final void abandonConstruction() {
        if (ENDED.compareAndSet(this, 0, 1) && leak != null) {
            leak.close(this);
        }
    }

    /** Gives back what the permit holds; runs once, for the first release call. */
    protected abstract void onEnd(Outcome outcome);

    @Override
    public final boolean release() {
        return end(Outcome.SUCCESS);
    }

    @Override
    public final boolean releaseDropped() {
        return end(Outcome.DROPPED);
    }

    @Override
    public final boolean releaseIgnored() {
        return end(Outcome.IGNORED);
    }

    @Override
    public final boolean isReleased() {
        return ended != 0;
    }

    private boolean end(Outcome outcome) {
        return end(outcome, null);
    }

    /**
     * withPermit's end of a permit whose action failed with {@code cause} (see
     * {@link Permits#endAfter}): as the release for {@code outcome}, except that a permit that
     * holds others passes {@code cause} on to them ({@link #onEndAfter}), so that a held lock
     * permit whose hold the action gave up is not unlocked.
     */
    final void endAfter(Outcome outcome, Throwable cause) {
        end(outcome, Objects.requireNonNull(cause, "cause"));
    }

    private boolean end(Outcome outcome, Throwable cause) {
        if (!ENDED.compareAndSet(this, 0, 1)) {
            return false;
        }
        if (leak != null) {
            leak.close(this);
        }
        if (cause == null) {
            onEnd(outcome);
        } else {
            onEndAfter(outcome, cause);
        }
        return true;
    }

    /**
     * {@link #onEnd(Outcome)} for an end by {@link #endAfter}, which knows the action's failure:
     * a {@code HoldingPermit} ends the permits it holds with {@link Permits#endAfter} (and its
     * {@code onEnd} comes here too). By default, {@code onEnd(outcome)}.
     */
    void onEndAfter(Outcome outcome, Throwable cause) {
        onEnd(outcome);
    }

    /** Records an access for leak reports at the ADVANCED and PARANOID levels. */
    protected final void touch(Object hint) {
        if (leak != null) {
            leak.record(hint);
        }
    }

    /**
     * How many leaks were reported in this JVM so far (for metrics). Netty's detector reports
     * each distinct trace (the place a permit was acquired, and at the ADVANCED and PARANOID
     * levels its recorded accesses) once per JVM, so this counts places that leak rather than
     * every permit leaked, and only sampled permits (about one in 128 at the default level).
     */
    public static long leaksReported() {
        return LEAKS.reported.sum();
    }

    private static final class LeakDetector extends ResourceLeakDetector<Permit> {
        final LongAdder reported = new LongAdder();

        LeakDetector() {
            super(AbstractPermit.class);   // Netty's default sampling interval and level; reports name AbstractPermit
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            reported.increment();
            super.reportTracedLeak(resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            reported.increment();
            super.reportUntracedLeak(resourceType);
        }
    }
}
