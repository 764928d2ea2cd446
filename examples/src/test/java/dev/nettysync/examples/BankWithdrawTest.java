package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

class BankWithdrawTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp((g, t, time) -> BankWithdraw.run(g, t, time, true, true, 60, 60));

    @Test
    void withoutTheLockBothReadOneHundredAndTheBankLosesSixty() {
        var run = ExampleRuns.run(loops.group(), (g, t, time) -> BankWithdraw.run(g, t, time, false, false, 60, 60));
        assertThat(run.result()).as("final balance; timeline:%n%s", run.timeline()).isEqualTo(40);
        assertThat(run.messages()).containsExactly(
                "  Withdrew 60, balance: 40", "  Withdrew 60, balance: 40", "Final balance: 40");
        run.tookAbout(0.1);
    }

    @Test
    void withTheLockTheSecondWithdrawalWaitsAndTheBalanceIsMinusTwenty() {
        var run = ExampleRuns.run(loops.group(), (g, t, time) -> BankWithdraw.run(g, t, time, true, true, 60, 60));
        assertThat(run.result()).isEqualTo(-20);
        assertThat(run.messages()).containsExactly(
                "  Withdrew 60, balance: 40", "  Withdrew 60, balance: -20", "Final balance: -20");
        run.tookAbout(0.2);                                    // one after the other
    }

    @Test
    void manyWithdrawalsLoseMoneyWithoutTheLockAndNeverWithItAcrossLoops() {
        int[] amounts = new int[20];
        Arrays.fill(amounts, 10);                              // 200 in all, from 100: -100
        for (int round = 1; round <= 5; round++) {
            var locked = ExampleRuns.run(loops.group(), 0.05, (g, t, time) -> BankWithdraw.run(g, t, time, true, true, amounts));
            assertThat(locked.result()).as("round %d with the lock, on two loops; timeline:%n%s", round, locked.timeline())
                    .isEqualTo(-100);
            // on one loop every task reads 100 before the first timer fires: only the last write counts
            var unlocked = ExampleRuns.run(loops.group(), 0.05, (g, t, time) -> BankWithdraw.run(g, t, time, false, false, amounts));
            assertThat(unlocked.result()).as("round %d without the lock; timeline:%n%s", round, unlocked.timeline())
                    .isEqualTo(90);
        }
    }
}
