package dev.nettysync.limit;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link AbstractPermit}: ends exactly once, with the outcome of the first release call. (Leaks: {@link AbstractPermitLeakTest}.) */
class AbstractPermitTest {

    /** A permit that records its ends. */
    private static final class Recorded extends AbstractPermit {
        final List<Outcome> ends = new ArrayList<>();

        @Override
        protected void onEnd(Outcome outcome) {
            ends.add(outcome);
        }
    }

    @Test
    void theFirstReleaseCallEndsItAndEveryLaterOneReturnsFalse() {
        List<Predicate<Permit>> releases = List.of(Permit::release, Permit::releaseDropped, Permit::releaseIgnored);
        Permit.Outcome[] outcomes = {Permit.Outcome.SUCCESS, Permit.Outcome.DROPPED, Permit.Outcome.IGNORED};
        for (int first = 0; first < 3; first++) {
            Recorded p = new Recorded();
            assertThat(p.isReleased()).isFalse();
            assertThat(releases.get(first).test(p)).isTrue();
            assertThat(p.isReleased()).isTrue();
            for (Predicate<Permit> again : releases) {
                assertThat(again.test(p)).as("ended by release method %d already", first).isFalse();
            }
            assertThat(p.ends).containsExactly(outcomes[first]);
        }
    }
}
