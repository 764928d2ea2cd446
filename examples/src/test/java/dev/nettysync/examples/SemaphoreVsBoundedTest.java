package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

class SemaphoreVsBoundedTest {

    @RegisterExtension
    static final ExampleLoops loops = new ExampleLoops();

    @Test
    void anExtraReleaseRaisesASemaphoreButIsRefusedByABoundedOne() {
        var run = ExampleRuns.run(loops.group(), SemaphoreVsBounded::run);
        assertThat(run.result().semaphorePermits()).isEqualTo(3);
        assertThat(run.result().boundedError()).as("timeline:%n%s", run.timeline())
                .isNotNull().contains("maximum of 2");
        assertThat(run.result().boundedPermits()).isEqualTo(2);
        assertThat(run.indexOf("IllegalStateException")).isGreaterThan(run.indexOf("Semaphore(2).release()"));
    }
}
