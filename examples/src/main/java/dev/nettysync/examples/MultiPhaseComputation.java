package dev.nettysync.examples;

import dev.nettysync.AsyncBarrier;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Practice problem 2, solved: three workers each compute a partial result in phase 1 (1 s); an
 * {@code AsyncBarrier(3)} makes all of them finish phase 1 before any starts phase 2 (0.5 s):
 * about 1.5 s in all.
 *
 * <p>To make the barrier matter, phase 2 needs every worker's phase-1 result: each worker sums
 * the squares of its third of 1..{@value #N}; the barrier action (run once, by the last arrival,
 * before anyone is released) adds the partial sums; in phase 2 each worker computes its share of
 * the total. The barrier's memory effects make the partial sums visible to the action and the
 * total visible to every worker, whichever loop it runs on.
 */
public final class MultiPhaseComputation {

    /** The numbers 1..N are summed (squared). */
    public static final int N = 300;
    private static final int WORKERS = 3;

    /**
     * The outcome.
     *
     * @param partials each worker's phase-1 sum of squares
     * @param total    their sum, computed by the barrier action
     * @param shares   each worker's share of the total, computed in phase 2
     */
    public record Outcome(List<Long> partials, long total, List<Double> shares) {
    }

    /** Written by workers before the barrier, read after it: the barrier orders them. */
    private static final class Shared {
        final long[] partials = new long[WORKERS];  // [w] written by worker w in phase 1
        final double[] shares = new double[WORKERS];// [w] written by worker w in phase 2
        long total;                                 // written by the barrier action
    }

    private MultiPhaseComputation() {
    }

    static Future<Void> worker(AsyncBarrier barrier, Shared s, int w, EventExecutor ex, Timeline t, TimeScale time) {
        String name = "W" + (w + 1);
        t.log("  " + name + ": phase 1 computing...");
        return Futures.then(time.sleep(ex, 1.0), ex, computing -> {
            long sum = 0;
            for (long k = (long) w * N / WORKERS + 1; k <= (long) (w + 1) * N / WORKERS; k++) {
                sum += k * k;
            }
            s.partials[w] = sum;
            t.log("  " + name + ": phase 1 done (partial sum " + sum + "), waiting for others");
            return Futures.then(barrier.await(ex), ex, released -> {
                t.log("  " + name + ": phase 2 computing...");
                return time.after(ex, 0.5, () -> {
                    s.shares[w] = (double) s.partials[w] / s.total;
                    t.log(String.format(Locale.ROOT, "  %s: phase 2 done (share %.3f of %d)", name, s.shares[w], s.total));
                    return null;
                });
            });
        });
    }

    /** Three workers, each a task on the next loop of the group. */
    public static Future<Outcome> run(EventLoopGroup group, Timeline t, TimeScale time) {
        Shared s = new Shared();
        AsyncBarrier barrier = new AsyncBarrier(WORKERS, () -> {
            long total = 0;
            for (long p : s.partials) {
                total += p;
            }
            s.total = total;
            t.log("  barrier: all phase-1 results in, total " + total);
        });
        List<Future<Void>> workers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            int n = w;
            EventExecutor ex = group.next();
            workers.add(Futures.task(ex, () -> worker(barrier, s, n, ex, t, time)));
        }
        EventExecutor main = group.next();
        // gather's completion happens after every worker's writes: safe to read them here
        return Futures.map(Futures.gather(main, workers), main, done -> {
            List<Long> partials = new ArrayList<>();
            List<Double> shares = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                partials.add(s.partials[w]);
                shares.add(s.shares[w]);
            }
            return new Outcome(partials, s.total, shares);
        });
    }

    /** The only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("practice 2: a multi-phase computation with an AsyncBarrier", args, MultiPhaseComputation::run);
    }
}
