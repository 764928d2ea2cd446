package dev.nettysync.demo;

import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.limit.RateLimitedException;
import dev.nettysync.redis.RedisUnavailableException;
import io.lettuce.core.RedisException;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;

/**
 * The one mapping from a failure to its HTTP answer: status, plain-text reason, whether the
 * connection closes after it, and the {@code Retry-After} to send. Every refusal and failure the
 * {@link GatewayHandler} answers passes through {@link #answer(Throwable)}:
 *
 * <table>
 *   <caption>failure → answer</caption>
 *   <tr><td>{@link HttpStatusException}</td><td>its own status and reason (400, 413, 417, 501, 505, 503)</td></tr>
 *   <tr><td>{@link TooLongHttpLineException} / {@link TooLongHttpHeaderException}</td><td>414 / 431, close</td></tr>
 *   <tr><td>{@link FleetRateLimit.Refused}</td><td>429 "too many requests across the fleet", {@code Retry-After} from the limiter</td></tr>
 *   <tr><td>{@link RateLimitedException}</td><td>429 "too many requests from this client", {@code Retry-After} from the limiter</td></tr>
 *   <tr><td>{@link QueueFullException}</td><td>503 "too many requests queued for the backend"</td></tr>
 *   <tr><td>{@link WaitTimeoutException}</td><td>503 "waited too long for the backend"</td></tr>
 *   <tr><td>{@link ClosedException}</td><td>503 "server is shutting down"</td></tr>
 *   <tr><td>{@link RedisUnavailableException} (a fleet limit, Redis unreachable)</td><td>503 "fleet limit unavailable: Redis unreachable"</td></tr>
 *   <tr><td>another {@link RedisException} (a fleet limit, Redis answered an error)</td><td>503 "fleet limit unavailable: Redis error"</td></tr>
 *   <tr><td>{@link BackendTimeoutException}</td><td>504 "backend timed out"</td></tr>
 *   <tr><td>{@link UnexpectedFailureException} (a bug, a backend breaking its contract)</td><td>500 "internal server error", close</td></tr>
 *   <tr><td>anything else (a backend failure)</td><td>502 "backend failed"</td></tr>
 * </table>
 * Every 503 carries {@code Retry-After: --retry-after}. A policy that knows when it could admit
 * (a rate limit answering 429) adds its case here, with its own {@code Retry-After}.
 *
 * <p>Immutable and thread-safe.
 */
final class HttpErrors {

    /** {@link Answer#retryAfterSeconds()} when no {@code Retry-After} is sent. */
    static final int NO_RETRY_AFTER = -1;

    /** What to answer: status, reason (the body), close after it, {@code Retry-After} or {@link #NO_RETRY_AFTER}. */
    record Answer(HttpResponseStatus status, String reason, boolean closeConnection, int retryAfterSeconds) {
    }

    private final int retryAfterSeconds;
    private final int maxInitialLine;
    private final int maxHeaderSize;
    private final int maxBody;

    HttpErrors(int retryAfterSeconds, int maxInitialLine, int maxHeaderSize, int maxBody) {
        this.retryAfterSeconds = retryAfterSeconds;
        this.maxInitialLine = maxInitialLine;
        this.maxHeaderSize = maxHeaderSize;
        this.maxBody = maxBody;
    }

    static HttpErrors of(DemoConfig config) {
        return new HttpErrors(config.retryAfterSeconds, config.maxInitialLine, config.maxHeaderSize, config.maxBody);
    }

    /** The failure of a request whose body exceeded the limit: 413, close. */
    HttpStatusException bodyTooLarge() {
        return new HttpStatusException(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                "request body larger than " + maxBody + " bytes", true);
    }

    /** The answer to {@code cause}; see the class table. */
    Answer answer(Throwable cause) {
        if (cause instanceof HttpStatusException e) {
            return answer(e.status(), e.getMessage(), e.closeConnection());
        }
        if (cause instanceof TooLongHttpLineException) {
            return answer(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line longer than " + maxInitialLine + " bytes", true);
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return answer(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers larger than " + maxHeaderSize + " bytes", true);
        }
        if (cause instanceof FleetRateLimit.Refused e) {
            return new Answer(HttpResponseStatus.TOO_MANY_REQUESTS, "too many requests across the fleet", false,
                    (int) Math.min(86_400, e.retryAfterSeconds()));
        }
        if (cause instanceof RateLimitedException e) {
            return new Answer(HttpResponseStatus.TOO_MANY_REQUESTS, "too many requests from this client", false,
                    (int) Math.min(86_400, e.retryAfterSeconds()));
        }
        if (cause instanceof QueueFullException) {
            return answer(HttpResponseStatus.SERVICE_UNAVAILABLE, "too many requests queued for the backend", false);
        }
        if (cause instanceof WaitTimeoutException) {
            return answer(HttpResponseStatus.SERVICE_UNAVAILABLE, "waited too long for the backend", false);
        }
        if (cause instanceof ClosedException) {
            return answer(HttpResponseStatus.SERVICE_UNAVAILABLE, "server is shutting down", false);
        }
        if (cause instanceof RedisUnavailableException) {       // only the fleet limits talk to Redis
            return answer(HttpResponseStatus.SERVICE_UNAVAILABLE, "fleet limit unavailable: Redis unreachable", false);
        }
        if (cause instanceof RedisException) {
            return answer(HttpResponseStatus.SERVICE_UNAVAILABLE, "fleet limit unavailable: Redis error", false);
        }
        if (cause instanceof UnexpectedFailureException) {
            return answer(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal server error", true);
        }
        if (cause instanceof BackendTimeoutException) {
            return answer(HttpResponseStatus.GATEWAY_TIMEOUT, "backend timed out", false);
        }
        return answer(HttpResponseStatus.BAD_GATEWAY, "backend failed", false);
    }

    /**
     * The failure to answer for a request the HTTP decoder could not decode: its cause if it is a
     * size limit (414, 431) or the codec's own refusal (an {@link HttpStatusException}: a transfer
     * coding, 400 or 501), else a plain 400. The decoder discards the rest of the stream, so every
     * such answer closes the connection.
     */
    static Throwable decodingFailure(Throwable decoderCause) {
        if (decoderCause instanceof TooLongHttpLineException || decoderCause instanceof TooLongHttpHeaderException
                || decoderCause instanceof HttpStatusException) {
            return decoderCause;
        }
        return HttpStatusException.badRequest("malformed request");
    }

    private Answer answer(HttpResponseStatus status, String reason, boolean close) {
        int retryAfter = status.code() == HttpResponseStatus.SERVICE_UNAVAILABLE.code() ? retryAfterSeconds : NO_RETRY_AFTER;
        return new Answer(status, reason, close, retryAfter);
    }
}
