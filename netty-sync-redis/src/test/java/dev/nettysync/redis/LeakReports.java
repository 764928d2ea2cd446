package dev.nettysync.redis;

import dev.nettysync.limit.AbstractPermit;
import dev.nettysync.testing.Poll;

import java.time.Duration;

/**
 * Counting Netty's leak reports of permits (at PARANOID, set by the test): what a test dropped is
 * compared with a control leak made after it, so that "not reported" is seen, not assumed.
 */
final class LeakReports {

    private LeakReports() {
    }

    /** The count of leaks reported, once what earlier tests dropped has been reported. */
    static long settled() throws InterruptedException {
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
     * {@code before} other than the control's.
     */
    static long besidesAControlLeak(long before) throws InterruptedException {
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
        new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
            }
        }.release();
    }
}
