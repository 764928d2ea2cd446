package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleMain;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class RateLimitedApiCallsTest {

    private static EventLoopGroup group;

    @BeforeAll
    static void start() {
        group = ExampleMain.newGroup(2);
        ExampleRuns.warmUp(group, RateLimitedApiCalls::run);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void neverMoreThanThreeCallsAtOnceAndAllNineInAboutThreeSeconds() {
        var run = ExampleRuns.run(group, RateLimitedApiCalls::run);
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
