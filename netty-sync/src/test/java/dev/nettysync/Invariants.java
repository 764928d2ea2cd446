package dev.nettysync;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

/**
 * Checks, after each scenario test, the internal invariants ({@code brokenInvariant()}) of every
 * primitive the test registered, Caffeine-style:
 * <pre>{@code
 * @RegisterExtension final Invariants invariants = new Invariants();
 * ...
 * AsyncEvent event = invariants.check(new AsyncEvent());
 * }</pre>
 * The same checks run inside the Lincheck and stress tests.
 */
final class Invariants implements AfterEachCallback {
    private final List<Object> primitives = new ArrayList<>();   // the test thread only

    /** Registers {@code primitive} for the check after the test; returns it. */
    <T> T check(T primitive) {
        primitives.add(primitive);
        return primitive;
    }

    /** The first broken invariant of {@code primitive}, or {@code null}. */
    static String brokenInvariant(Object primitive) {
        if (primitive instanceof AsyncSemaphore s) {
            return s.brokenInvariant();
        } else if (primitive instanceof AsyncLock l) {
            return l.brokenInvariant();
        } else if (primitive instanceof AsyncEvent e) {
            return e.brokenInvariant();
        } else if (primitive instanceof AsyncCondition c) {
            return c.brokenInvariant();
        } else if (primitive instanceof AsyncBarrier b) {
            return b.brokenInvariant();
        }
        throw new IllegalArgumentException("no invariants known for " + primitive);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        try {
            for (Object p : primitives) {
                String broken = brokenInvariant(p);
                if (broken != null) {
                    throw new AssertionError(p + ": " + broken);
                }
            }
        } finally {
            primitives.clear();
        }
    }
}
