package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class RateLimitedApiCallsTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp(RateLimitedApiCalls::run);

    @Test
    void neverMoreThanThreeCallsAtOnceAndAllNineInAboutThreeSeconds() {
        var run = ExampleRuns.run(loops.group(), RateLimitedApiCalls::run);
        List<String> m = run.messages();
        // "done" is logged before the permit is released, "calling" after it is acquired, and
        // the semaphore orders a release before the acquire it serves: the timeline's order is
        // an upper bound of the real overlap
        int max = ExampleRuns.maxOpen(m, s -> s.endsWith("calling API..."), s -> s.endsWith(" done"));
        assertThat(max).as("calls at once; timeline:%n%s", run.timeline()).isEqualTo(3);
        assertThat(m.stream().filter(s -> s.endsWith("calling API..."))).hasSize(9);
        assertThat(run.result()).containsExactlyElementsOf(IntStream.range(0, 9).mapToObj(i -> "result-" + i).toList());
        assertThat(m.get(m.size() - 1)).startsWith("All done in ");
        run.tookAbout(3.0);
    }
}
