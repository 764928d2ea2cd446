package dev.nettysync.demo;

import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code --db-probe}: readiness by TCP connect to a socket that starts listening late. */
class TcpDatabaseProbeTest {

    private GatewayServer server;

    @AfterEach
    void tearDown() {
        stop(server);
    }

    @Test
    void becomesReadyOnceTheDatabaseSocketListens() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();   // free now; nobody listens on it until below
        }
        server = start("--db-probe=127.0.0.1:" + port, "--db-probe-interval=50ms",
                "--before-ready=wait", "--ready-wait-timeout=60s");
        assertThat(get(server, "/readyz").statusCode()).isEqualTo(503);
        CompletableFuture<HttpResponse<String>> waiting = getAsync(server, "/api/items/w");
        awaitTrue("request waits on dbReady", () -> server.dbReady().queueLength() == 1);
        Thread.sleep(200);                 // several refused probe attempts
        assertThat(server.dbReady().isSet()).as("no database yet").isFalse();

        try (ServerSocket database = new ServerSocket()) {
            database.setReuseAddress(true);
            database.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            awaitTrue("probe connected", () -> server.dbReady().isSet());
            assertThat(waiting.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(get(server, "/readyz").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aResetDuringAProbeClosesItsConnectionInsteadOfReachingThePipelinesTail() {
        // Before, the probe's handler left exceptions to the tail, which logs a WARN ("An
        // exceptionCaught() event was fired, and it reached at the tail of the pipeline") for
        // every reset by the database while a probe's connection was open. EmbeddedChannel
        // records such an exception instead, and checkException() rethrows it.
        EmbeddedChannel probe = new EmbeddedChannel(TcpDatabaseProbe.ProbeHandler.INSTANCE);
        probe.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));

        probe.checkException();            // nothing reached the tail
        assertThat(probe.isOpen()).as("the probe's connection is closed").isFalse();
        assertThat(probe.finishAndReleaseAll()).isFalse();
    }

    @Test
    void rejectsBadProbeAddresses() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DemoConfig.parse("--db-probe=nohost"))
                .hasMessageContaining("HOST:PORT");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DemoConfig.parse("--db-probe=h:70000"))
                .hasMessageContaining("--db-probe");
    }
}
