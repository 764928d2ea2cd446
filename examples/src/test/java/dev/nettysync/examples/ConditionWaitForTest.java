package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

class ConditionWaitForTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp(ConditionWaitFor::run);

    @Test
    void bothConsumersGetTheDataOnlyAfterTheProviderSetsIt() {
        var run = ExampleRuns.run(loops.group(), ConditionWaitFor::run);
        assertThat(run.messages()).as("timeline:%n%s", run.timeline()).hasSize(3);
        assertThat(run.messages().get(0)).isEqualTo("Provider: data is ready");
        assertThat(run.messages().subList(1, 3)).containsExactlyInAnyOrder("C1: got data!", "C2: got data!");
        run.tookAbout(1.0);
    }
}
