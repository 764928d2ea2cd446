package dev.nettysync.demo;

import dev.nettysync.redis.RedisServer;
import dev.nettysync.redis.RedisServerExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import picocli.CommandLine;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The fleet limits when Redis goes away (redis-server killed, port closed) and comes back empty:
 * prompt 503s that say why (closed, the default) or admission under the local limits only
 * (open); the other routes keep answering; after the restart requests are admitted again and
 * the fleet's count in the new server is right (permits held across the restart do not touch it).
 */
@ExtendWith(RedisServerExtension.class)
class FleetRedisDownTest {

    private static final String UNAVAILABLE = "fleet limit unavailable: Redis unreachable";
    private static final String USED_KEY = "nsync:sem:{demo-backend}:used";

    private RedisServer redis;
    private GatewayServer a;

    @BeforeEach
    void emptyRedis(RedisServer redis) {
        this.redis = redis;
        withRedis(c -> c.sync().flushall());
    }

    @AfterEach
    void tearDown() throws Exception {
        if (!redis.isRunning()) {
            redis.startAgain();
        }
        stop(a);
    }

    private void withRedis(java.util.function.Consumer<StatefulRedisConnection<String, String>> action) {
        RedisClient client = RedisClient.create(redis.uri());
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            action.accept(c);
        } finally {
            client.shutdown();
        }
    }

    /** Permits in use in the fleet semaphore, as the (new) server counts them. */
    private long used() {
        long[] used = new long[1];
        withRedis(c -> {
            String v = c.sync().get(USED_KEY);
            used[0] = v == null ? 0 : Long.parseLong(v);
        });
        return used[0];
    }

    /** A GET that must be answered fast; returns the response. */
    private HttpResponse<String> fastGet(String path, long withinMillis) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<String> r = get(a, path);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("%s answered promptly", path)
                .isLessThan(withinMillis);
        return r;
    }

    private static void assertUnavailable(HttpResponse<String> r) {
        assertThat(r.statusCode()).as("status of %s", r.body()).isEqualTo(503);
        assertThat(r.body().trim()).isEqualTo(UNAVAILABLE);
        assertThat(r.headers().firstValue("retry-after")).hasValue("1");
    }

    @Test
    void fleetLimitFailsClosedWhileRedisIsDownAndCountsRightAfterAnEmptyRestart() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        a = start(backend, null, "--redis=" + redis.uri(), "--fleet-limit=2", "--max-concurrent=8",
                "--max-queue=100", "--max-queue-wait=20s", "--backend-timeout=60s");
        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        held.add(getAsync(a, "/api/items/held1"));
        held.add(getAsync(a, "/api/items/held2"));
        awaitTrue("2 backend calls open", () -> backend.open.size() == 2);
        List<CompletableFuture<HttpResponse<String>>> queued = new ArrayList<>();
        queued.add(getAsync(a, "/api/items/queued1"));
        queued.add(getAsync(a, "/api/items/queued2"));
        awaitTrue("both fleet permits taken, the other two wait", () -> metricOrZero("demo_fleet_redis_connected") == 1
                && used() == 2);
        Thread.sleep(200);
        assertThat(backend.open).hasSize(2);

        long killed = System.nanoTime();
        redis.stop();

        // The requests queued for a fleet permit: 503 at once, not after --max-queue-wait (20 s).
        for (CompletableFuture<HttpResponse<String>> q : queued) {
            assertUnavailable(q.get(PATIENCE.toSeconds(), TimeUnit.SECONDS));
        }
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed)).as("queued ones answered")
                .isLessThan(2_500);
        // New requests: 503 at once, with the reason; other routes keep answering, loops are free.
        for (int i = 0; i < 3; i++) {
            assertUnavailable(fastGet("/api/items/during" + i, 1_000));
        }
        assertThat(fastGet("/livez", 1_000).statusCode()).isEqualTo(200);
        assertThat(fastGet("/readyz", 1_000).statusCode()).as("readiness is not Redis's").isEqualTo(200);
        String metrics = fastGet("/metrics", 1_000).body();
        assertThat(metrics).contains("demo_fleet_redis_connected 0.0")
                .containsPattern("demo_fleet_unavailable_total\\{decision=\"refused\",limit=\"concurrency\"} [5-9]");
        assertThat(backend.calls).as("no backend call without a fleet permit").hasValue(2);

        // A call admitted before the outage ends during it: its release cannot reach Redis, quietly.
        assertThat(backend.answerOne()).isTrue();
        assertThat(((HttpResponse<?>) CompletableFuture.anyOf(held.toArray(CompletableFuture[]::new))
                .get(PATIENCE.toSeconds(), TimeUnit.SECONDS)).statusCode()).isEqualTo(200);

        redis.startAgain();                        // empty: both leases are gone
        awaitTrue("reconnected (the demo caps Lettuce's reconnect delay at 1 s)",
                () -> metricOrZero("demo_fleet_redis_connected") == 1);
        CompletableFuture<HttpResponse<String>> after = getAsync(a, "/api/items/after");
        awaitTrue("admitted again after the restart", () -> backend.open.size() == 2);
        assertThat(used()).as("the new server counts the new call only").isEqualTo(1);

        // The call held across the restart ends: its lease is unknown to the new server, nothing changes.
        assertThat(backend.answerOne()).isTrue();     // the oldest open call: the other held one
        assertAllAnswered(200, held);
        Thread.sleep(200);
        assertThat(used()).isEqualTo(1);
        // and the fleet limit holds again: two more requests, one gets the second permit, one waits
        CompletableFuture<HttpResponse<String>> more1 = getAsync(a, "/api/items/more1");
        CompletableFuture<HttpResponse<String>> more2 = getAsync(a, "/api/items/more2");
        awaitTrue("the second permit taken", () -> backend.open.size() == 2);
        Thread.sleep(300);
        assertThat(backend.open).as("the fleet limit of 2").hasSize(2);
        while (backend.calls.get() < 5 || !backend.open.isEmpty()) {
            awaitTrue("a call is open", () -> !backend.open.isEmpty());
            backend.answerOne();
        }
        assertAllAnswered(200, List.of(after, more1, more2));
        awaitTrue("every fleet permit back", () -> used() == 0);
    }

    @Test
    void fleetRateFailsClosedWhileRedisIsDownAndAdmitsAgainAfterTheRestart() throws Exception {
        a = start("--redis=" + redis.uri(), "--fleet-rate=1000", "--fleet-burst=100");
        assertThat(get(a, "/api/items/before").statusCode()).isEqualTo(200);
        redis.stop();
        awaitTrue("the demo sees Redis down", () -> metricOrZero("demo_fleet_redis_connected") == 0);
        for (int i = 0; i < 3; i++) {
            assertUnavailable(fastGet("/api/items/during" + i, 1_000));
        }
        assertThat(fastGet("/livez", 1_000).statusCode()).isEqualTo(200);
        assertThat(fastGet("/metrics", 1_000).body())
                .containsPattern("demo_fleet_unavailable_total\\{decision=\"refused\",limit=\"rate\"} [3-9]");
        redis.startAgain();
        awaitTrue("reconnected", () -> metricOrZero("demo_fleet_redis_connected") == 1);
        assertThat(get(a, "/api/items/after").statusCode()).isEqualTo(200);
    }

    @Test
    void openAdmitsUnderTheLocalLimitsOnlyWhileRedisIsDown() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        a = start(backend, null, "--redis=" + redis.uri(), "--fleet-limit=1", "--fleet-rate=1000",
                "--fleet-burst=100", "--fleet-when-down=open", "--max-concurrent=2", "--max-queue=100",
                "--max-queue-wait=20s", "--backend-timeout=60s");
        redis.stop();
        awaitTrue("the demo sees Redis down", () -> metricOrZero("demo_fleet_redis_connected") == 0);
        List<CompletableFuture<HttpResponse<String>>> during = getItemsAsync(a, "open", 3);
        awaitTrue("2 calls open: over the fleet limit of 1, within --max-concurrent=2",
                () -> backend.open.size() == 2);
        Thread.sleep(300);
        assertThat(backend.open).as("the local limit still holds").hasSize(2);
        while (backend.calls.get() < 3 || !backend.open.isEmpty()) {
            awaitTrue("a call is open", () -> !backend.open.isEmpty());
            backend.answerOne();
        }
        assertAllAnswered(200, during);
        String metrics = get(a, "/metrics").body();
        assertThat(metrics)
                .containsPattern("demo_fleet_unavailable_total\\{decision=\"admitted\",limit=\"rate\"} 3")
                .containsPattern("demo_fleet_unavailable_total\\{decision=\"admitted\",limit=\"concurrency\"} 3");

        redis.startAgain();
        awaitTrue("reconnected", () -> metricOrZero("demo_fleet_redis_connected") == 1);
        CompletableFuture<HttpResponse<String>> first = getAsync(a, "/api/items/back1");
        CompletableFuture<HttpResponse<String>> second = getAsync(a, "/api/items/back2");
        awaitTrue("one call open", () -> backend.open.size() == 1);
        Thread.sleep(300);
        assertThat(backend.open).as("the fleet limit of 1 holds again").hasSize(1);
        backend.answerOne();
        awaitTrue("the second call open", () -> backend.open.size() == 1);
        backend.answerOne();
        assertThat(first.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(second.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    }

    /**
     * A Redis that stops answering without closing the connection (a silent network, here
     * {@code CLIENT PAUSE}) while a request waits for its fleet permit, with the default
     * {@code --max-queue-wait} of 1 s. Redis cannot decide, so {@code --fleet-when-down} decides:
     * open admits under the local limit, closed answers "fleet limit unavailable". Before, the
     * limiters' 2 s command timeout came after the 1 s wait, which ended first as a plain wait
     * timeout: 503 "waited too long for the backend" in both modes, so open never admitted and
     * nothing was counted as Redis unavailable.
     */
    @Test
    void aRedisThatStopsAnsweringIsAnOutageWithinTheDefaultFleetWait() throws Exception {
        for (DemoConfig.FleetWhenDown mode : DemoConfig.FleetWhenDown.values()) {
            String tag = mode.name().toLowerCase(java.util.Locale.ROOT);
            a = start("--redis=" + redis.uri(), "--fleet-limit=2", "--fleet-when-down=" + tag);
            awaitTrue("database ready", () -> a.dbReady().isSet());
            assertThat(get(a, "/api/items/before").statusCode()).as(tag).isEqualTo(200);
            RedisClient admin = RedisClient.create(redis.uri());
            try (StatefulRedisConnection<String, String> pauser = admin.connect()) {
                assertThat(pauser.sync().clientPause(3_000)).isEqualTo("OK");
                HttpResponse<String> r = get(a, "/api/items/silent");
                if (mode == DemoConfig.FleetWhenDown.OPEN) {
                    assertThat(r.statusCode()).as("%s: %s", tag, r.body()).isEqualTo(200);
                } else {
                    assertUnavailable(r);
                }
                assertThat(metric(a, "demo_fleet_unavailable_total{decision=\"" + (mode == DemoConfig.FleetWhenDown.OPEN
                        ? "admitted" : "refused") + "\",limit=\"concurrency\"}")).as(tag).isEqualTo(1.0);
            } finally {
                admin.shutdown();
            }
            stop(a);
            a = null;
            Thread.sleep(3_000);               // the pause ends before the next mode's server asks
        }
    }

    @Test
    void fleetWhenDownIsValidated() {
        String redisFlag = "--redis=redis://127.0.0.1:6379";
        assertThat(config(redisFlag, "--fleet-limit=1").fleetWhenDown).isEqualTo(DemoConfig.FleetWhenDown.CLOSED);
        assertThat(config(redisFlag, "--fleet-limit=1", "--fleet-when-down=OPEN").fleetWhenDown)
                .isEqualTo(DemoConfig.FleetWhenDown.OPEN);
        assertThatThrownBy(() -> config(redisFlag, "--fleet-limit=1", "--fleet-when-down=maybe"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--fleet-when-down").hasMessageContaining("maybe")
                .hasMessageContaining("CLOSED, OPEN").hasMessageContaining("case-insensitive");
        assertThatThrownBy(() -> config("--fleet-when-down=open"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--fleet-when-down=open needs --redis");
    }

    /** A gauge's value from /metrics, 0 when the server cannot be asked. */
    private double metricOrZero(String sample) {
        try {
            return metric(a, sample);
        } catch (Exception | AssertionError e) {
            return 0;
        }
    }
}
