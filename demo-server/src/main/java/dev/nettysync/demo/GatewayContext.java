package dev.nettysync.demo;

import dev.nettysync.AsyncEvent;

import java.time.Duration;
import java.util.Objects;

/**
 * What a {@link GatewayHandler} needs from the server, and nothing more: the handler depends on
 * this, never on {@link GatewayServer}. One instance serves every connection; each part is
 * thread-safe.
 *
 * @param dbReady          set once the database is ready
 * @param beforeReady      what an item request does before that
 * @param readyWaitTimeout longest wait for readiness in {@code WAIT} mode
 * @param admission        the policy in front of the backend
 * @param backend          the backend, already bounded by the backend timeout ({@link TimedBackend})
 * @param drain            the in-flight count and the draining flag
 * @param metrics          where requests are counted
 * @param errors           failure → HTTP answer
 * @param perClient        the per-client rate, or {@code null} when off
 * @param fleetRate        the fleet-wide rate, or {@code null} when off
 */
record GatewayContext(AsyncEvent dbReady, DemoConfig.BeforeReady beforeReady, Duration readyWaitTimeout,
                      Admission admission, Backend backend, DrainState drain, DemoMetrics metrics,
                      HttpErrors errors, ClientRateLimit perClient, FleetRateLimit fleetRate) {

    GatewayContext {
        Objects.requireNonNull(dbReady, "dbReady");
        Objects.requireNonNull(beforeReady, "beforeReady");
        Objects.requireNonNull(readyWaitTimeout, "readyWaitTimeout");
        Objects.requireNonNull(admission, "admission");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(drain, "drain");
        Objects.requireNonNull(metrics, "metrics");
        Objects.requireNonNull(errors, "errors");
    }
}
