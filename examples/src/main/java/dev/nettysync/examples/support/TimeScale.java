package dev.nettysync.examples.support;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * The tutorial's durations, multiplied by a factor: 1 runs the examples in real tutorial time,
 * tests use a smaller factor to run them faster. Durations are given in tutorial seconds, as in
 * {@code asyncio.sleep(1.0)}.
 *
 * @param factor real seconds per tutorial second, &gt; 0
 */
public record TimeScale(double factor) {

    /** The tutorial's own timings. */
    public static final TimeScale REAL = new TimeScale(1.0);

    /** Checks the factor. */
    public TimeScale {
        if (!(factor > 0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("time scale must be a positive number, was " + factor);
        }
    }

    /** Parses a command-line time scale ("0.1"), or {@link #REAL} if there is none. */
    public static TimeScale parse(String[] args) {
        if (args.length == 0) {
            return REAL;
        }
        try {
            return new TimeScale(Double.parseDouble(args[0]));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("the only argument is a time scale such as 0.1, was \"" + args[0] + '"', e);
        }
    }

    /** {@code tutorialSeconds} in real nanoseconds. */
    public long nanos(double tutorialSeconds) {
        return Math.round(tutorialSeconds * factor * 1e9);
    }

    /** Real nanoseconds back in tutorial seconds. */
    public double tutorialSeconds(long realNanos) {
        return realNanos / 1e9 / factor;
    }

    /**
     * {@code await asyncio.sleep(seconds)}: a future that succeeds on {@code executor} after that
     * long. Nothing blocks: the executor's scheduler completes it. Cancelling it cancels the timer.
     */
    public Future<Void> sleep(EventExecutor executor, double seconds) {
        return executor.schedule(() -> null, nanos(seconds), TimeUnit.NANOSECONDS);
    }

    /**
     * {@code await asyncio.sleep(seconds); return task()}: runs {@code task} on {@code executor}
     * after that long; the future completes with its result.
     */
    public <T> Future<T> after(EventExecutor executor, double seconds, Callable<T> task) {
        return executor.schedule(task, nanos(seconds), TimeUnit.NANOSECONDS);
    }
}
