package dev.nettysync.demo;

import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.limit.RateLimitedException;
import dev.nettysync.redis.RedisUnavailableException;
import io.lettuce.core.RedisCommandExecutionException;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The one failure → answer mapping. */
class HttpErrorsTest {

    private final HttpErrors errors = new HttpErrors(7, 1024, 2048, 1000);

    private String answer(Throwable cause) {
        HttpErrors.Answer a = errors.answer(cause);
        return a.status().code() + " " + a.reason() + (a.closeConnection() ? " close" : "")
                + (a.retryAfterSeconds() == HttpErrors.NO_RETRY_AFTER ? "" : " retry-after=" + a.retryAfterSeconds());
    }

    @Test
    void eachFailureHasItsAnswer() {
        assertThat(answer(new QueueFullException("x"))).isEqualTo("503 too many requests queued for the backend retry-after=7");
        assertThat(answer(new WaitTimeoutException("x"))).isEqualTo("503 waited too long for the backend retry-after=7");
        assertThat(answer(new ClosedException("x", null))).isEqualTo("503 server is shutting down retry-after=7");
        assertThat(answer(HttpStatusException.shuttingDown())).isEqualTo("503 server is shutting down retry-after=7");
        assertThat(answer(HttpStatusException.databaseNotReady())).isEqualTo("503 database not ready retry-after=7");
        assertThat(answer(new BackendTimeoutException(Duration.ofSeconds(2)))).isEqualTo("504 backend timed out");
        assertThat(answer(new IOException("refused"))).isEqualTo("502 backend failed");
        assertThat(answer(new UnexpectedFailureException("Backend.fetch threw", new IllegalStateException("bug"))))
                .isEqualTo("500 internal server error close");
        assertThat(answer(errors.bodyTooLarge())).isEqualTo("413 request body larger than 1000 bytes close");
        assertThat(answer(HttpStatusException.badRequest("missing Host header"))).isEqualTo("400 missing Host header close");
        assertThat(answer(new RedisUnavailableException("not connected", null)))
                .isEqualTo("503 fleet limit unavailable: Redis unreachable retry-after=7");
        assertThat(answer(new RedisCommandExecutionException("OOM command not allowed")))
                .isEqualTo("503 fleet limit unavailable: Redis error retry-after=7");
    }

    @Test
    void aRateRefusalIs429WithTheLimitersRetryAfterRoundedUpAndAtMostADayKeepingTheConnection() {
        assertThat(answer(new RateLimitedException("over", TimeUnit.MILLISECONDS.toNanos(1_500))))
                .isEqualTo("429 too many requests from this client retry-after=2");
        assertThat(answer(new FleetRateLimit.Refused(TimeUnit.SECONDS.toNanos(3))))
                .isEqualTo("429 too many requests across the fleet retry-after=3");
        // A limiter's estimate past a day (a very low rate) is sent as a day, not as an int that
        // wrapped (Long.MAX_VALUE ns is 9,223,372,037 s).
        assertThat(answer(new RateLimitedException("over", Long.MAX_VALUE)))
                .isEqualTo("429 too many requests from this client retry-after=86400");
        assertThat(answer(new FleetRateLimit.Refused(Long.MAX_VALUE)))
                .isEqualTo("429 too many requests across the fleet retry-after=86400");
        assertThat(answer(new RateLimitedException("over", TimeUnit.DAYS.toNanos(1))))
                .isEqualTo("429 too many requests from this client retry-after=86400");
    }

    @Test
    void decodingFailuresKeepTheirSizeLimitElse400() {
        assertThat(answer(HttpErrors.decodingFailure(new TooLongHttpLineException("x"))))
                .isEqualTo("414 request line longer than 1024 bytes close");
        assertThat(answer(HttpErrors.decodingFailure(new TooLongHttpHeaderException("x"))))
                .isEqualTo("431 headers larger than 2048 bytes close");
        assertThat(answer(HttpErrors.decodingFailure(new IllegalArgumentException("bad header"))))
                .isEqualTo("400 malformed request close");
        // The codec's own refusal of a head (a transfer coding it does not know) keeps its status.
        assertThat(answer(HttpErrors.decodingFailure(new HttpStatusException(HttpResponseStatus.NOT_IMPLEMENTED,
                "transfer coding gzip not supported", true)))).isEqualTo("501 transfer coding gzip not supported close");
    }
}
