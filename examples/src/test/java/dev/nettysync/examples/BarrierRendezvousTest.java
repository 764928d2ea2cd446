package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

class BarrierRendezvousTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp(BarrierRendezvous::run);

    @Test
    void nobodyProceedsUntilAllThreeHaveArrived() {
        var run = ExampleRuns.run(loops.group(), BarrierRendezvous::run);
        int lastArrival = Math.max(run.indexOf("A: waiting at barrier"),
                Math.max(run.indexOf("B: waiting at barrier"), run.indexOf("C: waiting at barrier")));
        for (String name : new String[] {"A", "B", "C"}) {
            assertThat(run.indexOf(name + ": barrier released")).as("timeline:%n%s", run.timeline()).isGreaterThan(lastArrival);
        }
        assertThat(run.result()).containsExactlyInAnyOrder(0, 1, 2);
        run.tookAbout(0.5);
    }
}
