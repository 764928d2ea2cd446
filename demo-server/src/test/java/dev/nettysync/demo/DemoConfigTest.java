package dev.nettysync.demo;

import dev.nettysync.adaptive.AdaptiveAlgorithm;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.net.URI;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Flags, defaults, validation and --help. */
class DemoConfigTest {

    @Test
    void defaultsAreTheDocumentedOnes() {
        DemoConfig c = DemoConfig.parse();
        assertThat(c.port).isEqualTo(8080);
        assertThat(c.host).isEqualTo("0.0.0.0");
        assertThat(c.transport).isEqualTo(DemoConfig.Transport.AUTO);
        assertThat(c.dbReadyDelay).isEqualTo(Duration.ofSeconds(2));
        assertThat(c.dbProbe).isNull();
        assertThat(c.beforeReady).isEqualTo(DemoConfig.BeforeReady.WAIT);
        assertThat(c.readyWaitTimeout).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.backendLatency).isEqualTo(Duration.ofMillis(20));
        assertThat(c.upstream).isNull();
        assertThat(c.maxConcurrent).isEqualTo(16);
        assertThat(c.maxQueue).isEqualTo(256);
        assertThat(c.maxQueueWait).isEqualTo(Duration.ofSeconds(1));
        assertThat(c.drainTimeout).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.maxBody).isEqualTo(65536);
        assertThat(c.idleTimeout).isEqualTo(Duration.ofSeconds(60));
        assertThat(c.requestReadTimeout).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void flagsOverrideDefaultsAndTheLastOneWins() {
        DemoConfig c = DemoConfig.parse("--port=0", "--before-ready=REJECT", "--backend-latency=0",
                "--max-concurrent=0", "--upstream=http://127.0.0.1:9000", "--max-queue-wait=PT0.25S",
                "--port=9", "--transport=nio");
        assertThat(c.port).isEqualTo(9);
        assertThat(c.beforeReady).isEqualTo(DemoConfig.BeforeReady.REJECT);
        assertThat(c.backendLatency).isZero();
        assertThat(c.effectivePermits()).isEqualTo(Integer.MAX_VALUE);
        assertThat(c.upstream).isEqualTo(URI.create("http://127.0.0.1:9000"));
        assertThat(c.maxQueueWait).isEqualTo(Duration.ofMillis(250));
        assertThat(c.transport).isEqualTo(DemoConfig.Transport.NIO);
    }

    @Test
    void anUnresolvableHostIsABadFlag() {
        assertThatThrownBy(() -> DemoConfig.parse("--host=bogus.invalid"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--host").hasMessageContaining("bogus.invalid");
        assertThatThrownBy(() -> DemoConfig.parse("--host=999.1.1.1")).hasMessageContaining("--host");
        assertThat(DemoConfig.parse("--host=localhost").host).isEqualTo("localhost");
        assertThat(DemoConfig.parse("--host=::1").host).isEqualTo("::1");
        assertThat(DemoConfig.parse("--host=127.0.0.1").host).isEqualTo("127.0.0.1");
    }

    @Test
    void maxBodyIsCappedAt64MiB() {
        assertThat(DemoConfig.parse("--max-body=" + (64 << 20)).maxBody).isEqualTo(64 << 20);
        assertThatThrownBy(() -> DemoConfig.parse("--max-body=" + ((64 << 20) + 1)))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--max-body must be in 0..67108864");
        assertThatThrownBy(() -> DemoConfig.parse("--max-body=2147483647")).hasMessageContaining("--max-body");
    }

    /** {@code args} parse; one flag at its bound. */
    private static void accepted(String... args) {
        DemoConfig.parse(args);
    }

    /** {@code args} are refused as a bad flag whose message says {@code message}. */
    private static void refused(String message, String... args) {
        assertThatThrownBy(() -> DemoConfig.parse(args)).as(String.join(" ", args))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessage(message);
    }

    @Test
    void everyBoundIsItsOwnFlagsAcceptedAtItAndRefusedPastItNamingFlagAndValue() {
        accepted("--port=0");
        accepted("--port=65535");
        refused("--port must be in 0..65535, was -1", "--port=-1");
        refused("--port must be in 0..65535, was 65536", "--port=65536");
        accepted("--io-threads=0");
        accepted("--io-threads=1024");
        refused("--io-threads must be in 0..1024, was -1", "--io-threads=-1");
        refused("--io-threads must be in 0..1024, was 1025", "--io-threads=1025");
        accepted("--max-connections=0");
        refused("--max-connections must be >= 0 (0 = from the open-file limit), was -1", "--max-connections=-1");
        accepted("--max-queue=0");
        refused("--max-queue must be >= 0, was -1", "--max-queue=-1");
        accepted("--per-client-rate=1000000000");
        refused("--per-client-rate must be in 0..1000000000 per second, was 1000000001", "--per-client-rate=1000000001");
        refused("--per-client-rate must be in 0..1000000000 per second, was -1", "--per-client-rate=-1");
        refused("--per-client-burst must be >= 0 (0 = the rate), was -1", "--per-client-rate=1", "--per-client-burst=-1");
        accepted("--per-client-max-keys=1");
        refused("--per-client-max-keys must be >= 1, was 0", "--per-client-max-keys=0");
        accepted("--retry-after=0");
        accepted("--retry-after=86400");
        refused("--retry-after must be in 0..86400 seconds, was -1", "--retry-after=-1");
        refused("--retry-after must be in 0..86400 seconds, was 86401", "--retry-after=86401");
        accepted("--upstream-pool-size=1");
        accepted("--upstream-pool-size=10000");
        refused("--upstream-pool-size must be in 1..10000, was 0", "--upstream-pool-size=0");
        refused("--upstream-pool-size must be in 1..10000, was 10001", "--upstream-pool-size=10001");
        accepted("--max-initial-line=64");
        refused("--max-initial-line must be >= 64, was 63", "--max-initial-line=63");
        accepted("--max-header-size=256");
        refused("--max-header-size must be >= 256, was 255", "--max-header-size=255");
        accepted("--max-body=0");
        refused("--max-body must be in 0..67108864 bytes (64 MiB: a body is held whole in memory until its request "
                + "is answered), was -1", "--max-body=-1");
        for (String flag : new String[] {"--idle-timeout", "--request-read-timeout", "--backend-timeout",
                "--db-probe-interval", "--db-probe-connect-timeout"}) {
            accepted(flag + "=1ms");
            refused(flag + " must be > 0, was PT0S", flag + "=0");
        }
        accepted("--backend-capacity=0");
        refused("--backend-capacity must be >= 0 (0 = unlimited), was -1", "--backend-capacity=-1");
        accepted("--fleet-limit=0");
        refused("--fleet-limit must be >= 0 (0 = off), was -1", "--fleet-limit=-1");
        accepted("--fleet-lease=100ms");
        refused("--fleet-lease must be >= 100ms, was PT0.099S", "--fleet-lease=99ms");
        String redis = "--redis=redis://127.0.0.1:6379";
        accepted(redis, "--fleet-rate=1", "--fleet-burst=1000000000");
        refused("--fleet-burst must be in 0..1000000000 (0 = the rate), was 1000000001",
                redis, "--fleet-rate=1", "--fleet-burst=1000000001");
        refused("--fleet-burst must be in 0..1000000000 (0 = the rate), was -1", redis, "--fleet-rate=1", "--fleet-burst=-1");
        accepted(redis, "--fleet-limit=1", "--fleet-when-down=open");
        refused("--fleet-when-down=open needs --redis (it is what the fleet limits do when Redis is down)",
                "--fleet-when-down=open");
    }

    @Test
    void aDatabaseProbeIsHostColonPortWithThePortIn1To65535() {
        DemoConfig c = DemoConfig.parse("--db-probe=db.internal:5432");
        assertThat(c.dbProbeAddress(DemoConfig.newCommandLine(c))).containsExactly("db.internal", "5432");
        c = DemoConfig.parse("--db-probe=[::1]:65535");
        assertThat(c.dbProbeAddress(DemoConfig.newCommandLine(c))).containsExactly("::1", "65535");
        c = DemoConfig.parse("--db-probe=h:1");
        assertThat(c.dbProbeAddress(DemoConfig.newCommandLine(c))).containsExactly("h", "1");
        for (String bad : new String[] {"db:0", "db:65536", ":5432", "db", "db:", "db:x"}) {
            refused("--db-probe must be HOST:PORT with PORT in 1..65535, was '" + bad + "'", "--db-probe=" + bad);
        }
    }

    @Test
    void theAdaptiveLimitsMaximumIsMaxConcurrentOr1000ForNoLimit() {
        assertThat(DemoConfig.parse("--limit=adaptive", "--max-concurrent=0").adaptiveMaxLimit()).isEqualTo(1000);
        assertThat(DemoConfig.parse("--limit=adaptive", "--max-concurrent=7").adaptiveMaxLimit()).isEqualTo(7);
        assertThat(DemoConfig.parse("--limit=adaptive").adaptiveAlgorithm()).isEqualTo(AdaptiveAlgorithm.VEGAS);
        assertThat(DemoConfig.parse("--limit= Adaptive:AIMD ").adaptiveAlgorithm()).isEqualTo(AdaptiveAlgorithm.AIMD);
        assertThat(DemoConfig.parse("--limit=fixed").adaptiveAlgorithm()).isNull();
        refused("--limit must be fixed or adaptive[:vegas|gradient2|aimd], was 'adaptivex': "
                + "expected fixed, adaptive or adaptive:ALGORITHM", "--limit=adaptivex");
    }

    @Test
    void badValuesAreRefusedWithTheFlagNamed() {
        assertThatThrownBy(() -> DemoConfig.parse("--max-queue-wait=soon"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("not a duration");
        assertThatThrownBy(() -> DemoConfig.parse("--max-concurrent=-1"))
                .hasMessageContaining("--max-concurrent must be >= 0");
        assertThatThrownBy(() -> DemoConfig.parse("--port=70000")).hasMessageContaining("--port");
        assertThatThrownBy(() -> DemoConfig.parse("--upstream=ftp://x")).hasMessageContaining("--upstream");
        assertThatThrownBy(() -> DemoConfig.parse("--idle-timeout=0")).hasMessageContaining("--idle-timeout");
        assertThatThrownBy(() -> DemoConfig.parse("--no-such-flag")).isInstanceOf(CommandLine.UnmatchedArgumentException.class);
    }

    @Test
    void malformedUpstreamAndRedisAddressesAreRefusedAsBadFlagsNotAtStartUp() {
        // These passed validation and then failed in GatewayServer's constructor with an
        // IllegalArgumentException: exit 1 "cannot start: java.lang.IllegalArgumentException: ..."
        // instead of the documented exit 2 naming the flag.
        for (String upstream : new String[] {"http://127.0.0.1:99999", "http://127.0.0.1:0"}) {
            assertThatThrownBy(() -> DemoConfig.parse("--upstream=" + upstream)).as(upstream)
                    .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--upstream");
        }
        for (String redis : new String[] {"redis://", "redis://127.0.0.1:99999", "redis://ho st:6379"}) {
            assertThatThrownBy(() -> DemoConfig.parse("--redis=" + redis, "--fleet-limit=1")).as(redis)
                    .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--redis");
        }
        assertThat(DemoConfig.parse("--upstream=http://127.0.0.1:9000/base").upstream.getPort()).isEqualTo(9000);
        assertThat(DemoConfig.parse("--upstream=http://localhost").upstream.getPort()).isEqualTo(-1);
        assertThat(DemoConfig.parse("--redis=redis://127.0.0.1:6379", "--fleet-limit=1").redis)
                .isEqualTo("redis://127.0.0.1:6379");
    }

    @Test
    void aTlsRedisAndAnUpstreamOnEitherEndOfThePortRangeAreAccepted() {
        assertThat(DemoConfig.parse("--redis=rediss://127.0.0.1:6380", "--fleet-limit=1").redis)
                .isEqualTo("rediss://127.0.0.1:6380");
        // Lettuce takes a Sentinel URI too, and would ask the Sentinel for a master: not what the flag says.
        assertThatThrownBy(() -> DemoConfig.parse("--redis=redis-sentinel://127.0.0.1:26379#m", "--fleet-limit=1"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessage("--redis must be a redis://host:port URI, was redis-sentinel://127.0.0.1:26379#m");
        assertThat(DemoConfig.parse("--upstream=http://127.0.0.1:1").upstream.getPort()).isEqualTo(1);
        assertThat(DemoConfig.parse("--upstream=http://127.0.0.1:65535").upstream.getPort()).isEqualTo(65535);
    }

    @Test
    void anEmptyHostAndAnUpstreamWithPartsTheBackendWouldDropAreRefused() {
        // Before: --host= bound the loopback address and logged "listening on http://:PORT";
        // an --upstream query, fragment or user info was accepted and silently dropped (the
        // backend calls <path>/items/{id} only).
        for (String host : new String[] {"", " "}) {
            assertThatThrownBy(() -> DemoConfig.parse("--host=" + host)).as("'%s'", host)
                    .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--host");
        }
        for (String upstream : new String[] {"http://h:9000/base?x=1", "http://h:9000/#top", "http://user:pw@h:9000"}) {
            assertThatThrownBy(() -> DemoConfig.parse("--upstream=" + upstream)).as(upstream)
                    .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--upstream");
        }
        assertThat(DemoConfig.parse("--upstream=http://h:9000/base/").upstream.getPath()).isEqualTo("/base/");
        assertThat(DemoConfig.parse("--host=::1").host).isEqualTo("::1");
    }

    @Test
    void aPerClientRateAndBurstTheRateLimiterCannotHoldAreRefusedUpFront() {
        // Accepted before: the per-client AsyncRateLimiter is built lazily, at a client's first
        // request for an item, on the event loop, where its IllegalArgumentException (burst x
        // interval over 2^60 ns) closed every such connection without an answer.
        assertThatThrownBy(() -> DemoConfig.parse("--per-client-rate=1", "--per-client-burst=2000000000"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--per-client-burst");
        assertThat(ClientRateLimit.of(DemoConfig.parse("--per-client-rate=1", "--per-client-burst=1000000000")))
                .isNotNull();
        assertThat(DemoConfig.parse("--per-client-rate=1000000000", "--per-client-burst=2000000000").perClientBurst)
                .isEqualTo(2_000_000_000);
    }

    @Test
    void absurdFleetRatesAreRefusedWithTheFlagNamed() {
        // Before: 1e-300 (an emission interval of 1e306 us: the Redis script's key expiry
        // overflowed and every request got 503 "Redis error") and 1e9 (an interval of 0.001 us,
        // rounded to 0 in the stored TAT: no limit at all) were accepted.
        String redis = "--redis=redis://127.0.0.1:6379";
        for (String rate : new String[] {"1e-300", "4.9e-324", "0x1p-1074", "0.00001", "NaN", "Infinity", "-Infinity",
                "-1", "1e9", "1000001", "1e300"}) {
            assertThatThrownBy(() -> DemoConfig.parse(redis, "--fleet-rate=" + rate)).as(rate)
                    .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-rate");
        }
        assertThat(DemoConfig.parse(redis, "--fleet-rate=0.0000116").fleetRate).as("one a day, about").isEqualTo(0.0000116);
        assertThat(DemoConfig.parse(redis, "--fleet-rate=1000000").fleetRate).isEqualTo(1_000_000d);
        assertThat(DemoConfig.parse(redis, "--fleet-rate=" + DemoConfig.MIN_FLEET_RATE).fleetRate).as("exactly one a day")
                .isEqualTo(DemoConfig.MIN_FLEET_RATE);
        assertThat(DemoConfig.parse(redis, "--fleet-rate=0.5").effectiveFleetBurst()).isEqualTo(1);
        assertThat(DemoConfig.parse(redis, "--fleet-limit=1", "--fleet-rate=0").fleetRate).as("0 = off").isZero();
        // burst x interval is how far the TAT can run ahead: at one a day, 2e9 would take the key's
        // expiry past what the script can pass to Redis (an integer under 1e17 ms).
        assertThatThrownBy(() -> DemoConfig.parse(redis, "--fleet-rate=0.0000116", "--fleet-burst=2000000000"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-burst");
        // ... and a burst the Redis limiter cannot refill within 2^60 ns is a bad flag, not a
        // start-up failure (exit 1) as it was.
        assertThatThrownBy(() -> DemoConfig.parse(redis, "--fleet-rate=0.0000116", "--fleet-burst=1000000000"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-burst 1000000000");
        assertThatThrownBy(() -> DemoConfig.parse(redis, "--fleet-rate=0.0000116", "--fleet-burst=14000"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("2^60 ns");
        assertThat(DemoConfig.parse(redis, "--fleet-rate=0.0000116", "--fleet-burst=13000").fleetBurst).isEqualTo(13_000);
        // exactly 2^60 ns: 16384 requests, one every 2^46 ns (the rate is exact in a double)
        String exact = "--fleet-rate=" + 1e9 / 0x1p46;
        assertThat(DemoConfig.parse(redis, exact, "--fleet-burst=16384").fleetBurst).as("at the bound").isEqualTo(16_384);
        assertThatThrownBy(() -> DemoConfig.parse(redis, exact, "--fleet-burst=16385"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("2^60 ns");
        assertThat(DemoConfig.parse(redis, "--fleet-rate=1000000", "--fleet-burst=1000000000").fleetBurst)
                .isEqualTo(1_000_000_000);
    }

    @Test
    void aRedisPortOfZeroIsABadFlagNotTheDefaultPort() {
        // Before: accepted, and Lettuce took port 0 for "no port": the instance connected to
        // 127.0.0.1:6379, another Redis than the one named (or failed naming 6379).
        assertThatThrownBy(() -> DemoConfig.parse("--redis=redis://127.0.0.1:0", "--fleet-limit=1"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--redis").hasMessageContaining("1..65535");
        assertThat(DemoConfig.parse("--redis=redis://127.0.0.1", "--fleet-limit=1").redis)
                .as("no port: Redis's own 6379, as every redis:// URI").isEqualTo("redis://127.0.0.1");
        assertThat(DemoConfig.parse("--redis=redis://127.0.0.1:1", "--fleet-limit=1").redis).isEqualTo("redis://127.0.0.1:1");
    }

    @Test
    void theStartupSummaryShowsThePerClientRateWhenItIsOn() {
        // Before: the listening line named every admission setting but this one, so nothing in the
        // log said whether a per-client limit was in effect.
        assertThat(DemoConfig.parse("--per-client-rate=5", "--per-client-burst=7", "--trust-forwarded-for").summary())
                .contains(", per-client-rate=5/s (burst 7, max-keys 100000, client from X-Forwarded-For),");
        assertThat(DemoConfig.parse("--per-client-rate=5").summary())
                .contains(", per-client-rate=5/s (burst 5, max-keys 100000, client from the peer address),");
        assertThat(DemoConfig.parse().summary()).doesNotContain("per-client");
    }

    @Test
    void theStartupSummaryNamesEachSettingAsTheServerUsesIt() {
        assertThat(DemoConfig.parse("--max-connections=50").summary()).isEqualTo("transport=auto, "
                + "db=simulated, ready after 2s, before-ready=wait (max 5s), backend=simulated, latency 20ms, "
                + "backend-timeout=2s, limit=fixed, max-concurrent=16, max-queue=256, max-queue-wait=1s, "
                + "max-connections=50, drain-timeout=10s, idle-timeout=60s, request-read-timeout=10s");
        assertThat(DemoConfig.parse("--transport=nio", "--db-probe=localhost:5432", "--db-probe-interval=250ms",
                "--before-ready=reject", "--upstream=http://127.0.0.1:9000", "--upstream-pool-size=8",
                "--backend-timeout=3s", "--limit=adaptive", "--max-concurrent=0", "--max-queue=5", "--max-queue-wait=0",
                "--max-connections=100", "--drain-timeout=1500ms", "--idle-timeout=2s",
                "--request-read-timeout=500ms").summary()).isEqualTo("transport=nio, "
                + "db=tcp-probe localhost:5432 every 250ms, before-ready=reject, "
                + "backend=upstream http://127.0.0.1:9000 (pool 8/loop), backend-timeout=3s, limit=adaptive, "
                + "max-concurrent=1000, max-queue=5, max-queue-wait=0s, max-connections=100, drain-timeout=1500ms, "
                + "idle-timeout=2s, request-read-timeout=500ms");
        DemoConfig derived = DemoConfig.parse("--max-concurrent=0", "--backend-capacity=4",
                "--backend-capacity-schedule=20s:16", "--io-threads=2");
        assertThat(derived.summary())
                .contains(", backend=simulated, latency 20ms, capacity 4, then 20s:16, ")
                .contains(", max-concurrent=unlimited, ")
                .contains(", max-connections=" + DemoConfig.defaultMaxConnections(DemoConfig.openFileLimit(), 0)
                        + " (from the open-file limit), ");
    }

    @Test
    void theRedisCommandTimeoutComesBeforeTheEndOfAFleetPermitsWait() {
        String redis = "--redis=redis://127.0.0.1:6379";
        assertThat(DemoConfig.parse(redis, "--fleet-limit=1").redisCommandTimeout()).as("default wait 1s")
                .isEqualTo(Duration.ofMillis(500));
        assertThat(DemoConfig.parse(redis, "--fleet-limit=1", "--max-queue-wait=20s").redisCommandTimeout())
                .isEqualTo(Duration.ofSeconds(2));
        assertThat(DemoConfig.parse(redis, "--fleet-limit=1", "--max-queue-wait=60ms").redisCommandTimeout())
                .isEqualTo(Duration.ofMillis(50));
        assertThat(DemoConfig.parse(redis, "--fleet-limit=1", "--max-queue-wait=0").redisCommandTimeout())
                .as("now or never: no timed wait").isEqualTo(Duration.ofSeconds(2));
        assertThat(DemoConfig.parse(redis, "--fleet-rate=10").redisCommandTimeout()).as("no fleet permit to wait for")
                .isEqualTo(Duration.ofSeconds(2));
    }

    @Test
    void aPerClientBurstWithoutAPerClientRateIsABadFlag() {
        // Before: accepted and ignored (no per-client limit at all), while --fleet-burst without
        // --fleet-rate was refused.
        assertThatThrownBy(() -> DemoConfig.parse("--per-client-burst=50"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--per-client-burst needs --per-client-rate");
        assertThat(DemoConfig.parse("--per-client-rate=5", "--per-client-burst=50").perClientBurst).isEqualTo(50);
        assertThat(DemoConfig.parse("--per-client-burst=0").perClientBurst).as("0 = the rate: nothing to refuse").isZero();
    }

    @Test
    void aCapacityScheduleWithABadTimeIsRefusedAsABadFlag() {
        // Before: "soon:4" was accepted (the unparsable time became a null step), and the first
        // backend call failed with a NullPointerException: every request for an item got 502.
        // "soon:4,10s:8" escaped validation as a NullPointerException (a stack trace, exit 1);
        // a negative or absurd time was accepted too (toNanos overflowing at the first call).
        for (String schedule : new String[] {"soon:4", "soon:4,10s:8", "-5s:4", "3000000h:4", "PT2600000H:4"}) {
            assertThatThrownBy(() -> DemoConfig.parse("--backend-capacity-schedule=" + schedule)).as(schedule)
                    .isInstanceOf(CommandLine.ParameterException.class)
                    .hasMessageContaining("--backend-capacity-schedule");
        }
        assertThat(DemoConfig.parse("--backend-capacity-schedule=20s:16, 40s:32").backendCapacitySteps())
                .containsExactly(new SimulatedBackend.CapacityStep(Duration.ofSeconds(20), 16),
                        new SimulatedBackend.CapacityStep(Duration.ofSeconds(40), 32));
    }

    @Test
    void durationsThatWouldOverflowAreRefusedUpFrontForEveryDurationFlag() {
        DemoConfig c = new DemoConfig();
        for (CommandLine.Model.OptionSpec option : DemoConfig.newCommandLine(c).getCommandSpec().options()) {
            if (option.type() != Duration.class) {
                continue;
            }
            String flag = option.longestName();
            assertThatThrownBy(() -> DemoConfig.parse(flag + "=PT2600000H")).as(flag)
                    .isInstanceOf(CommandLine.ParameterException.class)
                    .hasMessageContaining(flag).hasMessageContaining("too long").hasMessageContaining("24h");
            assertThatThrownBy(() -> DemoConfig.parse(flag + "=9223372036854775807h")).as(flag)
                    .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining(flag);
            assertThat(DemoConfig.parse(flag + "=24h").toString()).as(flag + " at the maximum").isNotNull();
        }
        assertThatThrownBy(() -> DemoConfig.parse("--retry-after=1000000")).hasMessageContaining("--retry-after");
        assertThatThrownBy(() -> DemoConfig.parse("--io-threads=100000")).hasMessageContaining("--io-threads");
        assertThatThrownBy(() -> DemoConfig.parse("--max-connections=-1")).hasMessageContaining("--max-connections");
    }

    @Test
    void helpListsEveryFlagWithItsEnvironmentVariable() {
        DemoConfig c = new DemoConfig();
        CommandLine cl = DemoConfig.newCommandLine(c);
        String usage = cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
        for (CommandLine.Model.OptionSpec option : cl.getCommandSpec().options()) {
            String name = option.longestName();
            assertThat(usage).contains(name);
            if (!name.equals("--help") && !name.equals("--version")) {
                String env = "DEMO_" + name.substring(2).replace('-', '_').toUpperCase();
                assertThat(String.join(" ", option.description())).as(name).contains("env " + env);
                assertThat(declaredDefault(name)).as(name + "'s default").startsWith("${env:" + env);
            }
        }
    }

    /** The default as written in the annotation, before picocli interpolates it. */
    private static String declaredDefault(String optionName) {
        for (java.lang.reflect.Field f : DemoConfig.class.getFields()) {
            CommandLine.Option o = f.getAnnotation(CommandLine.Option.class);
            if (o != null && java.util.Arrays.asList(o.names()).contains(optionName)) {
                return o.defaultValue();
            }
        }
        throw new AssertionError("no field for " + optionName);
    }

    @Test
    void durationsParseAndFormat() {
        DurationConverter conv = new DurationConverter();
        assertThat(conv.convert("250ms")).isEqualTo(Duration.ofMillis(250));
        assertThat(conv.convert("2s")).isEqualTo(Duration.ofSeconds(2));
        assertThat(conv.convert("1m")).isEqualTo(Duration.ofMinutes(1));
        assertThat(conv.convert("0")).isZero();
        assertThat(DurationConverter.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
        assertThat(DurationConverter.format(Duration.ofSeconds(3))).isEqualTo("3s");
        assertThatThrownBy(() -> conv.convert("-1s")).isInstanceOf(CommandLine.TypeConversionException.class);
    }

    @Test
    void itemIdsAreValidated() {
        assertThat(GatewayHandler.validId("abc-DEF_123")).isTrue();
        assertThat(GatewayHandler.validId("")).isFalse();
        assertThat(GatewayHandler.validId("a/b")).isFalse();
        assertThat(GatewayHandler.validId("x".repeat(65))).isFalse();
    }
}
