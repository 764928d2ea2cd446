package dev.nettysync.examples.support;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class TimelineTest {

    @Test
    void printsEveryLineInOrderByTheTimeCloseReturns() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Timeline t = Timeline.printingTo(new PrintStream(bytes, true, StandardCharsets.UTF_8))) {
            for (int i = 0; i < 1000; i++) {
                t.log("line " + i);
            }
        }
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertThat(lines).hasSize(1000);
        for (int i = 0; i < 1000; i++) {
            assertThat(lines[i]).matches("\\[ *\\d+\\.\\d\\ds] main +line " + i);
        }
    }

    @Test
    void aRecordingTimelineKeepsTheMessagesInOrder() {
        Timeline t = Timeline.recording();
        t.log("a");
        t.log("b");
        assertThat(t.messages()).containsExactly("a", "b");
        assertThat(t.entries().get(1).nanos()).isGreaterThanOrEqualTo(t.entries().get(0).nanos());
    }

    @Test
    void aTimeScaleMustBePositive() {
        assertThat(TimeScale.parse(new String[0])).isEqualTo(TimeScale.REAL);
        assertThat(TimeScale.parse(new String[] {"0.5"}).nanos(2.0)).isEqualTo(1_000_000_000L);
        for (String bad : new String[] {"0", "-1", "NaN", "Infinity", "x"}) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> TimeScale.parse(new String[] {bad}))
                    .as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
