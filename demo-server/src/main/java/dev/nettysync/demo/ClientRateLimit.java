package dev.nettysync.demo;

import dev.nettysync.QueueFullException;
import dev.nettysync.limit.AsyncRateLimiter;
import dev.nettysync.limit.KeyedLimiter;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RateLimitedException;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The per-client rate ({@code --per-client-rate R --per-client-burst B}): one
 * {@link AsyncRateLimiter} per client in a {@link KeyedLimiter}, checked when a request for an
 * item arrives, before the backend's admission. The client is the peer's IP address, or with
 * {@code --trust-forwarded-for} the first address of {@code X-Forwarded-For} (only behind a proxy
 * that sets it: a client can write any value there).
 *
 * <p>Which status means what: over the client's rate, <b>429</b> with {@code Retry-After} (the
 * limiter's estimate of when the client's next request would be admitted, whole seconds rounded
 * up) and the IETF httpapi ratelimit-headers draft's {@code RateLimit-Policy} and
 * {@code RateLimit}: the client should slow down. The backend's global limit (queue full, wait
 * too long) stays <b>503</b>: the server is overloaded, whoever asks. More live clients than
 * {@code --per-client-max-keys}, none idle: 503 too.
 *
 * <p>Never waits: a request over the rate is refused at once. Thread-safe.
 */
final class ClientRateLimit {

    static final String POLICY = "per-client";

    private final KeyedLimiter<String> perClient;
    private final long rate;
    private final int burst;
    private final boolean trustForwardedFor;

    ClientRateLimit(long permitsPerSecond, int burst, int maxKeys, boolean trustForwardedFor) {
        this.rate = permitsPerSecond;
        this.burst = burst;
        this.trustForwardedFor = trustForwardedFor;
        this.perClient = KeyedLimiter.builder((String client) -> AsyncRateLimiter.perSecond(permitsPerSecond, burst))
                .maxKeys(maxKeys).idleTime(Duration.ofMinutes(1)).build();
    }

    /** The rate limit of {@code config}, or {@code null} when {@code --per-client-rate} is 0 (off). */
    static ClientRateLimit of(DemoConfig config) {
        if (config.perClientRate == 0) {
            return null;
        }
        int burst = config.perClientBurst > 0 ? config.perClientBurst
                : (int) Math.min(Integer.MAX_VALUE, config.perClientRate);
        return new ClientRateLimit(config.perClientRate, burst, config.perClientMaxKeys, config.trustForwardedFor);
    }

    /** The client a request comes from. */
    String clientOf(SocketAddress peer, HttpHeaders headers) {
        if (trustForwardedFor) {
            String xff = headers.get("X-Forwarded-For");
            if (xff != null) {
                int comma = xff.indexOf(',');
                String first = (comma < 0 ? xff : xff.substring(0, comma)).trim();
                if (!first.isEmpty()) {
                    return first;
                }
            }
        }
        if (peer instanceof InetSocketAddress inet && inet.getAddress() != null) {
            return inet.getAddress().getHostAddress();
        }
        return String.valueOf(peer);
    }

    /**
     * Admits one request of {@code client} now, or says why not.
     *
     * @return {@code null} if admitted; a {@link RateLimitedException} (429) or an
     *         {@link HttpStatusException} (503: too many clients) otherwise
     */
    Throwable admit(String client, EventExecutor executor) {
        Future<Permit> f = perClient.acquire(client, executor, 0, TimeUnit.NANOSECONDS);   // never waits
        if (f.isSuccess()) {
            f.getNow().release();          // a rate permit gives nothing back; the key is let go
            return null;
        }
        if (f.cause() instanceof QueueFullException) {
            return new HttpStatusException(HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "too many clients tracked by the rate limit", false);
        }
        return f.cause();
    }

    /**
     * Adds the ratelimit-headers draft's fields to a 429: the policy (a quota of {@code burst}
     * requests per the seconds the bucket takes to refill) and the current state (0 remaining,
     * reset after {@code retryAfter} seconds).
     */
    void addHeaders(HttpHeaders headers, RateLimitedException refusal) {
        long window = Math.max(1, (burst + rate - 1) / rate);
        headers.set("RateLimit-Policy", "\"" + POLICY + "\";q=" + burst + ";w=" + window);
        headers.set("RateLimit", "\"" + POLICY + "\";r=0;t=" + refusal.retryAfterSeconds());
    }

    /** Live clients now, for tests. */
    int liveClients() {
        return perClient.liveKeys();
    }
}
