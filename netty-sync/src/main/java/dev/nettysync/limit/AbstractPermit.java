package dev.nettysync.limit;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakTracker;

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
        if (!ENDED.compareAndSet(this, 0, 1)) {
            return false;
        }
        if (leak != null) {
            leak.close(this);
        }
        onEnd(outcome);
        return true;
    }

    /** Records an access for leak reports at the ADVANCED and PARANOID levels. */
    protected final void touch(Object hint) {
        if (leak != null) {
            leak.record(hint);
        }
    }

    /** How many permits were reported leaked in this JVM so far (for metrics). */
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
