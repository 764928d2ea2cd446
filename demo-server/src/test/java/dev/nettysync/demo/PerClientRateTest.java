package dev.nettysync.demo;

import dev.nettysync.QueueFullException;
import dev.nettysync.limit.RateLimitedException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static dev.nettysync.demo.TestSupport.CLIENT;
import static dev.nettysync.demo.TestSupport.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The per-client rate against a real server on an ephemeral port, with a real HTTP client:
 * over the rate is 429 with {@code Retry-After} and the ratelimit-headers draft's fields; clients
 * are told apart by peer address, or by {@code X-Forwarded-For} only when trusted; health routes
 * are not limited.
 */
class PerClientRateTest {
    private GatewayServer server;

    @AfterEach
    void stop() {
        TestSupport.stop(server);
    }

    private HttpResponse<String> get(String path, String forwardedFor) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(TestSupport.uri(server, path)).timeout(PATIENCE);
        if (forwardedFor != null) {
            b.header("X-Forwarded-For", forwardedFor);
        }
        return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void overTheRateIsAnswered429WithRetryAfterAndRateLimitHeaders() throws Exception {
        server = TestSupport.start("--per-client-rate=1", "--per-client-burst=2");
        assertThat(get("/api/items/a", null).statusCode()).isEqualTo(200);
        assertThat(get("/api/items/b", null).statusCode()).isEqualTo(200);
        List<HttpResponse<String>> refused = new ArrayList<>();
        for (int i = 0; i < 3; i++) {                    // the bucket refills 1/s: at least one is refused
            HttpResponse<String> r = get("/api/items/c", null);
            if (r.statusCode() == 429) {
                refused.add(r);
            } else {
                assertThat(r.statusCode()).isEqualTo(200);
            }
        }
        assertThat(refused).isNotEmpty();
        HttpResponse<String> r = refused.get(0);
        assertThat(r.body()).contains("too many requests from this client");
        assertThat(r.headers().firstValue("retry-after")).hasValue("1");
        assertThat(r.headers().firstValue("ratelimit-policy")).hasValue("\"per-client\";q=2;w=2");
        assertThat(r.headers().firstValue("ratelimit")).hasValue("\"per-client\";r=0;t=1");
        assertThat(get("/livez", null).statusCode()).as("health routes are not limited").isEqualTo(200);
        Thread.sleep(1_100);
        assertThat(get("/api/items/d", null).statusCode()).as("admitted again after Retry-After").isEqualTo(200);
    }

    @Test
    void behindATrustedProxyClientsAreKeyedByForwardedFor() throws Exception {
        server = TestSupport.start("--per-client-rate=1", "--per-client-burst=1", "--trust-forwarded-for");
        assertThat(get("/api/items/a", "10.0.0.1, 192.168.1.1").statusCode()).isEqualTo(200);
        assertThat(get("/api/items/a", "10.0.0.1").statusCode()).isEqualTo(429);
        assertThat(get("/api/items/a", "10.0.0.2").statusCode()).as("another client").isEqualTo(200);
    }

    @Test
    void aForwardedForThatIsNotAnAddressIs400AndTracksNoClient() throws Exception {
        // Before: any text up to the header limit (8 KiB) became a key, 100k of them by default.
        server = TestSupport.start("--per-client-rate=1", "--per-client-burst=1", "--trust-forwarded-for");
        HttpResponse<String> r = get("/api/items/a", "c".repeat(8000));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("X-Forwarded-For");
        assertThat(get("/api/items/a", "client-7").statusCode()).isEqualTo(400);
        assertThat(server.context().perClient().liveClients()).as("no key kept for them").isZero();
        assertThat(get("/livez", "client-7").statusCode()).as("health routes are not keyed").isEqualTo(200);
        // One client however its proxy spells its address.
        assertThat(get("/api/items/a", "[2001:DB8::1]:443").statusCode()).isEqualTo(200);
        assertThat(get("/api/items/a", "2001:db8:0:0:0:0:0:1").statusCode()).isEqualTo(429);
    }

    @Test
    void withoutTrustForwardedForIsIgnored() throws Exception {
        server = TestSupport.start("--per-client-rate=1", "--per-client-burst=1");
        assertThat(get("/api/items/a", "10.0.0.1").statusCode()).isEqualTo(200);
        assertThat(get("/api/items/a", "10.0.0.2").statusCode()).as("same peer address").isEqualTo(429);
    }

    @Test
    void aRateRefusalIs429WithTheLimitersRetryAfterAndTheBackendLimitStays503() {
        HttpErrors errors = new HttpErrors(7, 1024, 2048, 1000);
        HttpErrors.Answer rate = errors.answer(new RateLimitedException("over", 2_500_000_000L));
        assertThat(rate.status().code()).isEqualTo(429);
        assertThat(rate.retryAfterSeconds()).as("2.5 s rounded up").isEqualTo(3);
        assertThat(rate.closeConnection()).isFalse();
        HttpErrors.Answer backend = errors.answer(new QueueFullException("full"));
        assertThat(backend.status().code()).isEqualTo(503);
        assertThat(backend.retryAfterSeconds()).isEqualTo(7);
    }

    @Test
    void badRateFlagsAreRefusedWithTheValue() {
        assertThatThrownBy(() -> TestSupport.config("--per-client-rate=-1"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("was -1");
        assertThatThrownBy(() -> TestSupport.config("--per-client-burst=-2"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("was -2");
    }
}
