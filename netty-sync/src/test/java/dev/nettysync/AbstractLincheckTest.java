package dev.nettysync;

import io.netty.util.internal.logging.InternalLoggerFactory;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One harness for every Lincheck test (as kotlinx.coroutines' {@code AbstractLincheckTest} and
 * JCTools do): a subclass declares its operations ({@code @Operation}) and its validation
 * ({@code @Validate}), and gets both modes, with sizes it may tune:
 * <ul>
 *   <li>model checking: every interleaving of small scenarios, with a switch point at every
 *       shared access (inside Netty's promise code too); three threads;</li>
 *   <li>stress: the same operations on real threads, which finds what model checking cannot
 *       (a missing {@code volatile}). Two threads on two cores: Lincheck's stress runner
 *       spin-waits between threads, and more threads than cores turns each spin into a lost
 *       time slice; the randomized stress tests carry the heavy real-concurrency load.</li>
 * </ul>
 * Each model-checking scenario costs seconds on a busy two-core machine, so the sizes are per
 * primitive: more where the races are richer.
 *
 * <p>Cost. Each {@code check} makes Lincheck instrument classes for that check and restore them
 * after it; in stress mode it retransforms every loaded class it may instrument in one bulk
 * call. One loaded class that cannot be retransformed (a class whose initializer failed, or
 * that failed to link) makes that call fail, and Lincheck then retransforms the classes one by
 * one: a safepoint each, walking every loaded class, about 1,000 of them per check. Netty's
 * logger detection left two such classes when SLF4J (which Lincheck brings) had no provider;
 * the module's tests therefore bind SLF4J to java.util.logging, and
 * {@link #nettyLogsThroughSlf4j()} fails fast if that ever stops being so. Numbers and the
 * rest of the story: docs/testing.md.
 */
public abstract class AbstractLincheckTest {

    /**
     * Precondition of the module's test cost, not of correctness: Netty found a working SLF4J
     * binding, so its failed probes (Slf4JLoggerFactory$NopInstanceHolder, Log4JLogger) were
     * never loaded and Lincheck's bulk retransformation succeeds. Without it every Lincheck
     * class still passes, but its stress check costs several times more CPU.
     */
    @BeforeAll
    static void nettyLogsThroughSlf4j() {
        String factory = InternalLoggerFactory.getDefaultFactory().getClass().getName();
        check(factory.equals("io.netty.util.internal.logging.Slf4JLoggerFactory"),
                "Netty logs through " + factory + ", not SLF4J: its logger probes left classes that cannot be"
                        + " retransformed, which makes every Lincheck check retransform about 1,000 classes one"
                        + " by one; keep an SLF4J binding (slf4j-jdk14) on netty-sync's test classpath"
                        + " (docs/testing.md)");
    }

    /** Model-checking scenarios (iterations). */
    protected int modelCheckingIterations() {
        return 10;
    }

    /** Interleavings explored per scenario. */
    protected int modelCheckingInvocations() {
        return 300;
    }

    /** Threads in model checking; a subclass whose operations all belong to per-thread groups uses fewer. */
    protected int modelCheckingThreads() {
        return 3;
    }

    /** Operations per thread in model checking. */
    protected int modelCheckingActorsPerThread() {
        return 3;
    }

    /**
     * Invocations of the one stress scenario: 100 by default (each costs about a fifth of a
     * second on two cores, as Lincheck's stress runner spin-waits between threads; the
     * randomized stress tests carry the heavy real-concurrency load), more for a soak with
     * {@code -Dnettysync.lincheck.stress.invocations=N}.
     */
    protected int stressInvocations() {
        return Integer.getInteger("nettysync.lincheck.stress.invocations", 100);
    }

    /** Operations per thread in stress mode. */
    protected int stressActorsPerThread() {
        return 3;
    }

    /** Adds what a subclass needs (a custom scenario) to the model-checking options. */
    protected ModelCheckingOptions customize(ModelCheckingOptions options) {
        return options;
    }

    @Test
    void modelChecking() {
        customize(new ModelCheckingOptions()
                .iterations(modelCheckingIterations())
                .invocationsPerIteration(modelCheckingInvocations())
                .threads(modelCheckingThreads())
                .actorsPerThread(modelCheckingActorsPerThread()))
                .check(getClass());
    }

    @Test
    void stress() {
        new StressOptions()
                .iterations(1)
                .invocationsPerIteration(stressInvocations())
                .threads(2)
                .actorsPerThread(stressActorsPerThread())
                .check(getClass());
    }

    /** For validations: fails with {@code message} unless {@code ok}. */
    protected static void check(boolean ok, String message) {
        if (!ok) {
            throw new AssertionError(message);
        }
    }

    /** For validations: fails if {@code primitive}'s internal invariants are broken (see {@link Invariants}). */
    protected static void checkInvariants(Object primitive) {
        String broken = Invariants.brokenInvariant(primitive);
        check(broken == null, primitive + ": " + broken);
    }
}
