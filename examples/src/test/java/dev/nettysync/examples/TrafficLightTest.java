package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TrafficLightTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp(TrafficLight::run);

    @Test
    void theCarDrivesOnlyOnGreenStopsOnRedAndTheTimeoutCutsTheLightOff() {
        var run = ExampleRuns.run(loops.group(), TrafficLight::run);
        List<String> m = run.messages();
        String timeline = run.timeline().toString();

        // the light: three GREENs and two REDs, then the 5 s timeout, due before the third RED
        assertThat(m.stream().filter(s -> s.equals("  GREEN") || s.equals("  RED")))
                .as(timeline).containsExactly("  GREEN", "  RED", "  GREEN", "  RED", "  GREEN");
        assertThat(m.get(m.size() - 1)).isEqualTo(String.format(java.util.Locale.ROOT, "timed out after %.1fs: cancelled", 5.0 * ExampleRuns.SCALE));
        assertThat(run.result().timedOut()).isTrue();

        // the car: drives while green, stops at the first red it sees, and never drives again
        String light = null;
        boolean stopped = false;
        int drives = 0;
        for (String s : m) {
            if (s.equals("  GREEN") || s.equals("  RED")) {
                light = s.strip();
            } else if (s.endsWith("driving!")) {
                assertThat(light).as("light when the car drives; " + timeline).isEqualTo("GREEN");
                assertThat(stopped).as("driving after stopping; " + timeline).isFalse();
                drives++;
            } else if (s.endsWith("stopping")) {
                assertThat(light).as("light when the car stops; " + timeline).isEqualTo("RED");
                stopped = true;
            }
        }
        assertThat(drives).isBetween(1, 2);
        assertThat(stopped).as(timeline).isTrue();
        run.tookAbout(5.0);
    }
}
