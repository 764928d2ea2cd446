package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ProducerConsumerTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp((g, t, time) -> ProducerConsumer.run(g, t, time, 5, 0.1, 0.2));

    @Test
    void theTutorialsRunConsumesEveryItemInOrderAndEmptiesTheBuffer() {
        var run = ExampleRuns.run(loops.group(), (g, t, time) -> ProducerConsumer.run(g, t, time, 5, 0.1, 0.2));
        assertThat(run.result().consumed()).as("timeline:%n%s", run.timeline()).containsExactly(0, 1, 2, 3, 4);
        assertThat(run.result().finalBuffer()).isEmpty();
        assertThat(run.result().maxBuffered()).isBetween(1, ProducerConsumer.MAX_BUFFER);
        assertThat(run.messages().get(run.messages().size() - 1)).isEqualTo("Final buffer: []");
        // the consumer is the slower one: 5 items, 0.2 s apart (the last sleep included)
        run.tookAbout(1.0);
    }

    @Test
    void aFastProducerWaitsForRoomAndTheBufferNeverHoldsMoreThanThree() {
        var run = ExampleRuns.run(loops.group(), (g, t, time) -> ProducerConsumer.run(g, t, time, 8, 0.0, 0.2));
        List<String> m = run.messages();
        assertThat(m).as("timeline:%n%s", run.timeline()).contains("  [P1] buffer full, waiting...");
        assertThat(run.result().maxBuffered()).isEqualTo(ProducerConsumer.MAX_BUFFER);
        assertThat(run.result().consumed()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
        assertThat(run.result().finalBuffer()).isEmpty();
        // every "produced" line shows the buffer after the append: never more than three items
        m.stream().filter(s -> s.contains("produced")).forEach(s ->
                assertThat(s.substring(s.indexOf('[', 5)).split(",")).hasSizeLessThanOrEqualTo(3));
    }
}
