package dev.nettysync.testing;

import dev.nettysync.limit.AbstractPermit;

import java.time.Duration;

/**
 * Waiting, on a test thread, for Netty's leak detector to report permits dropped without being
 * ended ({@link AbstractPermit#leaksReported()}): it reports them only when the garbage collector
 * has cleared them and a new permit is tracked, so this collects and tracks until it does. The
 * test sets the level (PARANOID, so that every permit is tracked).
 */
public final class LeakReports {

    private LeakReports() {
    }

    /**
     * Waits (up to 20 s) until more than {@code before} leaks are reported, then collects and polls
     * a few more times, so that every permit that became unreachable with it (the parts of a
     * wrapper) has been reported too if it ever will be.
     */
    public static void await(long before) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (AbstractPermit.leaksReported() == before && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(10);
            trackOne();
        }
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(10);
            trackOne();
        }
    }

    /** The count of leaks reported, once what earlier tests dropped has been reported. */
    public static long settled() throws InterruptedException {
        long count;
        do {
            count = AbstractPermit.leaksReported();
            collectAndReport();
            Thread.sleep(50);
        } while (AbstractPermit.leaksReported() != count);
        return count;
    }

    /**
     * Drops a control leak, waits until it is reported, collects a few more times (whatever
     * became unreachable before it is reported by then) and returns the reports since
     * {@code before} other than the control's: so that "not reported" is seen, not assumed.
     */
    public static long besidesAControlLeak(long before) throws InterruptedException {
        leakOne();
        Poll.assertEventually("the control leak reported", Duration.ofSeconds(20), () -> {
            collectAndReport();
            return AbstractPermit.leaksReported() > before;
        });
        for (int i = 0; i < 5; i++) {
            collectAndReport();
        }
        return AbstractPermit.leaksReported() - before - 1;
    }

    /** Drops a tracked permit without an end (a creation trace of its own, so it is reported). */
    private static void leakOne() {
        new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
            }
        };
    }

    /** A collection, then a new tracked permit: Netty reports what was collected when it tracks the next one. */
    private static void collectAndReport() {
        System.gc();
        trackOne();
    }

    /** Tracks a new permit, ended at once: tracking is what polls the detector's queue. */
    private static void trackOne() {
        new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
            }
        }.release();
    }
}
