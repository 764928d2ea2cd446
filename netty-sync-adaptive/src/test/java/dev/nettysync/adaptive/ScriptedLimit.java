package dev.nettysync.adaptive;

import com.netflix.concurrency.limits.limit.AbstractLimit;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;

/**
 * A Netflix limit whose next value the test decides: every sample is recorded and the limit
 * becomes {@code next.applyAsInt(current)}; {@link #set} moves it by itself, outside a sample.
 * Built on {@link AbstractLimit}, so change listeners run under its monitor, as with the real
 * algorithms.
 */
final class ScriptedLimit extends AbstractLimit {

    record Sample(long startTime, long rtt, int inflight, boolean didDrop) {
    }

    private final List<Sample> samples = new ArrayList<>();   // guarded by this (onSample is synchronized)
    private IntUnaryOperator next = IntUnaryOperator.identity(); // guarded by this

    ScriptedLimit(int initialLimit) {
        super(initialLimit);
    }

    /** The value the limit takes on each following sample, as a function of the current one. */
    synchronized ScriptedLimit onEachSample(IntUnaryOperator next) {
        this.next = next;
        return this;
    }

    /** The limit moves now, as an algorithm with its own timer would do. */
    void set(int limit) {
        setLimit(limit);
    }

    @Override
    protected int _update(long startTime, long rtt, int inflight, boolean didDrop) {
        samples.add(new Sample(startTime, rtt, inflight, didDrop));
        return next.applyAsInt(getLimit());
    }

    synchronized List<Sample> samples() {
        return List.copyOf(samples);
    }
}
