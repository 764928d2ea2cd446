package dev.nettysync.limit;

import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * A permit that holds nothing ({@link Permit#holdingNothing()}): ending it only marks it ended,
 * exactly once, and it is not tracked for leaks, since dropping it loses nothing. 16 bytes; a
 * subclass may add what its limiter records of the admission (a rate's admission time).
 */
class EmptyPermit implements OutcomeBlindPermit {
    private static final AtomicIntegerFieldUpdater<EmptyPermit> ENDED =
            AtomicIntegerFieldUpdater.newUpdater(EmptyPermit.class, "ended");

    private volatile int ended;                   // 0 -> 1 once, by CAS (any thread)

    @Override
    public final boolean release() {
        return ENDED.compareAndSet(this, 0, 1);
    }

    @Override
    public final boolean isReleased() {
        return ended != 0;
    }

    @Override
    public String toString() {
        return "Permit(holds nothing" + (isReleased() ? ", released)" : ")");
    }
}
