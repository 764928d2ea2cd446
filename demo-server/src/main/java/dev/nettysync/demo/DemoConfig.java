package dev.nettysync.demo;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.nettysync.adaptive.AdaptiveAlgorithm;
import io.lettuce.core.RedisURI;
import io.netty.util.concurrent.ImmediateEventExecutor;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The demo server's settings: command-line flags parsed by picocli, each of which can also be set
 * by the environment variable named in its description ({@code DEMO_...}); a flag given on the
 * command line wins over the variable, the variable over the built-in default.
 *
 * <p>Instances are plain mutable holders filled once by {@link #parse(String...)} on the
 * starting thread and read-only afterwards; {@link GatewayServer} copies what it needs at
 * construction, so they are never shared with event loops while being written.
 */
@Command(name = "demo-server", mixinStandardHelpOptions = true, sortOptions = false,
        version = "netty-sync demo-server 0.1.0-SNAPSHOT",
        description = {
                "HTTP gateway built on netty-sync: GET /api/items/{id} waits until the database is ready "
                        + "(AsyncEvent), then calls the backend through an AsyncSemaphore that limits concurrent calls.",
                "Routes: /api/items/{id}, /livez, /readyz, /metrics. Durations: 500ms, 2s, 1m, 0 (or ISO-8601), "
                        + "at most 24h. "
                        + "Every flag can also be set by the environment variable named in its description.",
                ""},
        showDefaultValues = true)
public final class DemoConfig {

    /** What a request for a resource does while the database is not ready yet. */
    public enum BeforeReady {
        /** Wait for readiness, at most {@code --ready-wait-timeout}, then 503. */
        WAIT,
        /** Answer 503 at once. */
        REJECT
    }

    /** Which Netty transport to use. */
    public enum Transport { AUTO, EPOLL, NIO }

    /** What the fleet limits do when Redis cannot decide (unreachable, no reply, an error). */
    public enum FleetWhenDown {
        /** Refuse: 503 "fleet limit unavailable", nothing held. */
        CLOSED,
        /** Admit without the fleet limit; the local limits still hold. */
        OPEN
    }

    @Option(names = "--host", defaultValue = "${env:DEMO_HOST:-0.0.0.0}",
            description = "Address or host name to bind; a name must resolve when the flags are read "
                    + "(env DEMO_HOST).")
    public String host;

    @Option(names = "--port", defaultValue = "${env:DEMO_PORT:-8080}",
            description = "Port to bind; 0 picks a free port (env DEMO_PORT).")
    public int port;

    @Option(names = "--io-threads", defaultValue = "${env:DEMO_IO_THREADS:-0}",
            description = "Event-loop threads; 0 means Netty's default, 2 x cores (env DEMO_IO_THREADS).")
    public int ioThreads;

    @Option(names = "--transport", defaultValue = "${env:DEMO_TRANSPORT:-auto}",
            description = "auto (native epoll when available, else NIO), epoll or nio (env DEMO_TRANSPORT).")
    public Transport transport;

    @Option(names = "--db-ready-delay", defaultValue = "${env:DEMO_DB_READY_DELAY:-2s}",
            description = "Simulated database: becomes ready after this delay, counted from when the server "
                    + "listens (env DEMO_DB_READY_DELAY).")
    public Duration dbReadyDelay;

    @Option(names = "--db-probe", defaultValue = "${env:DEMO_DB_PROBE}", paramLabel = "HOST:PORT",
            description = "Instead of the simulated database, probe a real one by TCP connect until it "
                    + "answers, e.g. localhost:5432 for PostgreSQL (env DEMO_DB_PROBE).")
    public String dbProbe;

    @Option(names = "--db-probe-interval", defaultValue = "${env:DEMO_DB_PROBE_INTERVAL:-500ms}",
            description = "Pause between two failed probe attempts (env DEMO_DB_PROBE_INTERVAL).")
    public Duration dbProbeInterval;

    @Option(names = "--db-probe-connect-timeout", defaultValue = "${env:DEMO_DB_PROBE_CONNECT_TIMEOUT:-1s}",
            description = "Connect timeout of one probe attempt (env DEMO_DB_PROBE_CONNECT_TIMEOUT).")
    public Duration dbProbeConnectTimeout;

    @Option(names = "--before-ready", defaultValue = "${env:DEMO_BEFORE_READY:-wait}",
            description = "wait: requests wait for DB readiness up to --ready-wait-timeout; reject: 503 at once "
                    + "(env DEMO_BEFORE_READY).")
    public BeforeReady beforeReady;

    @Option(names = "--ready-wait-timeout", defaultValue = "${env:DEMO_READY_WAIT_TIMEOUT:-5s}",
            description = "Longest wait for DB readiness in wait mode before a 503 (env DEMO_READY_WAIT_TIMEOUT).")
    public Duration readyWaitTimeout;

    @Option(names = "--backend-latency", defaultValue = "${env:DEMO_BACKEND_LATENCY:-20ms}",
            description = "Latency of the simulated backend; 0 answers at once (env DEMO_BACKEND_LATENCY).")
    public Duration backendLatency;

    @Option(names = "--backend-capacity", defaultValue = "${env:DEMO_BACKEND_CAPACITY:-0}",
            description = "Simulated backend only: C*, the calls it serves at once; more wait in its FIFO queue, so "
                    + "latency grows in proportion beyond C* and throughput stays C*/latency. 0 = unlimited "
                    + "(env DEMO_BACKEND_CAPACITY).")
    public int backendCapacity;

    @Option(names = "--backend-capacity-schedule", defaultValue = "${env:DEMO_BACKEND_CAPACITY_SCHEDULE:-}",
            paramLabel = "TIME:C,...", showDefaultValue = CommandLine.Help.Visibility.NEVER,   // (none): no "Default:" line
            description = "Simulated backend only: later capacities, timed from the first backend call, e.g. "
                    + "20s:16,40s:32 (a backend that degrades and recovers) (env DEMO_BACKEND_CAPACITY_SCHEDULE).")
    public String backendCapacitySchedule;

    @Option(names = "--upstream", defaultValue = "${env:DEMO_UPSTREAM}", paramLabel = "URL",
            description = "Instead of the simulated backend, call GET <URL>/items/{id} on a real HTTP/1.1 "
                    + "upstream over pooled keep-alive connections, e.g. http://127.0.0.1:9000 (env DEMO_UPSTREAM).")
    public URI upstream;

    @Option(names = "--upstream-pool-size", defaultValue = "${env:DEMO_UPSTREAM_POOL_SIZE:-64}",
            description = "Upstream connections per event loop (env DEMO_UPSTREAM_POOL_SIZE).")
    public int upstreamPoolSize;

    @Option(names = "--backend-timeout", defaultValue = "${env:DEMO_BACKEND_TIMEOUT:-2s}",
            description = "A backend call taking longer is abandoned with 504 (env DEMO_BACKEND_TIMEOUT).")
    public Duration backendTimeout;

    @Option(names = "--max-concurrent", defaultValue = "${env:DEMO_MAX_CONCURRENT:-16}",
            description = "Most backend calls at once (the semaphore's permits); 0 means no limit, as does "
                    + "2147483647, the semaphore's maximum (env DEMO_MAX_CONCURRENT).")
    public int maxConcurrent;

    @Option(names = "--limit", defaultValue = "${env:DEMO_LIMIT:-fixed}", paramLabel = "fixed|adaptive[:ALG]",
            description = "fixed: --max-concurrent is the limit. adaptive[:vegas|gradient2|aimd] (default vegas): "
                    + "the limit is found from the backend's latency (netty-sync-adaptive), starting at 20 and never "
                    + "above --max-concurrent (0: 1000); backend timeouts count as drops (env DEMO_LIMIT).")
    public String limit;

    @Option(names = "--max-queue", defaultValue = "${env:DEMO_MAX_QUEUE:-256}",
            description = "Most requests admitted beyond --max-concurrent, counted from their arrival: waiting for "
                    + "the database or queued for a permit; more are refused at once with 503 (env DEMO_MAX_QUEUE).")
    public int maxQueue;

    @Option(names = "--max-queue-wait", defaultValue = "${env:DEMO_MAX_QUEUE_WAIT:-1s}",
            description = "Longest wait for a permit before a 503 (env DEMO_MAX_QUEUE_WAIT).")
    public Duration maxQueueWait;

    @Option(names = "--redis", defaultValue = "${env:DEMO_REDIS}", paramLabel = "URI",
            description = "Redis for the fleet-wide limits, e.g. redis://127.0.0.1:6379; needs --fleet-limit "
                    + "or --fleet-rate (env DEMO_REDIS).")
    public String redis;

    @Option(names = "--fleet-limit", defaultValue = "${env:DEMO_FLEET_LIMIT:-0}",
            description = "Most backend calls at once across every instance sharing --redis (after the local "
                    + "limits); 0 = off (env DEMO_FLEET_LIMIT).")
    public int fleetLimit;

    @Option(names = "--fleet-lease", defaultValue = "${env:DEMO_FLEET_LEASE:-5s}",
            description = "Lease of a fleet permit: a killed instance's permits return after it "
                    + "(renewed while held; env DEMO_FLEET_LEASE).")
    public Duration fleetLease;

    /** The lowest {@code --fleet-rate} but 0: one request a day (an emission interval of 24 h). */
    static final double MIN_FLEET_RATE = 1d / 86_400;
    /** The highest {@code --fleet-rate}: an emission interval of 1 us, the resolution the limiter keeps. */
    static final double MAX_FLEET_RATE = 1_000_000d;

    @Option(names = "--fleet-rate", defaultValue = "${env:DEMO_FLEET_RATE:-0}", paramLabel = "R",
            description = "Requests for items per second across every instance sharing --redis (may be fractional, "
                    + "from 1/86400 to 1000000); "
                    + "over it gets 429 with Retry-After; checked after --per-client-rate, before the local "
                    + "admission and --fleet-limit; 0 = off (env DEMO_FLEET_RATE).")
    public double fleetRate;

    @Option(names = "--fleet-burst", defaultValue = "${env:DEMO_FLEET_BURST:-0}", paramLabel = "B",
            description = "Requests the fleet may admit at once after an idle period (0 = the rate, rounded up) "
                    + "(env DEMO_FLEET_BURST).")
    public int fleetBurst;

    @Option(names = "--fleet-when-down", defaultValue = "${env:DEMO_FLEET_WHEN_DOWN:-closed}", paramLabel = "closed|open",
            description = "When Redis is unreachable (or answers an error), the fleet limits refuse (closed: 503 "
                    + "\"fleet limit unavailable\" with Retry-After) or admit without the fleet limit (open: the "
                    + "local limits still hold) (env DEMO_FLEET_WHEN_DOWN).")
    public FleetWhenDown fleetWhenDown;

    @Option(names = "--retry-after", defaultValue = "${env:DEMO_RETRY_AFTER:-1}",
            description = "Seconds sent in Retry-After with every 503 (env DEMO_RETRY_AFTER).")
    public int retryAfterSeconds;

    @Option(names = "--per-client-rate", defaultValue = "${env:DEMO_PER_CLIENT_RATE:-0}", paramLabel = "R",
            description = "Requests per second each client may make; over it gets 429 with Retry-After "
                    + "(0 = no per-client limit) (env DEMO_PER_CLIENT_RATE).")
    public long perClientRate;

    @Option(names = "--per-client-burst", defaultValue = "${env:DEMO_PER_CLIENT_BURST:-0}", paramLabel = "B",
            description = "Requests a client may make at once after an idle period (0 = the rate) "
                    + "(env DEMO_PER_CLIENT_BURST).")
    public int perClientBurst;

    @Option(names = "--per-client-max-keys", defaultValue = "${env:DEMO_PER_CLIENT_MAX_KEYS:-100000}",
            description = "Most clients tracked at once by the per-client rate; past it, new clients "
                    + "get 503 while no tracked client is idle (env DEMO_PER_CLIENT_MAX_KEYS).")
    public int perClientMaxKeys;

    @Option(names = "--trust-forwarded-for", defaultValue = "${env:DEMO_TRUST_FORWARDED_FOR:-false}",
            description = "Key the per-client rate by the first X-Forwarded-For address instead of the "
                    + "peer address; only behind a proxy that sets it (env DEMO_TRUST_FORWARDED_FOR).")
    public boolean trustForwardedFor;

    @Option(names = "--drain-timeout", defaultValue = "${env:DEMO_DRAIN_TIMEOUT:-10s}",
            description = "On SIGTERM/Ctrl-C, how long in-flight requests may finish before connections are "
                    + "closed (env DEMO_DRAIN_TIMEOUT).")
    public Duration drainTimeout;

    @Option(names = "--max-connections", defaultValue = "${env:DEMO_MAX_CONNECTIONS:-0}",
            description = "Most client connections open at once; more are closed at once and counted. "
                    + "0 derives it from the process's open-file limit (the limit minus 128, minus the upstream "
                    + "pool when --upstream is set; at least 16) (env DEMO_MAX_CONNECTIONS).")
    public int maxConnections;

    @Option(names = "--idle-timeout", defaultValue = "${env:DEMO_IDLE_TIMEOUT:-60s}",
            description = "A connection with no request in progress, and no byte of the next one received, is "
                    + "closed after this, without an answer; so is one whose answer the client does not read "
                    + "within this time (env DEMO_IDLE_TIMEOUT).")
    public Duration idleTimeout;

    @Option(names = "--request-read-timeout", defaultValue = "${env:DEMO_REQUEST_READ_TIMEOUT:-10s}",
            description = "A request must arrive completely (headers and body) within this time after its "
                    + "first byte (or after the answer before it, if that byte came while that one was answered), "
                    + "else 408 and close (env DEMO_REQUEST_READ_TIMEOUT).")
    public Duration requestReadTimeout;

    @Option(names = "--max-initial-line", defaultValue = "${env:DEMO_MAX_INITIAL_LINE:-4096}",
            description = "Longest request line in bytes; longer gets 414 (env DEMO_MAX_INITIAL_LINE).")
    public int maxInitialLine;

    @Option(names = "--max-header-size", defaultValue = "${env:DEMO_MAX_HEADER_SIZE:-8192}",
            description = "Largest header block in bytes; larger gets 431 (env DEMO_MAX_HEADER_SIZE).")
    public int maxHeaderSize;

    /**
     * The largest {@code --max-body}: 64 MiB. A request's body is aggregated whole in memory
     * before the request is handled, and every open connection may hold one at once, so the flag
     * is memory per connection (worst case {@code --max-connections} x {@code --max-body}); no
     * route of this server reads a body at all. 2 GiB, the most an {@code int} allowed, let one
     * request take what a default JVM has.
     */
    static final int MAX_BODY_CAP = 64 << 20;

    @Option(names = "--max-body", defaultValue = "${env:DEMO_MAX_BODY:-65536}",
            description = "Largest request body in bytes, at most 67108864 (64 MiB); larger gets 413 "
                    + "(env DEMO_MAX_BODY).")
    public int maxBody;

    /**
     * Parses {@code args} (and the {@code DEMO_*} environment) into a config, validating it.
     *
     * @throws CommandLine.ParameterException on a bad flag or value
     */
    public static DemoConfig parse(String... args) {
        DemoConfig config = new DemoConfig();
        CommandLine cl = newCommandLine(config);
        cl.parseArgs(args);
        config.validate(cl);
        return config;
    }

    static CommandLine newCommandLine(DemoConfig config) {
        CommandLine cl = new CommandLine(config);
        cl.registerConverter(Duration.class, new DurationConverter());   // every duration flag
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setOverwrittenOptionsAllowed(true);      // the last occurrence of a flag wins
        return cl;
    }

    void validate(CommandLine cl) {
        requireThat(cl, host != null && !host.isBlank(),
                "--host must be an address or host name to bind (0.0.0.0 for every interface), was '" + host + "'");
        // Resolved here, once, so that a name nobody can resolve is a bad flag (exit 2), not a
        // bind failing with UnresolvedAddressException; the bind resolves it again (a literal
        // address costs no lookup).
        try {
            java.net.InetAddress.getByName(host);
        } catch (java.net.UnknownHostException | SecurityException e) {
            requireThat(cl, false, "--host must be an address or a host name this machine can resolve "
                    + "(0.0.0.0 for every interface), was '" + host + "': not resolvable");
        }
        requireIn(cl, "--port", port, 0, 65535, "");
        requireIn(cl, "--io-threads", ioThreads, 0, 1024, "");
        requireAtLeast(cl, "--max-connections", maxConnections, 0, " (0 = from the open-file limit)");
        requireAtLeast(cl, "--max-concurrent", maxConcurrent, 0, " (0 = no limit)");
        requireAtLeast(cl, "--max-queue", maxQueue, 0, "");
        requireIn(cl, "--per-client-rate", perClientRate, 0, 1_000_000_000L, " per second");
        requireAtLeast(cl, "--per-client-burst", perClientBurst, 0, " (0 = the rate)");
        requireThat(cl, perClientBurst == 0 || perClientRate > 0, "--per-client-burst needs --per-client-rate");
        if (perClientRate > 0) {
            // Each client's limiter is built at its first request, on an event loop: a rate and
            // burst it refuses must be refused here, not there.
            requireAccepted(cl, () -> ClientRateLimit.of(this).admit("", ImmediateEventExecutor.INSTANCE),
                    "--per-client-burst " + perClientBurst + " is too large for --per-client-rate " + perClientRate + ": ");
        }
        requireAtLeast(cl, "--per-client-max-keys", perClientMaxKeys, 1, "");
        requireIn(cl, "--retry-after", retryAfterSeconds, 0, 86_400, " seconds");
        requireIn(cl, "--upstream-pool-size", upstreamPoolSize, 1, 10_000, "");
        requireAtLeast(cl, "--max-initial-line", maxInitialLine, 64, "");
        requireAtLeast(cl, "--max-header-size", maxHeaderSize, 256, "");
        requireIn(cl, "--max-body", maxBody, 0, MAX_BODY_CAP,
                " bytes (64 MiB: a body is held whole in memory until its request is answered)");
        requirePositive(cl, "--idle-timeout", idleTimeout);
        requirePositive(cl, "--request-read-timeout", requestReadTimeout);
        requirePositive(cl, "--backend-timeout", backendTimeout);
        requirePositive(cl, "--db-probe-interval", dbProbeInterval);
        requirePositive(cl, "--db-probe-connect-timeout", dbProbeConnectTimeout);
        if (dbProbe != null) {
            dbProbeAddress(cl);      // throws if malformed
        }
        requireAtLeast(cl, "--fleet-limit", fleetLimit, 0, " (0 = off)");
        // The limiter's emission interval, 1/rate, is kept in whole microseconds on Redis's clock
        // and turned into a key expiry: under 1 us it rounds to 0 (no limit at all), and past
        // 24 h (like every duration here) it only grows towards an expiry Redis refuses
        // (1e-300/s: every request answered 503 "Redis error"). NaN and infinities are refused too.
        requireThat(cl, fleetRate == 0 || fleetRate >= MIN_FLEET_RATE && fleetRate <= MAX_FLEET_RATE,
                "--fleet-rate must be 0 (off) or between 1/86400 (one a day, 0.0000116) and " + (long) MAX_FLEET_RATE
                        + " per second, was " + fleetRate);
        // burst x interval (at most 1e9 x 24 h) bounds how far ahead of now the limiter's TAT and
        // its key's expiry can run: under 1e17 ms, what the script can pass to Redis as an integer.
        requireIn(cl, "--fleet-burst", fleetBurst, 0, 1_000_000_000, " (0 = the rate)");
        requireThat(cl, fleetBurst == 0 || fleetRate > 0, "--fleet-burst needs --fleet-rate");
        // The Redis rate limiter refuses a burst that takes more than 2^60 ns to refill (its
        // clock's range): refused here as a bad flag, not at start-up.
        requireThat(cl, fleetRate == 0 || effectiveFleetBurst() * (1e9 / fleetRate) <= 0x1p60,
                "--fleet-burst " + effectiveFleetBurst() + " at --fleet-rate " + fleetRate
                        + " takes more than 2^60 ns (36 years) to refill: raise the rate or lower the burst");
        requireThat(cl, redis != null || fleetLimit == 0,
                "--fleet-limit needs --redis (was --fleet-limit=" + fleetLimit + ")");
        requireThat(cl, redis != null || fleetRate == 0,
                "--fleet-rate needs --redis (was --fleet-rate=" + fleetRate + ")");
        requireThat(cl, redis == null || fleetLimit > 0 || fleetRate > 0,
                "--redis needs --fleet-limit or --fleet-rate (was --redis=" + redis + ")");
        if (redis != null) {
            requireThat(cl, redis.startsWith("redis://") || redis.startsWith("rediss://"),
                    "--redis must be a redis://host:port URI, was " + redis);
            requireAccepted(cl, () -> RedisURI.create(redis),   // what GatewayServer connects with
                    "--redis must be a redis://host:port URI, was " + redis + ": ");
            // Lettuce reads port 0 as "no port" and connects to 6379: another Redis than the one named.
            requireThat(cl, java.net.URI.create(redis).getPort() != 0,
                    "--redis must be a redis://host:port URI with PORT in 1..65535, was " + redis);
        }
        requireThat(cl, fleetLease.toMillis() >= 100, "--fleet-lease must be >= 100ms, was " + fleetLease);
        requireThat(cl, redis != null || fleetWhenDown == FleetWhenDown.CLOSED,
                "--fleet-when-down=open needs --redis (it is what the fleet limits do when Redis is down)");
        if (upstream != null) {
            requireThat(cl, "http".equalsIgnoreCase(upstream.getScheme()) && upstream.getHost() != null
                            && (upstream.getPort() == -1 || upstream.getPort() >= 1 && upstream.getPort() <= 65535),
                    "--upstream must be an http://host[:port] URL with PORT in 1..65535, was " + upstream);
            // The backend calls <path>/items/{id}: anything else in the URL would be dropped silently.
            requireThat(cl, upstream.getRawQuery() == null && upstream.getRawFragment() == null
                            && upstream.getRawUserInfo() == null,
                    "--upstream must be http://host[:port][/path], without query, fragment or user info, was "
                            + upstream);
            requireThat(cl, backendCapacity == 0 && backendCapacitySchedule.isBlank(),
                    "--backend-capacity and --backend-capacity-schedule are for the simulated backend, not --upstream");
        }
        requireAtLeast(cl, "--backend-capacity", backendCapacity, 0, " (0 = unlimited)");
        requireAccepted(cl, () -> new SimulatedBackend(backendLatency, backendCapacity, backendCapacitySteps()),
                "--backend-capacity-schedule: ");
        requireAccepted(cl, this::adaptiveAlgorithm,
                "--limit must be fixed or adaptive[:vegas|gradient2|aimd], was '" + limit + "': ");
    }

    /** The {@code --db-probe} target as host and port. */
    String[] dbProbeAddress(CommandLine cl) {
        int colon = dbProbe.lastIndexOf(':');
        String host = colon > 0 ? dbProbe.substring(0, colon) : "";
        int p = -1;
        try {
            p = Integer.parseInt(dbProbe.substring(colon + 1));
        } catch (NumberFormatException ignored) {
            // reported below
        }
        requireThat(cl, !host.isEmpty() && p > 0 && p <= 65535,
                "--db-probe must be HOST:PORT with PORT in 1..65535, was '" + dbProbe + "'");
        return new String[] {host.replace("[", "").replace("]", ""), Integer.toString(p)};
    }

    /** The capacity steps of {@code --backend-capacity-schedule}. */
    List<SimulatedBackend.CapacityStep> backendCapacitySteps() {
        return SimulatedBackend.parseSchedule(backendCapacitySchedule);
    }

    /**
     * The algorithm of {@code --limit=adaptive[:ALG]}, or {@code null} for {@code fixed}.
     *
     * @throws IllegalArgumentException for anything else
     */
    AdaptiveAlgorithm adaptiveAlgorithm() {
        String l = limit == null ? "" : limit.trim().toLowerCase(Locale.ROOT);
        if (l.equals("fixed")) {
            return null;
        }
        if (l.equals("adaptive")) {
            return AdaptiveAlgorithm.VEGAS;
        }
        if (l.startsWith("adaptive:")) {
            return AdaptiveAlgorithm.parse(l.substring("adaptive:".length()));
        }
        throw new IllegalArgumentException("expected fixed, adaptive or adaptive:ALGORITHM");
    }

    /** The per-client rate's burst: {@code --per-client-burst}, or the rate for 0. */
    int effectivePerClientBurst() {
        return perClientBurst > 0 ? perClientBurst : (int) Math.min(Integer.MAX_VALUE, perClientRate);
    }

    /** The longest command timeout of the fleet limiters, and the shortest. */
    static final Duration REDIS_COMMAND_TIMEOUT_MAX = Duration.ofSeconds(2);
    static final Duration REDIS_COMMAND_TIMEOUT_MIN = Duration.ofMillis(50);

    /**
     * The fleet limiters' command timeout: 2 s, or with {@code --fleet-limit} half of
     * {@code --max-queue-wait} if that is less (at least 50 ms). A Redis that stops answering
     * without closing the connection is known only by this timeout; it must come before the end
     * of a fleet permit's wait, which would otherwise end first as a plain wait timeout (503
     * "waited too long"), and {@code --fleet-when-down=open} would never admit.
     */
    Duration redisCommandTimeout() {
        if (fleetLimit == 0 || maxQueueWait.isZero()) {
            return REDIS_COMMAND_TIMEOUT_MAX;       // no timed fleet wait to come first
        }
        Duration half = maxQueueWait.dividedBy(2);
        return half.compareTo(REDIS_COMMAND_TIMEOUT_MAX) > 0 ? REDIS_COMMAND_TIMEOUT_MAX
                : half.compareTo(REDIS_COMMAND_TIMEOUT_MIN) < 0 ? REDIS_COMMAND_TIMEOUT_MIN : half;
    }

    /** The fleet rate's burst: {@code --fleet-burst}, or the rate rounded up (at least 1) for 0. */
    int effectiveFleetBurst() {
        return fleetBurst > 0 ? fleetBurst : (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.ceil(fleetRate)));
    }

    /** The adaptive limit's maximum: {@code --max-concurrent}, or 1000 for 0. */
    int adaptiveMaxLimit() {
        return maxConcurrent == 0 ? 1000 : maxConcurrent;
    }

    /** The permits of the backend limiter: {@code --max-concurrent}, or unbounded for 0. */
    int effectivePermits() {
        return maxConcurrent == 0 ? Integer.MAX_VALUE : maxConcurrent;
    }

    /** {@code --max-connections}, or the default derived from the open-file limit for 0. */
    int effectiveMaxConnections() {
        if (maxConnections > 0) {
            return maxConnections;
        }
        int loops = ioThreads > 0 ? ioThreads : 2 * Runtime.getRuntime().availableProcessors();
        long upstreamConnections = upstream != null ? (long) upstreamPoolSize * loops : 0;
        return defaultMaxConnections(openFileLimit(), upstreamConnections);
    }

    /**
     * The default connection cap for a process allowed {@code fdLimit} open files (0 or less:
     * unknown) that may open {@code upstreamConnections} to its upstream: the limit minus those
     * and 128 for everything else (listening socket, probes, jars, logs), at least 16; 10,000 when
     * the limit is unknown.
     */
    static int defaultMaxConnections(long fdLimit, long upstreamConnections) {
        if (fdLimit <= 0) {
            return 10_000;
        }
        return (int) Math.min(Integer.MAX_VALUE, Math.max(16, fdLimit - 128 - upstreamConnections));
    }

    /** The process's open-file limit ({@code ulimit -n}), or -1 where the JVM cannot tell. */
    static long openFileLimit() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            return unix.getMaxFileDescriptorCount();
        }
        return -1;
    }

    private static void requireThat(CommandLine cl, boolean ok, String message) {
        if (!ok) {
            throw new CommandLine.ParameterException(cl, message);
        }
    }

    /** Refuses {@code value} outside {@code min..max}: "FLAG must be in MIN..MAX{note}, was VALUE". */
    private static void requireIn(CommandLine cl, String flag, long value, long min, long max, String note) {
        requireThat(cl, value >= min && value <= max, flag + " must be in " + min + ".." + max + note + ", was " + value);
    }

    /** Refuses {@code value} under {@code min}: "FLAG must be >= MIN{note}, was VALUE". */
    private static void requireAtLeast(CommandLine cl, String flag, long value, long min, String note) {
        requireThat(cl, value >= min, flag + " must be >= " + min + note + ", was " + value);
    }

    /** Refuses a duration under 1 ms: "FLAG must be > 0, was VALUE". */
    private static void requirePositive(CommandLine cl, String flag, Duration value) {
        requireThat(cl, value.toMillis() > 0, flag + " must be > 0, was " + value);
    }

    /**
     * Runs {@code check}, which builds what the flags describe the way the server will; its
     * {@link IllegalArgumentException} is refused as "{prefix}{its message}".
     */
    private static void requireAccepted(CommandLine cl, Runnable check, String prefix) {
        try {
            check.run();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, prefix + e.getMessage());
        }
    }

    /** One line for the startup log. */
    String summary() {
        return "transport=" + transport.name().toLowerCase(Locale.ROOT)
                + ", db=" + (dbProbe != null ? "tcp-probe " + dbProbe + " every " + DurationConverter.format(dbProbeInterval)
                        : "simulated, ready after " + DurationConverter.format(dbReadyDelay))
                + ", before-ready=" + beforeReady.name().toLowerCase(Locale.ROOT)
                + (beforeReady == BeforeReady.WAIT ? " (max " + DurationConverter.format(readyWaitTimeout) + ")" : "")
                + ", backend=" + (upstream != null ? "upstream " + upstream + " (pool " + upstreamPoolSize + "/loop)"
                        : "simulated, latency " + DurationConverter.format(backendLatency)
                                + (backendCapacity == 0 ? "" : ", capacity " + backendCapacity)
                                + (backendCapacitySchedule.isBlank() ? "" : ", then " + backendCapacitySchedule))
                + ", backend-timeout=" + DurationConverter.format(backendTimeout)
                + ", limit=" + limit.trim().toLowerCase(Locale.ROOT)
                + ", max-concurrent=" + (maxConcurrent == 0 ? (adaptiveAlgorithm() != null ? "1000" : "unlimited")
                        : Integer.toString(maxConcurrent))
                + ", max-queue=" + maxQueue
                + ", max-queue-wait=" + DurationConverter.format(maxQueueWait)
                + (perClientRate == 0 ? "" : ", per-client-rate=" + perClientRate + "/s (burst " + effectivePerClientBurst()
                        + ", max-keys " + perClientMaxKeys + ", client from "
                        + (trustForwardedFor ? "X-Forwarded-For" : "the peer address") + ")")
                + ", max-connections=" + effectiveMaxConnections() + (maxConnections == 0 ? " (from the open-file limit)" : "")
                + ", drain-timeout=" + DurationConverter.format(drainTimeout)
                + ", idle-timeout=" + DurationConverter.format(idleTimeout)
                + ", request-read-timeout=" + DurationConverter.format(requestReadTimeout);
    }
}
