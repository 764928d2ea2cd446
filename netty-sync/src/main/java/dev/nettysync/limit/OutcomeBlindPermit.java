package dev.nettysync.limit;

/**
 * A permit whose limiter learns nothing from how the work went (a primitive, a rate): every
 * ending is {@link #release()}. Package-private: for the permits of this package that cannot
 * extend {@link AbstractPermit}.
 */
interface OutcomeBlindPermit extends Permit {

    @Override
    default boolean releaseDropped() {
        return release();
    }

    @Override
    default boolean releaseIgnored() {
        return release();
    }
}
