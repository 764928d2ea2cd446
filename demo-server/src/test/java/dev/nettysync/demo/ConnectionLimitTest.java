package dev.nettysync.demo;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code --max-connections}: beyond the cap a connection is closed at once and counted; its default comes from the fd limit. */
class ConnectionLimitTest {

    private GatewayServer server;
    private final List<RawClient> clients = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (RawClient c : clients) {
            c.close();
        }
        stop(server);
    }

    @Test
    void connectionsBeyondTheCapAreClosedAtOnceAndCounted() throws Exception {
        server = start("--max-connections=3");
        for (int i = 0; i < 3; i++) {
            RawClient c = new RawClient(server);
            clients.add(c);
            assertThat(status(c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse())).isEqualTo(200);
        }
        assertThat(server.openConnections()).isEqualTo(3);
        try (RawClient refused = new RawClient(server)) {
            assertThat(refused.closedWithin(10_000)).as("the fourth connection is closed at once").isTrue();
        }
        assertThat(scraped(server, "demo_connections_refused_total")).isEqualTo(1.0);
        assertThat(scraped(server, "demo_connections_max")).isEqualTo(3.0);
        assertThat(scraped(server, "demo_connections_open")).isEqualTo(3.0);
        assertThat(status(clients.get(0).send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse()))
                .as("the connections within the cap keep being served").isEqualTo(200);

        clients.remove(0).close();
        awaitTrue("one connection fewer", () -> server.openConnections() == 2);
        try (RawClient next = new RawClient(server)) {
            assertThat(status(next.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse())).isEqualTo(200);
        }
    }

    @Test
    void theDefaultCapComesFromTheOpenFileLimit() {
        assertThat(DemoConfig.defaultMaxConnections(1024, 0)).isEqualTo(896);
        assertThat(DemoConfig.defaultMaxConnections(1024, 256)).as("minus the upstream pool").isEqualTo(640);
        assertThat(DemoConfig.defaultMaxConnections(100, 0)).as("at least 16").isEqualTo(16);
        assertThat(DemoConfig.defaultMaxConnections(-1, 0)).as("limit unknown").isEqualTo(10_000);
        assertThat(DemoConfig.defaultMaxConnections(1L << 40, 0)).isEqualTo(Integer.MAX_VALUE);

        long fdLimit = DemoConfig.openFileLimit();
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            assertThat(fdLimit).as("a Unix JVM tells its limit").isEqualTo(unix.getMaxFileDescriptorCount()).isPositive();
        }
        DemoConfig auto = DemoConfig.parse("--io-threads=2");
        assertThat(auto.maxConnections).isZero();
        assertThat(auto.effectiveMaxConnections()).isEqualTo(DemoConfig.defaultMaxConnections(fdLimit, 0));
        DemoConfig upstream = DemoConfig.parse("--io-threads=2", "--upstream=http://127.0.0.1:9", "--upstream-pool-size=8");
        assertThat(upstream.effectiveMaxConnections()).isEqualTo(DemoConfig.defaultMaxConnections(fdLimit, 16));
        DemoConfig defaultLoops = DemoConfig.parse("--upstream=http://127.0.0.1:9", "--upstream-pool-size=8");
        assertThat(defaultLoops.effectiveMaxConnections()).as("Netty's default loops: 2 x cores")
                .isEqualTo(DemoConfig.defaultMaxConnections(fdLimit, 8L * 2 * Runtime.getRuntime().availableProcessors()));
        assertThat(DemoConfig.parse("--max-connections=5").effectiveMaxConnections()).isEqualTo(5);
    }
}
