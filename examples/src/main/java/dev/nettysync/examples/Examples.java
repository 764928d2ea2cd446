package dev.nettysync.examples;

/**
 * Runs every example of the tutorial in order, printing each one's timeline. The only argument
 * is an optional time scale: {@code 0.2} runs five times faster than the tutorial's timings.
 * Each example also has a {@code main} of its own.
 */
public final class Examples {

    private Examples() {
    }

    /** Runs them all (about 25 s at the tutorial's timings). */
    public static void main(String[] args) {
        BankWithdraw.main(args);
        LockDecorator.main(args);
        RateLimitedApiCalls.main(args);
        SemaphoreVsBounded.main(args);
        StartupCoordination.main(args);
        TrafficLight.main(args);
        ProducerConsumer.main(args);
        ConditionWaitFor.main(args);
        BarrierRendezvous.main(args);
        RateLimitedDownloader.main(args);
        MultiPhaseComputation.main(args);
    }
}
