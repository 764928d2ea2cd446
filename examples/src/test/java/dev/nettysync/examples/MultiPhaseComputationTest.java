package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class MultiPhaseComputationTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp(MultiPhaseComputation::run);

    @Test
    void phaseTwoStartsOnlyAfterEveryPhaseOneAndUsesAllTheirResults() {
        var run = ExampleRuns.run(loops.group(), MultiPhaseComputation::run);
        List<String> m = run.messages();
        int lastPhase1 = -1;
        int firstPhase2 = Integer.MAX_VALUE;
        for (int i = 0; i < m.size(); i++) {
            if (m.get(i).contains("phase 1 done")) {
                lastPhase1 = i;
            } else if (m.get(i).contains("phase 2 computing")) {
                firstPhase2 = Math.min(firstPhase2, i);
            }
        }
        assertThat(lastPhase1).as("timeline:%n%s", run.timeline()).isLessThan(run.indexOf("barrier: all phase-1 results in"));
        assertThat(run.indexOf("barrier: all phase-1 results in")).isLessThan(firstPhase2);

        long n = MultiPhaseComputation.N;
        assertThat(run.result().total()).isEqualTo(n * (n + 1) * (2 * n + 1) / 6);
        assertThat(run.result().partials()).containsExactly(sumOfSquares(1, 100), sumOfSquares(101, 200), sumOfSquares(201, 300));
        assertThat(run.result().shares().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1.0, within(1e-9));
        run.tookAbout(1.5);
    }

    private static long sumOfSquares(long from, long to) {
        long s = 0;
        for (long k = from; k <= to; k++) {
            s += k * k;
        }
        return s;
    }
}
