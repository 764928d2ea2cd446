package dev.nettysync.limit;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link RateLimitedException}: when to retry, in nanoseconds and as HTTP's whole seconds. */
class RateLimitedExceptionTest {

    @Test
    void itSaysWhenToRetryAtLeastOneNanosecondFromNow() {
        RateLimitedException e = new RateLimitedException("refused", 1);
        assertThat(e.retryAfterNanos()).isEqualTo(1);
        assertThat(e.retryAfter()).isEqualTo(Duration.ofNanos(1));
        assertThat(e.retryAfterSeconds()).isEqualTo(1);
        assertThat(e.getStackTrace()).as("a refusal, not a bug: no stack trace").isEmpty();
        assertThat(e.fillInStackTrace()).isSameAs(e);
        assertThatThrownBy(() -> new RateLimitedException("refused", 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was 0");
    }

    @Test
    void retryAfterSecondsRoundUpSoThatAClientWaitingThatLongIsNotRefused() {
        assertThat(RateLimitedException.ceilSeconds(999_999_999L)).isEqualTo(1);
        assertThat(RateLimitedException.ceilSeconds(1_000_000_000L)).isEqualTo(1);
        assertThat(RateLimitedException.ceilSeconds(1_000_000_001L)).isEqualTo(2);
        assertThat(RateLimitedException.ceilSeconds(2_000_000_000L)).isEqualTo(2);
        assertThat(RateLimitedException.ceilSeconds(2_500_000_000L)).isEqualTo(3);
        assertThat(new RateLimitedException("refused", 2_500_000_000L).retryAfterSeconds()).isEqualTo(3);
    }
}
