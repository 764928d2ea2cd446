package dev.nettysync.testing;

import dev.nettysync.limit.AbstractPermit;
import dev.nettysync.limit.AsyncLimiter;

/**
 * Waiting, on a test thread, for Netty's leak detector to report permits dropped without being
 * ended ({@link AbstractPermit#leaksReported()}): it reports them only when the garbage collector
 * has cleared them and a new permit is tracked, so this collects and tracks until it does.
 */
public final class LeakReports {

    private LeakReports() {
    }

    /**
     * Waits (up to 20 s) until more than {@code before} leaks are reported, then collects and polls
     * a few more times, so that every permit that became unreachable with it (the parts of a
     * wrapper) has been reported too if it ever will be. {@code probe} tracks new permits:
     * tracking is what polls the detector's queue.
     */
    public static void await(long before, AsyncLimiter probe) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (AbstractPermit.leaksReported() == before && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(10);
            probe.tryAcquire().release();
        }
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(10);
            probe.tryAcquire().release();
        }
    }
}
