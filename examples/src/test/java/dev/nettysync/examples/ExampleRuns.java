package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs an example the way its {@code main} does, but recording its timeline, at a time scale
 * that keeps the module's tests short, and checks timelines.
 *
 * <p>Durations are checked against the tutorial's: never shorter than the sleeps add up to (the
 * scheduler cannot fire early), and not much longer. The upper bound leaves room for a loaded
 * machine (many JVMs on two cores) but stays below what a broken primitive would take (e.g. the
 * nine API calls one at a time: 9 units instead of 3).
 */
final class ExampleRuns {

    /** Real seconds per tutorial second in these tests. */
    static final double SCALE = 0.3;

    private ExampleRuns() {
    }

    /** What one run produced. */
    record Run<T>(T result, Timeline timeline, double seconds) {

        List<String> messages() {
            return timeline.messages();
        }

        /** Index of the first message containing {@code text}; fails if there is none. */
        int indexOf(String text) {
            List<String> m = messages();
            for (int i = 0; i < m.size(); i++) {
                if (m.get(i).contains(text)) {
                    return i;
                }
            }
            throw new AssertionError("no message contains \"" + text + "\" in\n" + timeline);
        }

        /** Checks the run took about {@code tutorialSeconds} at {@link #SCALE}. */
        Run<T> tookAbout(double tutorialSeconds) {
            double expected = tutorialSeconds * SCALE;
            assertThat(seconds)
                    .as("run time for %.1f tutorial s at scale %s; timeline:%n%s", tutorialSeconds, SCALE, timeline)
                    .isGreaterThanOrEqualTo(expected * 0.98)
                    .isLessThanOrEqualTo(expected * 1.5 + 1.0);
            return this;
        }
    }

    /** Runs {@code example} at {@link #SCALE}, waits for it (at most 60 s) and checks it succeeded. */
    static <T> Run<T> run(EventLoopGroup group, ExampleMain.Example<T> example) {
        return run(group, SCALE, example);
    }

    static <T> Run<T> run(EventLoopGroup group, double scale, ExampleMain.Example<T> example) {
        Timeline t = Timeline.recording();
        long start = System.nanoTime();
        Future<T> f = example.run(group, t, new TimeScale(scale));
        assertThat(f.awaitUninterruptibly(60, TimeUnit.SECONDS)).as("finished within 60 s; timeline:%n%s", t).isTrue();
        double seconds = (System.nanoTime() - start) / 1e9;
        if (!f.isSuccess()) {
            throw new AssertionError("the example failed; timeline:\n" + t, f.cause());
        }
        return new Run<>(f.getNow(), t, seconds);
    }

    /**
     * The most intervals open at once, reading the timeline in order: an interval opens at a
     * message matching {@code open} and closes at one matching {@code close}.
     */
    static int maxOpen(List<String> messages, Predicate<String> open, Predicate<String> close) {
        int now = 0;
        int max = 0;
        for (String m : messages) {
            if (open.test(m)) {
                max = Math.max(max, ++now);
            } else if (close.test(m)) {
                now--;
            }
        }
        return max;
    }
}
