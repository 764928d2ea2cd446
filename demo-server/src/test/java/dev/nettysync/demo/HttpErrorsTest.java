package dev.nettysync.demo;

import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.redis.RedisUnavailableException;
import io.lettuce.core.RedisCommandExecutionException;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;

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
    void decodingFailuresKeepTheirSizeLimitElse400() {
        assertThat(answer(HttpErrors.decodingFailure(new TooLongHttpLineException("x"))))
                .isEqualTo("414 request line longer than 1024 bytes close");
        assertThat(answer(HttpErrors.decodingFailure(new TooLongHttpHeaderException("x"))))
                .isEqualTo("431 headers larger than 2048 bytes close");
        assertThat(answer(HttpErrors.decodingFailure(new IllegalArgumentException("bad header"))))
                .isEqualTo("400 malformed request close");
    }
}
