package dev.nettysync.demo;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The server's Micrometer meters, exported in Prometheus text format by {@code GET /metrics}.
 *
 * <p>Thread-safe: meters are recorded from every event loop. Request timers are created lazily
 * per (route, status) and cached, so the hot path is one map lookup and one lock-free record.
 *
 * <p>Exported names (Prometheus spelling):
 * <ul>
 *   <li>{@code demo_http_requests_seconds{route,status}}: count, sum and histogram buckets of
 *       request latency, by route and status;</li>
 *   <li>{@code demo_response_latency_seconds{status}}: request decoded to response flushed, in
 *       buckets from 10 µs, the server-side latency of each answer sent (a 503 under overload
 *       included; a 408, with no decoded request, counts the read timeout plus the flush);</li>
 *   <li>{@code demo_backend_calls_seconds{outcome}}: backend call latency by outcome (ok, error,
 *       timeout, cancelled);</li>
 *   <li>{@code demo_http_interim_responses_total{status="100"}}: {@code 100 Continue} sent;</li>
 *   <li>{@code demo_limiter_admitted}, {@code demo_limiter_admitted_max},
 *       {@code demo_limiter_in_flight}, {@code demo_limiter_in_flight_peak},
 *       {@code demo_limiter_rejected_total{reason}}: see {@link BackendLimiter}
 *       ({@code +Inf} for the limits when there is none);</li>
 *   <li>{@code nettysync_limiter_{limit,in_use,available,queued}{limiter="backend"}},
 *       {@code nettysync_limiter_wait_seconds}, {@code nettysync_limiter_refused_total{reason}} and
 *       {@code nettysync_permit_leaks_total}: netty-sync-micrometer's meters for the backend limiter;</li>
 *   <li>{@code demo_connections_open}, {@code demo_connections_max},
 *       {@code demo_connections_refused_total}: see {@link ConnectionLimit};</li>
 *   <li>{@code demo_db_ready} (1 when the database is ready) and {@code demo_server_draining}.</li>
 * </ul>
 */
public final class DemoMetrics {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ConcurrentMap<Integer, Timer> requestTimers = new ConcurrentHashMap<>(); // (route, status) -> timer
    private final ConcurrentMap<Integer, Timer> responseTimers = new ConcurrentHashMap<>(); // status -> flush timer
    private final Timer backendOk = backendTimer("ok");
    private final Timer backendError = backendTimer("error");
    private final Timer backendTimeout = backendTimer("timeout");
    private final Timer backendCancelled = backendTimer("cancelled");
    private final Counter interimContinue = counter("demo.http.interim.responses",
            "Interim (1xx) responses sent, by status", "status", "100");

    /** The registry, for gauges registered by the server's parts. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Counts one request of {@code route} answered with {@code status} after {@code nanos}. */
    public void recordRequest(Route route, int status, long nanos) {
        int key = route.ordinal() << 16 | status;
        Timer t = requestTimers.get(key);
        if (t == null) {
            t = requestTimers.computeIfAbsent(key, k -> Timer.builder("demo.http.requests")
                    .description("HTTP requests by route and status")
                    .tag("route", route.tag)
                    .tag("status", Integer.toString(status))
                    .publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofMillis(1))
                    .maximumExpectedValue(Duration.ofSeconds(30))
                    .register(registry));
        }
        t.record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Times one response from the decoding of its request to the completion of its flush, by
     * status: the server's own view of latency, with microsecond buckets, so that a fast refusal
     * (a 503 under overload) can be judged apart from the load generator's lag.
     */
    public void recordResponseFlushed(int status, long nanos) {
        Timer t = responseTimers.get(status);
        if (t == null) {
            t = responseTimers.computeIfAbsent(status, k -> Timer.builder("demo.response.latency")
                    .description("Request decoded to response flushed, by status")
                    .tag("status", Integer.toString(status))
                    .publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofNanos(10_000))
                    .maximumExpectedValue(Duration.ofSeconds(30))
                    .register(registry));
        }
        t.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Outcomes of a backend call, for {@link #recordBackendCall}. */
    enum BackendOutcome { OK, ERROR, TIMEOUT, CANCELLED }

    void recordBackendCall(BackendOutcome outcome, long nanos) {
        Timer t = switch (outcome) {
            case OK -> backendOk;
            case ERROR -> backendError;
            case TIMEOUT -> backendTimeout;
            case CANCELLED -> backendCancelled;
        };
        t.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Counts one interim response (today only {@code 100 Continue}). */
    void recordInterimResponse(int status) {
        if (status != 100) {
            throw new IllegalArgumentException("no interim status " + status + " is sent");
        }
        interimContinue.increment();
    }

    Counter counter(String name, String description, String... tags) {
        return Counter.builder(name).description(description).tags(tags).register(registry);
    }

    void flag(String name, String description, BooleanSupplier value) {
        Gauge.builder(name, () -> value.getAsBoolean() ? 1 : 0).description(description).register(registry);
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }

    private Timer backendTimer(String outcome) {
        return Timer.builder("demo.backend.calls")
                .description("Backend calls by outcome")
                .tag("outcome", outcome)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
    }
}
