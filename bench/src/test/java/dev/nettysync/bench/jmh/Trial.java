package dev.nettysync.bench.jmh;

/**
 * A benchmark's trial outside JMH, for the smoke tests: its set-up, then the body, then its
 * tear-down, which runs whenever the set-up succeeded, even if the body fails, so that no event
 * loop outlives a failed test.
 */
final class Trial {

    /** A step that may throw, as a benchmark's set-up and body do. */
    @FunctionalInterface
    interface Step {
        void run() throws Exception;
    }

    private Trial() {
    }

    static void run(Step setUp, Step tearDown, Step body) throws Exception {
        setUp.run();
        try {
            body.run();
        } finally {
            tearDown.run();
        }
    }
}
