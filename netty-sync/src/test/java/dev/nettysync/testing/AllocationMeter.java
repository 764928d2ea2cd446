package dev.nettysync.testing;

import com.sun.management.HotSpotDiagnosticMXBean;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Locale;

/**
 * Bytes allocated per operation by the calling thread, for tests that guard the hot paths'
 * allocation (allocation, unlike time, is deterministic, so it can be asserted).
 *
 * <p>It reads the JVM's per-thread allocation counter
 * ({@link com.sun.management.ThreadMXBean#getCurrentThreadAllocatedBytes()}, the current-thread
 * form of {@code getThreadAllocatedBytes}), which counts exactly the bytes of the objects the
 * thread allocated (HotSpot adds the used part of the thread's TLAB, so a TLAB refill is neither
 * missed nor counted twice). Other threads, the GC and the machine's load do not move it: only
 * code that runs on the measuring thread does, so a measurement does not depend on timing.
 *
 * <p>What can still add bytes to a round is code that is not yet in its final compiled form
 * (the interpreter and C1 allocate objects that C2's escape analysis removes, and a
 * deoptimization sends code back there), one-time work (class initialization, a thread-local
 * map created on first use, a cache miss) and amortized growth (an array that doubles now and
 * then). All of these only ever <em>add</em> bytes, so the minimum over rounds
 * is the steady state: {@link #measure} warms the operation up ({@value #WARM_UP_ROUNDS} rounds,
 * several times C2's compile thresholds), measures {@value #ROUNDS} rounds and keeps the
 * smallest, and only if that is still above the bound measures up to
 * {@value #EXTRA_ROUNDS} more (a compile that a loaded machine delayed lands meanwhile; a
 * real regression stays above the bound in every round). The library's guarded paths do not
 * even need C2: run interpreted ({@code -Xint}) they allocate exactly the same, so the warm-up
 * only shortens the transients (a round in which code is being compiled or deoptimized, seen at
 * up to 7 B/op above the steady state). A round is thousands of operations, so
 * a constant cost per round (the measurement's own, a growth step) is a fraction of a byte per
 * operation; the meter's own cost, measured on an empty round, is subtracted.
 *
 * <p>If the JVM cannot count a thread's allocation, {@link #measure} fails (it never skips):
 * every OpenJDK HotSpot JVM can. It fails too on a JVM whose objects are not laid out as the
 * bounds assume (compressed oops and class pointers, 8-byte alignment: HotSpot's defaults below
 * a 32 GB heap), naming the option.
 */
public final class AllocationMeter {

    /** Rounds run before measuring, so that the operation runs C2-compiled code. */
    public static final int WARM_UP_ROUNDS = 20;
    /** Rounds measured; the smallest is kept. */
    public static final int ROUNDS = 5;
    /** Rounds measured at most in addition when the smallest so far is above the bound. */
    public static final int EXTRA_ROUNDS = 50;
    /**
     * What a bound tolerates above it, in B/op. The least round of every guarded path is exact
     * (0.00, 48.00, 49.78: the same figures under {@code -Xint}), so the slack is not there for
     * noise; it keeps a bound meaning "per operation": an object allocated on every operation is
     * 8 B at least (objects are 8-byte aligned), far above it, while a few bytes per round (the
     * meter on another JVM build, an amortized growth step) stay below it.
     */
    public static final double SLACK = 0.5;

    private AllocationMeter() {
    }

    /** The work of one round: {@code ops} operations, run by the measuring thread. */
    @FunctionalInterface
    public interface Round {
        /** Prepares a round, unmeasured (a fresh primitive, a queue filled to its depth). */
        default void setUp() {
        }

        /** The measured part: {@code ops} operations. */
        void run(int ops);

        /** Cleans up after a round, unmeasured. */
        default void tearDown() {
        }
    }

    /**
     * The result of {@link #measure}: the smallest bytes per operation over the rounds, each
     * round's value, and a description for failure messages.
     */
    public record Result(String what, int opsPerRound, double bytesPerOp, double[] rounds, long meterBytes) {

        /** {@code "what: 48.00 B/op (the least of 5 rounds of 10,000 operations: 48.00 48.00 ...)"} */
        @Override
        public String toString() {
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
                    "%s: %.2f B/op (the least of %d rounds of %,d operations:", what, bytesPerOp, rounds.length, opsPerRound));
            for (int i = 0; i < rounds.length; i++) {
                if (rounds.length > 10 && i == 5) {
                    b.append(" ...");
                    i = rounds.length - 5;
                }
                b.append(String.format(Locale.ROOT, " %.2f", rounds[i]));
            }
            return b.append(")").toString();
        }
    }

    /**
     * Measures the bytes the calling thread allocates per operation of {@code round}: warm-up,
     * then the least of {@value #ROUNDS} rounds of {@code opsPerRound} operations, and more
     * rounds (up to {@value #EXTRA_ROUNDS}) while the least is above {@code bound}.
     */
    public static Result measure(String what, int opsPerRound, double bound, Round round) {
        com.sun.management.ThreadMXBean threads = threads();
        requireDefaultObjectLayout();
        long meter = meterBytes(threads);
        for (int i = 0; i < WARM_UP_ROUNDS; i++) {
            once(threads, round, opsPerRound, meter);
        }
        double[] rounds = new double[ROUNDS + EXTRA_ROUNDS];
        int n = 0;
        double least = Double.MAX_VALUE;
        while (n < ROUNDS || (least > bound && n < rounds.length)) {
            double r = once(threads, round, opsPerRound, meter);
            rounds[n++] = r;
            least = Math.min(least, r);
        }
        return new Result(what, opsPerRound, least, Arrays.copyOf(rounds, n), meter);
    }

    /**
     * Measures as {@link #measure} does and fails, with the figure, the bound and {@code why} in
     * the message, if the operation allocates more than {@code bound} bytes per operation
     * (plus {@value #SLACK} B/op: see there).
     */
    public static Result assertAtMost(String what, double bound, String why, int opsPerRound, Round round) {
        Result r = measure(what, opsPerRound, bound, round);
        System.out.println("[allocation] " + r);
        if (r.bytesPerOp() > bound + SLACK) {
            throw new AssertionError(String.format(Locale.ROOT, "allocation regression? %s; expected at most %s B/op: %s",
                    r, bound == Math.rint(bound) ? String.valueOf((long) bound) : String.valueOf(bound), why));
        }
        return r;
    }

    /** Bytes the calling thread has allocated so far. */
    public static long allocatedBytes() {
        return threads().getCurrentThreadAllocatedBytes();
    }

    private static double once(com.sun.management.ThreadMXBean threads, Round round, int ops, long meter) {
        round.setUp();
        long before = threads.getCurrentThreadAllocatedBytes();
        round.run(ops);
        long after = threads.getCurrentThreadAllocatedBytes();
        round.tearDown();
        return (double) Math.max(0, after - before - meter) / ops;
    }

    /** What two readings of the counter around an empty round allocate (0 on OpenJDK 17). */
    private static long meterBytes(com.sun.management.ThreadMXBean threads) {
        Round empty = ops -> { };
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 1_000; i++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            empty.run(1);
            long after = threads.getCurrentThreadAllocatedBytes();
            least = Math.min(least, after - before);
        }
        return least;
    }

    /**
     * Fails unless objects have the layout the bounds were measured with: compressed oops and
     * class pointers and 8-byte alignment, HotSpot's defaults below a 32 GB heap. Without them
     * every object is larger and every bound would fail for a reason that is not a regression.
     */
    private static void requireDefaultObjectLayout() {
        HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        String oops = vm.getVMOption("UseCompressedOops").getValue();
        String classPointers = vm.getVMOption("UseCompressedClassPointers").getValue();
        String alignment = vm.getVMOption("ObjectAlignmentInBytes").getValue();
        if (!"true".equals(oops) || !"true".equals(classPointers) || !"8".equals(alignment)) {
            throw new AssertionError("the allocation bounds are object sizes with compressed oops and class pointers"
                    + " and 8-byte alignment (HotSpot's defaults below a 32 GB heap); this JVM runs with"
                    + " UseCompressedOops=" + oops + ", UseCompressedClassPointers=" + classPointers
                    + ", ObjectAlignmentInBytes=" + alignment + ": run the tests with a heap below 32 GB (-Xmx)");
        }
    }

    private static com.sun.management.ThreadMXBean threads() {
        java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        if (!(bean instanceof com.sun.management.ThreadMXBean threads)) {
            throw new AssertionError("this JVM (" + System.getProperty("java.vm.name") + " "
                    + System.getProperty("java.vm.version") + ") has no com.sun.management.ThreadMXBean:"
                    + " the allocation guard needs a HotSpot JVM (OpenJDK) to count a thread's allocated bytes");
        }
        if (!threads.isThreadAllocatedMemorySupported()) {
            throw new AssertionError("this JVM (" + System.getProperty("java.vm.name") + " "
                    + System.getProperty("java.vm.version") + ") cannot count a thread's allocated bytes"
                    + " (ThreadMXBean.isThreadAllocatedMemorySupported() is false): the allocation guard needs it");
        }
        if (!threads.isThreadAllocatedMemoryEnabled()) {
            threads.setThreadAllocatedMemoryEnabled(true);
        }
        return threads;
    }
}
