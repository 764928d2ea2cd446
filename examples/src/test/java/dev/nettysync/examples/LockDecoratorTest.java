package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

class LockDecoratorTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp(LockDecorator::run);

    @Test
    void callsTakeTurnsInCallOrderAndTakeAboutThreeSeconds() {
        var run = ExampleRuns.run(loops.group(), LockDecorator::run);
        assertThat(run.messages()).containsExactly(
                "  A entered critical section", "  A leaving critical section",
                "  B entered critical section", "  B leaving critical section",
                "  C entered critical section", "  C leaving critical section");
        run.tookAbout(3.0);
    }
}
