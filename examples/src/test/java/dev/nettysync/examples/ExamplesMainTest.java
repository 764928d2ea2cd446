package dev.nettysync.examples;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The entry points users run: {@code Examples.main} and each example's {@code main}. */
class ExamplesMainTest {

    @Test
    void everyExampleRunsFromTheIndexAndPrintsItsTimeline() {
        PrintStream original = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            Examples.main(new String[] {"0.02"});
        } finally {
            System.setOut(original);
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(out.lines().filter(l -> l.startsWith("== "))).hasSize(12);
        assertThat(out).contains("Final balance: 40", "Final balance: -20", "All done in ", "DB: ready!",
                "timed out after 0.1s: cancelled", "Final buffer: []", "C2: got data!", "C: barrier released",
                "Total: ", "W3: phase 2 done");
        assertThat(out).containsPattern("\\[ *\\d+\\.\\d\\ds] loop-\\d +  Task 0 calling API\\.\\.\\.");
    }

    @Test
    void aBadTimeScaleIsAClearError() {
        assertThatThrownBy(() -> RateLimitedApiCalls.main(new String[] {"fast"}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("time scale").hasMessageContaining("fast");
        assertThatThrownBy(() -> RateLimitedApiCalls.main(new String[] {"-1"}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("positive");
    }
}
