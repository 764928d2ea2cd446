package dev.nettysync.demo;

import dev.nettysync.redis.RedisServer;
import dev.nettysync.redis.RedisServerExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import picocli.CommandLine;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code --redis --fleet-limit}: two instances share one backend limit through a real redis-server. */
@ExtendWith(RedisServerExtension.class)
class FleetLimitTest {

    private GatewayServer a;
    private GatewayServer b;

    @AfterEach
    void tearDown() {
        stop(a);
        stop(b);
    }

    @Test
    void twoInstancesNeverCallTheBackendMoreThanTheFleetLimitAtOnce(RedisServer redis) throws Exception {
        ControlledBackend backend = new ControlledBackend();      // one backend behind both instances
        String[] flags = {"--redis=" + redis.uri(), "--fleet-limit=2", "--max-concurrent=4",
                "--max-queue=100", "--max-queue-wait=60s"};
        a = start(backend, null, flags);
        b = start(backend, null, flags);
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            responses.add(getAsync(a, "/api/items/a" + i));
            responses.add(getAsync(b, "/api/items/b" + i));
        }
        awaitTrue("2 backend calls open", () -> backend.open.size() == 2);
        Thread.sleep(300);
        assertThat(backend.open).as("the fleet limit, not 2 x 4 local permits").hasSize(2);

        int answered = 0;
        while (answered < 12) {
            awaitTrue("a call is open", () -> !backend.open.isEmpty());
            assertThat(backend.open.size()).isLessThanOrEqualTo(2);
            if (backend.answerOne()) {
                answered++;
            }
        }
        assertAllAnswered(200, responses);
        assertThat(backend.calls).hasValue(12);
    }

    @Test
    void redisAndFleetLimitGoTogether() {
        assertThatThrownBy(() -> DemoConfig.parse("--fleet-limit=2"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--fleet-limit needs --redis");
        assertThatThrownBy(() -> DemoConfig.parse("--redis=redis://127.0.0.1:6379"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--redis needs --fleet-limit or --fleet-rate");
        assertThatThrownBy(() -> DemoConfig.parse("--redis=http://x", "--fleet-limit=1"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("redis://");
    }
}
