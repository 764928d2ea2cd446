package dev.nettysync.demo;

import dev.nettysync.QueueFullException;
import dev.nettysync.limit.AsyncRateLimiter;
import dev.nettysync.limit.KeyedLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RateLimitedException;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The per-client rate ({@code --per-client-rate R --per-client-burst B}): one
 * {@link AsyncRateLimiter} per client in a {@link KeyedLimiter}, checked when a request for an
 * item arrives, before the backend's admission (one expecting {@code 100 Continue}: at its
 * head's turn, before the {@code 100}, and not again once its body is in: see
 * {@link GatewayHandler}). The client is the peer's IP address, or with
 * {@code --trust-forwarded-for} the first address of {@code X-Forwarded-For} (only behind a proxy
 * that sets it: a client can write any value there). A key is always a parsed IP address in
 * canonical form, at most 39 characters: an {@code X-Forwarded-For} that does not start with one
 * is answered 400 ({@link #clientOf}), so memory is bounded by {@code --per-client-max-keys}
 * small keys, whatever clients send.
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
        this(KeyedLimiter.builder((String client) -> AsyncRateLimiter.perSecond(permitsPerSecond, burst))
                .maxKeys(maxKeys).idleTime(Duration.ofMinutes(1)).build(), permitsPerSecond, burst, trustForwardedFor);
    }

    /** Over the given per-client limiter (tests: one whose key limiters decide later). */
    ClientRateLimit(KeyedLimiter<String> perClient, long permitsPerSecond, int burst, boolean trustForwardedFor) {
        this.perClient = perClient;
        this.rate = permitsPerSecond;
        this.burst = burst;
        this.trustForwardedFor = trustForwardedFor;
    }

    /** The rate limit of {@code config}, or {@code null} when {@code --per-client-rate} is 0 (off). */
    static ClientRateLimit of(DemoConfig config) {
        if (config.perClientRate == 0) {
            return null;
        }
        return new ClientRateLimit(config.perClientRate, config.effectivePerClientBurst(), config.perClientMaxKeys,
                config.trustForwardedFor);
    }

    /**
     * The client a request comes from, as the rate's key: an IP address in its canonical text
     * form (RFC 5952 for IPv6; an IPv4-mapped IPv6 address as IPv4), at most 39 characters.
     *
     * <p>With {@code --trust-forwarded-for} and an {@code X-Forwarded-For} header, its first
     * element (up to the first comma, trimmed) must be an IP address: {@code a.b.c.d},
     * {@code a.b.c.d:port}, an IPv6 address, {@code [v6]} or {@code [v6]:port} (the port is
     * dropped; some proxies append it). Anything else (a name, {@code unknown}, a zone id, an
     * empty element, 8 KiB of text) is refused, so a key never grows with what a client writes
     * there and the limiter's memory stays bounded by {@code --per-client-max-keys}. Without the
     * header, or without trust, the key is the peer's address.
     *
     * @throws HttpStatusException 400 (the connection kept) when the header's first element is
     *         not an IP address
     */
    String clientOf(SocketAddress peer, HttpHeaders headers) throws HttpStatusException {
        if (trustForwardedFor) {
            String xff = headers.get("X-Forwarded-For");
            if (xff != null) {
                int comma = xff.indexOf(',');
                String first = (comma < 0 ? xff : xff.substring(0, comma)).trim();
                byte[] address = forwardedAddress(first);
                if (address == null) {
                    throw new HttpStatusException(HttpResponseStatus.BAD_REQUEST,
                            "X-Forwarded-For must start with an IP address (a.b.c.d, a:b::c, [a:b::c]:port), was '"
                                    + printable(first) + "'", false);
                }
                return canonical(address);
            }
        }
        if (peer instanceof InetSocketAddress inet && inet.getAddress() != null) {
            return NetUtil.toAddressString(inet.getAddress());
        }
        return String.valueOf(peer);
    }

    /** The longest element looked at: {@code [} + 39 + {@code ]:65535}, with room to spare. */
    private static final int MAX_ELEMENT = 64;

    /** The address bytes of one {@code X-Forwarded-For} element, or {@code null} if it is not one. */
    static byte[] forwardedAddress(String element) {
        if (element.isEmpty() || element.length() > MAX_ELEMENT || element.indexOf('%') >= 0) {
            return null;               // no zone id: it means nothing off the proxy's host
        }
        String ip;
        if (element.charAt(0) == '[') {
            int close = element.indexOf(']');
            if (close < 0 || !portOrNothing(element, close + 1)) {
                return null;
            }
            ip = element.substring(1, close);
            if (!NetUtil.isValidIpV6Address(ip)) {
                return null;
            }
        } else {
            int colon = element.indexOf(':');
            if (colon >= 0 && element.indexOf(':', colon + 1) < 0) {     // one colon: a.b.c.d:port
                if (!portOrNothing(element, colon)) {
                    return null;
                }
                ip = element.substring(0, colon);
                if (!NetUtil.isValidIpV4Address(ip)) {
                    return null;
                }
            } else {
                ip = element;
                if (!NetUtil.isValidIpV4Address(ip) && !NetUtil.isValidIpV6Address(ip)) {
                    return null;
                }
            }
        }
        return NetUtil.createByteArrayFromIpAddressString(ip);
    }

    /** Whether {@code s} from {@code from} is empty or {@code :} and a port in 1..65535. */
    private static boolean portOrNothing(String s, int from) {
        if (from == s.length()) {
            return true;
        }
        if (s.charAt(from) != ':' || s.length() - from - 1 > 5) {
            return false;
        }
        int port = 0;                      // no digit after the ':': 0, refused below
        for (int i = from + 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
            port = port * 10 + (c - '0');
        }
        return port >= 1 && port <= 65535;
    }

    private static String canonical(byte[] address) {
        try {
            return NetUtil.toAddressString(InetAddress.getByAddress(address));   // IPv4-mapped: IPv4
        } catch (UnknownHostException e) {
            throw new IllegalStateException("an address of " + address.length + " bytes", e);   // 4 or 16: never
        }
    }

    /** At most 40 characters of {@code s}, every one outside printable ASCII as {@code ?}. */
    private static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 43));
        for (int i = 0; i < s.length() && i < 40; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return s.length() > 40 ? b.append("...").toString() : b.toString();
    }

    /** Retry-After of a refusal by a limiter that did not decide at once: 1 s, the least HTTP says. */
    private static final long UNDECIDED_RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * Admits one request of {@code client} now, or says why not. Never waits, whatever the key
     * limiter does: a wait it does not decide at once (the rate limiter always does with a zero
     * timeout) is cancelled and refused 429 ({@code Retry-After: 1}); one granted as it is
     * cancelled is used if the grant is in hand at once, else its permit is ended when it
     * arrives, so no permit is ever left held for nobody.
     *
     * @return {@code null} if admitted; a {@link RateLimitedException} (429) or an
     *         {@link HttpStatusException} (503: too many clients) otherwise
     */
    Throwable admit(String client, EventExecutor executor) {
        Future<Permit> f = perClient.acquire(client, executor, 0, TimeUnit.NANOSECONDS);
        if (!f.isDone()) {
            // The rate limiter decides a zero-timeout wait at once; a limiter that does not
            // (it queued the wait) is refused here, as over the rate: this check never waits.
            if (!f.cancel(false) && !f.isDone()) {
                // Granted (or failed) as it was cancelled, and handed over later, on the
                // executor: whatever arrives is ended there, for nobody uses it now.
                f.addListener(late -> {
                    if (late.isSuccess()) {
                        ((Permit) late.getNow()).releaseIgnored();
                    }
                });
                return undecided(client);
            }
            if (f.isCancelled()) {
                return undecided(client);
            }
        }
        if (f.isSuccess()) {               // also a grant that won the race with the cancel: used
            f.getNow().release();          // a rate permit gives nothing back; the key is let go
            return null;
        }
        if (f.cause() instanceof QueueFullException) {
            return new HttpStatusException(HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "too many clients tracked by the rate limit", false);
        }
        return f.cause();
    }

    private static RateLimitedException undecided(String client) {
        return new RateLimitedException("the per-client rate of " + client + " did not decide at once",
                UNDECIDED_RETRY_NANOS);
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

    /** The rate limiter statistics of {@code client} now (its tokens left: {@code available}), for tests. */
    LimiterStatistics statistics(String client) {
        return perClient.statistics(client);
    }

    /** Live clients now, for tests. */
    int liveClients() {
        return perClient.liveKeys();
    }

    /** Evicts the clients idle and at rest now, for tests ({@link KeyedLimiter#evictIdle()}). */
    int evictIdle() {
        return perClient.evictIdle();
    }
}
