package dev.nettysync.demo;

import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RateLimitedException;
import dev.nettysync.redis.RedisRateLimiter;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The fleet-wide rate ({@code --redis --fleet-rate R --fleet-burst B}): one
 * {@link RedisRateLimiter} (GCRA in one Lua script, on the Redis server's clock) shared by every
 * demo instance using the same Redis, so that together they admit at most {@code R × t + B}
 * requests for items in any window of length {@code t}.
 *
 * <h2>Where it sits</h2>
 * Checked when a request for an item arrives (one expecting {@code 100 Continue}: at its head's
 * turn, before the {@code 100}, and not again once its body is in: see {@link GatewayHandler}),
 * after the per-client rate and before the local admission ({@link Admission#enter}) and the
 * fleet concurrency limit ({@link FleetAdmission}):
 * <ol>
 *   <li>per-client rate (local, no I/O): over it, 429, and the fleet's budget is not spent on a
 *       client that is over its own rate;</li>
 *   <li>fleet rate (this class, one Redis round trip): over it, 429;</li>
 *   <li>local admission (queue bound, 503), then readiness, the local permit, the fleet permit.</li>
 * </ol>
 * A request refused here holds nothing: no local place, no fleet permit, nothing to give back.
 * A request admitted here has spent one unit of the fleet's rate even if a later step refuses
 * it (503) or its client leaves: the rate counts requests that reached the backend's admission,
 * not successful calls.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li><b>Never waits for capacity.</b> Now or never ({@code acquire(executor, 0, unit)}): over
 *       the rate, the future fails at once with a {@link Refused} carrying the limiter's
 *       {@code retryAfter} (429, {@code Retry-After} in whole seconds rounded up, at least 1).</li>
 *   <li><b>Never blocks.</b> The decision is one asynchronous script call; the future completes
 *       on the executor passed in (the request's event loop).</li>
 *   <li><b>When Redis cannot decide</b> ({@link FleetOutage}, {@code --fleet-when-down}): the
 *       connection is down (the limiter fails at once), no reply within the limiters' command
 *       timeout (at most 2 s: {@link DemoConfig#redisCommandTimeout()}), or a Redis error.
 *       Closed (default): the future fails with the limiter's
 *       {@link io.lettuce.core.RedisException}, answered 503 "fleet limit unavailable: Redis
 *       unreachable" ({@code Retry-After: --retry-after}). Open: the request is admitted without
 *       the fleet rate.</li>
 *   <li>Thread-safe; stateless apart from the limiter.</li>
 * </ul>
 */
final class FleetRateLimit {

    static final String POLICY = "fleet";

    private final RedisRateLimiter limiter;
    private final AsyncLimiter admission;         // the limiter, as --fleet-when-down wants it

    FleetRateLimit(RedisRateLimiter limiter, FleetOutage outage) {
        this.limiter = Objects.requireNonNull(limiter, "limiter");
        Objects.requireNonNull(outage, "outage");
        // Open: a failure Redis could not decide admits (an unbacked permit); closed passes it on.
        this.admission = AsyncLimiter.failOpen(limiter, cause -> outage.admitWithout(FleetOutage.Limit.RATE, cause));
    }

    /**
     * Admits one request now, or says why not.
     *
     * @return a future completed on {@code executor}: succeeded if admitted; failed with a
     *         {@link Refused} (429) over the rate, with the limiter's
     *         {@link io.lettuce.core.RedisException} (503) if Redis could not decide and
     *         {@code --fleet-when-down} is closed, or an {@link HttpStatusException} (503) for
     *         any other failure
     */
    Future<Void> admit(EventExecutor executor) {
        Future<Permit> f = admission.acquire(executor, 0, TimeUnit.NANOSECONDS);   // never waits for capacity
        Promise<Void> result = executor.newPromise();
        f.addListener(done -> {
            if (done.isSuccess()) {
                f.getNow().release();          // a rate permit gives nothing back (nor does an unbacked one)
                result.trySuccess(null);           // admitted, or open while Redis could not decide
            } else if (done.isCancelled()) {
                result.cancel(false);
            } else if (done.cause() instanceof RateLimitedException r) {
                result.tryFailure(new Refused(r.retryAfterNanos()));
            } else if (FleetOutage.isRedisFailure(done.cause())) {
                result.tryFailure(done.cause());   // closed: 503 "fleet limit unavailable"
            } else {
                result.tryFailure(new HttpStatusException(HttpResponseStatus.SERVICE_UNAVAILABLE,
                        "fleet rate limit unavailable", false));
            }
        });
        // Cancelling the request's wait (client gone) cancels the script's promise too.
        result.addListener(done -> {
            if (done.isCancelled()) {
                f.cancel(false);
            }
        });
        return result;
    }

    /**
     * Adds the ratelimit-headers draft's fields to a 429 of this limit: the policy (a quota of
     * {@code burst} requests per the seconds the bucket takes to refill) and the current state.
     */
    void addHeaders(HttpHeaders headers, Refused refusal) {
        long window = Math.max(1, (long) Math.ceil(limiter.burst() / limiter.permitsPerSecond()));
        headers.set("RateLimit-Policy", "\"" + POLICY + "\";q=" + limiter.burst() + ";w=" + window);
        headers.set("RateLimit", "\"" + POLICY + "\";r=0;t=" + refusal.retryAfterSeconds());
    }

    /** Over the fleet's rate: 429 "too many requests across the fleet". No stack trace. */
    static final class Refused extends RateLimitedException {
        private static final long serialVersionUID = 1L;

        Refused(long retryAfterNanos) {
            super("over the fleet-wide rate", retryAfterNanos);
        }
    }
}
