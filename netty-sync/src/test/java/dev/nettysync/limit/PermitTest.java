package dev.nettysync.limit;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link Permit}'s own code: {@link Permit#holdingNothing()} and the default {@code close()}. */
class PermitTest {

    @Test
    void aPermitHoldingNothingEndsOnceWhicheverEndingComesFirst() {
        for (int first = 0; first < 4; first++) {
            Permit p = Permit.holdingNothing();
            assertThat(p.isReleased()).isFalse();
            assertThat(p).hasToString("Permit(holds nothing)");
            if (first == 3) {
                p.close();
            } else {
                assertThat(end(p, first)).as("the first end, ending %d", first).isTrue();
            }
            assertThat(p.isReleased()).isTrue();
            for (int later = 0; later < 3; later++) {
                assertThat(end(p, later)).as("a later end, ending %d after %d", later, first).isFalse();
            }
            assertThat(p).hasToString("Permit(holds nothing, released)");
        }
        assertThat(Permit.holdingNothing()).as("a new permit each time").isNotSameAs(Permit.holdingNothing());
    }

    @Test
    void concurrentEndsOfAPermitHoldingNothingHaveOneWinner() throws Exception {
        int rounds = 2_000;
        AtomicInteger wins = new AtomicInteger();
        Permit[] permits = new Permit[rounds];
        for (int i = 0; i < rounds; i++) {
            permits[i] = Permit.holdingNothing();
        }
        CyclicBarrier start = new CyclicBarrier(2);
        Runnable ender = () -> {
            for (int i = 0; i < rounds; i++) {
                try {
                    start.await();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                if (end(permits[i], i % 3)) {
                    wins.incrementAndGet();
                }
            }
        };
        Thread other = new Thread(ender, "ender");
        other.start();
        ender.run();
        other.join();
        assertThat(wins).as("one winner per permit").hasValue(rounds);
    }

    private static boolean end(Permit p, int ending) {
        return switch (ending) {
            case 0 -> p.release();
            case 1 -> p.releaseDropped();
            default -> p.releaseIgnored();
        };
    }
}
