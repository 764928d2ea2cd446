package dev.nettysync.demo;

import dev.nettysync.redis.RedisServer;
import dev.nettysync.redis.RedisServerExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import picocli.CommandLine;

import java.net.SocketTimeoutException;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code --redis --fleet-rate}: instances sharing one real redis-server admit at most
 * {@code R × t + burst} requests for items together; refusals are 429 with the limiter's
 * {@code Retry-After}; the rate is checked before the local admission and the fleet permit, and
 * a refusal holds neither.
 */
@ExtendWith(RedisServerExtension.class)
class FleetRateTest {

    private GatewayServer a;
    private GatewayServer b;

    @BeforeEach
    void emptyRedis(RedisServer redis) {
        // Each test starts from an empty bucket (the limiter's key survives the servers).
        RedisClient client = RedisClient.create(redis.uri());
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            c.sync().flushall();
        } finally {
            client.shutdown();
        }
    }

    @AfterEach
    void tearDown() {
        stop(a);
        stop(b);
    }

    @Test
    @Tag("load")   // six clients for 2 s: left out of the mutation run (demo-server/pom.xml)
    void twoInstancesTogetherAdmitAtMostTheFleetRatePlusTheBurst(RedisServer redis) throws Exception {
        double rate = 20;
        int burst = 10;
        String[] flags = {"--redis=" + redis.uri(), "--fleet-rate=" + rate, "--fleet-burst=" + burst};
        a = start(flags);
        b = start(flags);

        Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
        Map<GatewayServer, AtomicInteger> admittedBy = new ConcurrentHashMap<>(Map.of(a, new AtomicInteger(),
                b, new AtomicInteger()));
        List<String> retryAfters = new CopyOnWriteArrayList<>();
        List<String> policies = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long windowNanos = TimeUnit.MILLISECONDS.toNanos(2_000);
        List<Thread> clients = new ArrayList<>();
        long started = System.nanoTime();
        for (int i = 0; i < 6; i++) {
            GatewayServer target = i % 2 == 0 ? a : b;
            int n = i;
            Thread client = new Thread(() -> {
                try {
                    for (int k = 0; System.nanoTime() - started < windowNanos; k++) {
                        HttpResponse<String> r = get(target, "/api/items/c" + n + "-" + k);
                        statuses.computeIfAbsent(r.statusCode(), s -> new AtomicInteger()).incrementAndGet();
                        if (r.statusCode() == 200) {
                            admittedBy.get(target).incrementAndGet();
                        } else if (r.statusCode() == 429) {
                            retryAfters.add(r.headers().firstValue("retry-after").orElse("<none>"));
                            policies.add(r.headers().firstValue("ratelimit-policy").orElse("<none>"));
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }, "fleet-rate-client-" + i);
            client.start();
            clients.add(client);
        }
        for (Thread t : clients) {
            t.join(PATIENCE.toMillis());
        }
        double seconds = (System.nanoTime() - started) / 1e9;   // every admission lies in this window
        assertThat(failure.get()).as("client failure").isNull();

        int admitted = admittedBy.get(a).get() + admittedBy.get(b).get();
        int refused = statuses.getOrDefault(429, new AtomicInteger()).get();
        assertThat(statuses.keySet()).as("statuses %s", statuses).containsOnly(200, 429);
        assertThat(admitted).as("admitted by both instances in %.2f s (%s)", seconds, admittedBy)
                .isLessThanOrEqualTo((int) Math.floor(rate * seconds + burst))
                .isGreaterThanOrEqualTo(burst);
        assertThat(refused).as("refused (the clients sent more than the rate)").isPositive();
        assertThat(admittedBy.get(a).get()).as("instance a admitted some").isPositive();
        assertThat(admittedBy.get(b).get()).as("instance b admitted some").isPositive();
        for (String retryAfter : retryAfters) {
            assertThat(retryAfter).as("Retry-After").matches("[1-9][0-9]*");
            // refused now-or-never: the next slot is at most one interval (50 ms) away, rounded up
            assertThat(Integer.parseInt(retryAfter)).isEqualTo(1);
        }
        assertThat(policies).as("RateLimit-Policy").containsOnly("\"fleet\";q=10;w=1");

        // Both keep serving: after Retry-After the bucket has refilled.
        Thread.sleep(1_100);
        assertThat(get(a, "/api/items/after").statusCode()).isEqualTo(200);
        assertThat(get(b, "/api/items/after").statusCode()).isEqualTo(200);
        assertThat(get(a, "/livez").statusCode()).isEqualTo(200);
        assertThat(get(b, "/livez").statusCode()).isEqualTo(200);
    }

    /**
     * Order and holding: the rate refuses before the local admission (429, not the 503 of a full
     * queue), with the limiter's Retry-After, and the refused request holds neither the local
     * permit nor the fleet permit.
     */
    @Test
    void theRateIsCheckedFirstAndARefusalHoldsNothing(RedisServer redis) throws Exception {
        ControlledBackend backend = new ControlledBackend();
        a = start(backend, null, "--redis=" + redis.uri(), "--fleet-rate=0.2", "--fleet-burst=1",
                "--fleet-limit=1", "--max-concurrent=1", "--max-queue=0", "--max-queue-wait=10s",
                "--backend-timeout=60s");
        CompletableFuture<HttpResponse<String>> first = getAsync(a, "/api/items/first");
        awaitTrue("the first call is open", () -> backend.open.size() == 1);

        HttpResponse<String> second = get(a, "/api/items/second");
        assertThat(second.statusCode()).as("the rate before the full local queue's 503").isEqualTo(429);
        assertThat(second.body()).contains("too many requests across the fleet");
        // 0.2/s: the next slot is 5 s after the first admission, less the time since, rounded up
        String retryAfter = second.headers().firstValue("retry-after").orElse("<none>");
        assertThat(retryAfter).matches("[1-5]");
        assertThat(second.headers().firstValue("ratelimit")).hasValue("\"fleet\";r=0;t=" + retryAfter);
        // a quota of 1 per the 5 s the bucket takes to refill (burst / rate)
        assertThat(second.headers().firstValue("ratelimit-policy")).hasValue("\"fleet\";q=1;w=5");
        long refusedAt = System.nanoTime();

        assertThat(backend.answerOne()).isTrue();
        assertThat(first.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);

        // Waiting the Retry-After is enough to be admitted again.
        long due = refusedAt + TimeUnit.SECONDS.toNanos(Integer.parseInt(retryAfter)) + TimeUnit.MILLISECONDS.toNanos(100);
        Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(due - System.nanoTime())));
        CompletableFuture<HttpResponse<String>> third = getAsync(a, "/api/items/third");
        awaitTrue("the third call is open: the refused request left both permits free",
                () -> backend.open.size() == 1);
        assertThat(backend.answerOne()).isTrue();
        assertThat(third.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(backend.calls).hasValue(2);
    }

    @Test
    void badFleetRateFlagsAreRefusedNamingTheFlag() {
        String redis = "--redis=redis://127.0.0.1:6379";
        assertThatThrownBy(() -> config("--fleet-rate=10"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-rate needs --redis");
        assertThatThrownBy(() -> config(redis, "--fleet-rate=-1"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-rate must be")
                .hasMessageContaining("was -1.0");
        assertThatThrownBy(() -> config(redis, "--fleet-rate=NaN"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-rate must be");
        assertThatThrownBy(() -> config(redis, "--fleet-rate=Infinity"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-rate must be");
        assertThatThrownBy(() -> config(redis, "--fleet-rate=fast"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-rate")
                .hasMessageContaining("fast");
        assertThatThrownBy(() -> config(redis, "--fleet-rate=10", "--fleet-burst=-3"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-burst must be in 0..1000000000")
                .hasMessageContaining("was -3");
        assertThatThrownBy(() -> config(redis, "--fleet-limit=2", "--fleet-burst=5"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-burst needs --fleet-rate");
        assertThatThrownBy(() -> config(redis, "--fleet-rate=0"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--redis needs --fleet-limit or --fleet-rate");
    }

    @Test
    void theBurstDefaultsToTheRateRoundedUp() {
        String redis = "--redis=redis://127.0.0.1:6379";
        assertThat(config(redis, "--fleet-rate=2.5").effectiveFleetBurst()).isEqualTo(3);
        assertThat(config(redis, "--fleet-rate=0.2").effectiveFleetBurst()).isEqualTo(1);
        assertThat(config(redis, "--fleet-rate=100", "--fleet-burst=7").effectiveFleetBurst()).isEqualTo(7);
        assertThat(config(redis, "--fleet-rate=100").fleetLimit).as("the rate alone needs no fleet limit").isZero();
    }

    @Test
    void aRequestExpecting100TakesOneFleetTokenBeforeIts100AndOverTheRateGets429Instead(RedisServer redis)
            throws Exception {
        // A rate of one per 100 s: no token comes back during the test, so every one is counted.
        ControlledBackend backend = new ControlledBackend();
        a = start(backend, null, "--redis=" + redis.uri(), "--fleet-rate=0.01", "--fleet-burst=2");
        awaitTrue("database ready", () -> a.dbReady().isSet());
        try (RawClient c = new RawClient(a)) {
            assertThat(c.send("GET /api/items/e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                    + "Expect: 100-continue\r\n\r\n").readHead()).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");
            c.send("hi");
            awaitTrue("request e calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(c.readResponse())).isEqualTo(200);

            c.send("GET /api/items/f HTTP/1.1\r\nHost: x\r\n\r\n");   // the second token: e took one, not two
            awaitTrue("request f calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(c.readResponse())).isEqualTo(200);
        }
        try (RawClient c = new RawClient(a)) {
            String r = c.send("GET /api/items/g HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    + "Expect: 100-continue\r\n\r\n").readResponse();          // its body is never sent
            assertThat(r).as("the 429, not 100").startsWith("HTTP/1.1 429").containsIgnoringCase("connection: close")
                    .containsIgnoringCase("retry-after: ").containsIgnoringCase("ratelimit-policy: \"fleet\"")
                    .contains("too many requests across the fleet");
            assertThat(c.readUntilClosed()).as("nothing more, then the connection closes").isEmpty();
        }
        assertThat(a.metrics().registry().get("demo.http.interim.responses").counter().count()).isEqualTo(1);
        assertThat(backend.calls.get()).isEqualTo(2);
    }

    @Test
    void aHeadWaitsForTheFleetsDecisionBeforeIts100AndOneWhoseClientLeavesMeanwhileEndsAs499(RedisServer redis)
            throws Exception {
        ControlledBackend backend = new ControlledBackend();
        a = start(backend, null, "--redis=" + redis.uri(), "--fleet-rate=100", "--fleet-burst=100");
        awaitTrue("database ready", () -> a.dbReady().isSet());
        String head = "GET /api/items/p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
        RedisClient admin = RedisClient.create(redis.uri());
        try (StatefulRedisConnection<String, String> pauser = admin.connect();
             RawClient waiting = new RawClient(a)) {
            assertThat(pauser.sync().clientPause(1_500)).isEqualTo("OK");     // the fleet's script waits (under its 2 s timeout)
            try (RawClient leaving = new RawClient(a)) {
                leaving.send(head);
                waiting.send(head);
                waiting.socket.setSoTimeout(200);
                assertThatThrownBy(() -> waiting.socket.getInputStream().read())
                        .as("no 100 before the fleet rate decided").isInstanceOf(SocketTimeoutException.class);
                waiting.socket.setSoTimeout((int) PATIENCE.toMillis());
            }                                                                // leaves during the fleet's wait
            awaitTrue("the head whose client left ends as 499", () -> requestCount(a, "/api/items/{id}", 499) == 1);

            assertThat(waiting.readHead()).as("once the fleet decided").isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");
            waiting.send("hi");
            awaitTrue("request p calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(waiting.readResponse())).isEqualTo(200);
        } finally {
            admin.shutdown();
        }
        assertThat(a.context().drain().activeRequests()).as("nothing left in flight").isZero();
        assertThat(backend.calls.get()).isEqualTo(1);
    }

    @Test
    void aDrainThatStartsWhileAHeadWaitsForTheFleetAnswersIt503InsteadOfA100(RedisServer redis) throws Exception {
        ControlledBackend backend = new ControlledBackend();
        a = start(backend, null, "--redis=" + redis.uri(), "--fleet-rate=100", "--fleet-burst=100",
                "--drain-timeout=30s");
        awaitTrue("database ready", () -> a.dbReady().isSet());
        RedisClient admin = RedisClient.create(redis.uri());
        try (StatefulRedisConnection<String, String> pauser = admin.connect();
             RawClient waiting = new RawClient(a)) {
            assertThat(pauser.sync().clientPause(1_500)).isEqualTo("OK");     // the fleet's script waits (under its 2 s timeout)
            waiting.send("GET /api/items/p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
            waiting.socket.setSoTimeout(200);
            assertThatThrownBy(() -> waiting.socket.getInputStream().read())
                    .as("no 100 before the fleet rate decided").isInstanceOf(SocketTimeoutException.class);
            waiting.socket.setSoTimeout((int) PATIENCE.toMillis());

            io.netty.util.concurrent.Future<Void> terminated = a.shutdown();     // during the fleet's wait

            String response = waiting.readResponse();
            assertThat(status(response)).as("the head's final answer, once the fleet decided").isEqualTo(503);
            assertThat(response).containsIgnoringCase("connection: close").doesNotContain("100 Continue");
            assertThat(terminated.await(PATIENCE.toMillis())).as("stopped after the head was answered").isTrue();
        } finally {
            admin.shutdown();
        }
        assertThat(backend.calls.get()).as("the body was never invited, the backend never called").isZero();
    }
}
