package dev.nettysync.limit;

/**
 * A permit of this package that holds others: {@link KeyedLimiter}'s holds its key's,
 * {@link AsyncLimiter#all}'s one per part. Every end of it goes through
 * {@link #onEndAfter(Outcome, Throwable)}: with the action's failure when {@code withPermit}
 * knows it ({@link Permits#endAfter}), {@code null} for a plain release. So the held permits are
 * ended knowing that failure too, and a held lock permit whose hold the action gave up is not
 * unlocked. {@link #untrackHeld()} names the held permits for leak tracking; a subclass calls
 * {@link #takeOverLeakTracking()} at the end of its constructor, once the fields that
 * {@code untrackHeld} reads are set.
 */
abstract class HoldingPermit extends AbstractPermit {

    @Override
    protected final void onEnd(Outcome outcome) {
        onEndAfter(outcome, null);
    }

    /**
     * Ends the held permits, each after the action's failure {@code cause} ({@code null}: none),
     * with {@link Permits#endAfter}; runs once, as {@link #onEnd(Outcome)} does.
     */
    @Override
    abstract void onEndAfter(Outcome outcome, Throwable cause);

    @Override
    abstract void untrackHeld();
}
