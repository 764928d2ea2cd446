package dev.nettysync.demo;

import io.lettuce.core.RedisException;
import io.micrometer.core.instrument.Counter;

import java.util.Objects;

/**
 * What the fleet-wide limits ({@code --fleet-limit}, {@code --fleet-rate}) do with a request
 * when Redis cannot decide ({@code --fleet-when-down}): the connection is down, no reply came
 * within the limiters' command timeout ({@link DemoConfig#redisCommandTimeout()}, at most 2 s), or
 * Redis answered an error. Any
 * {@link RedisException} from a fleet limiter is such a failure (the
 * {@link dev.nettysync.redis.RedisUnavailableException} of an unreachable Redis is one).
 * <ul>
 *   <li>{@link DemoConfig.FleetWhenDown#CLOSED closed} (default): the request is refused, 503
 *       "fleet limit unavailable: Redis unreachable" (or "...: Redis error") with
 *       {@code Retry-After: --retry-after}, like the demo's other 503s. Nothing is held.</li>
 *   <li>{@link DemoConfig.FleetWhenDown#OPEN open}: the request goes on without that limit; the
 *       local limits ({@code --max-concurrent}, {@code --max-queue}, {@code --per-client-rate})
 *       still hold, so the backend sees at most the instances' local limits added up.</li>
 * </ul>
 * Each decision is counted in {@code demo_fleet_unavailable_total{limit, decision}}.
 *
 * <p>Immutable and thread-safe.
 */
final class FleetOutage {

    /** Which fleet limit could not decide. */
    enum Limit {
        RATE("rate"), CONCURRENCY("concurrency");

        final String tag;

        Limit(String tag) {
            this.tag = tag;
        }
    }

    private final DemoConfig.FleetWhenDown mode;
    private final Counter[] admitted = new Counter[Limit.values().length];
    private final Counter[] refused = new Counter[Limit.values().length];

    FleetOutage(DemoConfig.FleetWhenDown mode, DemoMetrics metrics) {
        this.mode = Objects.requireNonNull(mode, "mode");
        for (Limit l : Limit.values()) {
            admitted[l.ordinal()] = metrics.counter("demo.fleet.unavailable",
                    "Requests a fleet limit could not decide (Redis unreachable or failing), by decision",
                    "limit", l.tag, "decision", "admitted");
            refused[l.ordinal()] = metrics.counter("demo.fleet.unavailable",
                    "Requests a fleet limit could not decide (Redis unreachable or failing), by decision",
                    "limit", l.tag, "decision", "refused");
        }
    }

    DemoConfig.FleetWhenDown mode() {
        return mode;
    }

    /** Whether {@code cause} means Redis could not decide (as opposed to a refusal or a cancel). */
    static boolean isRedisFailure(Throwable cause) {
        return cause instanceof RedisException;
    }

    /**
     * Decides for a request whose {@code limit} failed with {@code cause}: {@code true} to go on
     * without the limit (open), {@code false} to fail with {@code cause} (closed, or not a
     * Redis failure). Counts the decision for Redis failures.
     */
    boolean admitWithout(Limit limit, Throwable cause) {
        if (!isRedisFailure(cause)) {
            return false;
        }
        if (mode == DemoConfig.FleetWhenDown.OPEN) {
            admitted[limit.ordinal()].increment();
            return true;
        }
        refused[limit.ordinal()].increment();
        return false;
    }
}
