package dev.nettysync.demo;

import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** shutdown(): readiness flips (seen on an open keep-alive connection), queue closes with 503, in-flight calls drain, then it stops. */
class GracefulShutdownTest {

    private GatewayServer server;

    @AfterEach
    void tearDown() {
        stop(server);
    }

    @Test
    void drainsInFlightCallsAndRefusesTheQueued() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, null, "--max-concurrent=2", "--max-queue=10", "--max-queue-wait=60s",
                "--drain-timeout=60s");
        CompletableFuture<HttpResponse<String>> a = getAsync(server, "/api/items/a");
        CompletableFuture<HttpResponse<String>> b = getAsync(server, "/api/items/b");
        awaitTrue("a and b in flight", () -> server.limiter().inFlight() == 2);
        CompletableFuture<HttpResponse<String>> queued = getAsync(server, "/api/items/c");
        awaitTrue("c queued", () -> server.limiter().queued() == 1);
        try (RawClient probe = new RawClient(server); RawClient idle = new RawClient(server)) {
            assertThat(status(probe.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").readResponse())).isEqualTo(200);
            int port = server.port();

            Future<Void> terminated = server.shutdown();

            HttpResponse<String> refused = queued.get(30, TimeUnit.SECONDS);
            assertThat(refused.statusCode()).isEqualTo(503);
            assertThat(refused.headers().firstValue("retry-after")).isPresent();
            assertThat(refused.body()).contains("shutting down");
            String ready = probe.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
            assertThat(status(ready)).as("readiness while draining").isEqualTo(503);
            assertThat(ready).containsIgnoringCase("connection: close");
            awaitTrue("listening socket closed", () -> refusesConnections(port));
            assertThat(terminated.isDone()).as("still draining a and b").isFalse();

            backend.answerOne();
            backend.answerOne();
            assertThat(a.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(b.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(terminated.await(30, TimeUnit.SECONDS)).as("stopped after draining").isTrue();
            assertThat(terminated.isSuccess()).isTrue();
            assertThat(idle.readUntilClosed()).as("idle connection closed at the drain's end").isEmpty();
        }
        assertThat(backend.calls).as("c never reached the backend").hasValue(2);
    }

    private static boolean refusesConnections(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            throw new AssertionError("unexpected " + e, e);
        }
    }

    @Test
    void requestsWaitingForTheDatabaseGet503AtOnce() throws Exception {
        server = start(null, new ManualReadiness(), "--before-ready=wait", "--ready-wait-timeout=60s");
        CompletableFuture<HttpResponse<String>> waiting = getAsync(server, "/api/items/a");
        awaitTrue("waiting on dbReady", () -> server.dbReady().queueLength() == 1);
        Future<Void> terminated = server.shutdown();
        HttpResponse<String> r = waiting.get(30, TimeUnit.SECONDS);
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("shutting down");
        assertThat(server.dbReady().queueLength()).isZero();
        assertThat(terminated.await(30, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void drainTimeoutClosesWhatIsStillInFlight() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, null, "--max-concurrent=2", "--drain-timeout=300ms", "--backend-timeout=60s");
        try (RawClient stuck = new RawClient(server)) {
            stuck.send("GET /api/items/a HTTP/1.1\r\nHost: x\r\n\r\n");
            awaitTrue("a in flight", () -> server.limiter().inFlight() == 1);
            Future<Void> terminated = server.shutdown();
            assertThat(terminated.await(30, TimeUnit.SECONDS)).as("stopped despite the stuck call").isTrue();
            assertThat(stuck.readUntilClosed()).as("connection closed without an answer").isEmpty();
        }
        awaitTrue("stuck call cancelled, permit back", () -> backend.cancelled() == 1
                && server.limiter().availablePermits() == 2);
    }

    /** Every step of a drain is logged, in order, by the server's logger (captured here). */
    @Test
    void everyDrainStepIsLogged() throws Exception {
        ServerLog log = new ServerLog();
        try (log) {
            ControlledBackend backend = new ControlledBackend();
            server = start(backend, null, "--max-concurrent=1", "--max-queue=5", "--max-queue-wait=60s",
                    "--drain-timeout=300ms", "--backend-timeout=60s");
            try (RawClient stuck = new RawClient(server); RawClient queued = new RawClient(server)) {
                stuck.send("GET /api/items/a HTTP/1.1\r\nHost: x\r\n\r\n");
                awaitTrue("a in flight", () -> server.limiter().inFlight() == 1);
                queued.send("GET /api/items/b HTTP/1.1\r\nHost: x\r\n\r\n");
                awaitTrue("b queued", () -> server.limiter().queued() == 1);
                assertThat(server.shutdown().await(30, TimeUnit.SECONDS)).isTrue();
                assertThat(status(queued.readResponse())).isEqualTo(503);
            }
        }
        assertThat(String.join("\n", log.records)).containsSubsequence(
                "INFO draining: /readyz now answers 503; closing the listening socket; 2 request(s) in progress, "
                        + "of which 1 queued for the backend (refused now, 503); 2 connection(s) open; waiting up to 300ms",
                "WARNING drain timeout of 300ms reached with 1 request(s) in flight: closing their connections",
                "connection(s), the backend and the event loops",
                "INFO demo-server stopped");
        assertThat(log.records).noneMatch(r -> r.startsWith("INFO drained:"));
    }

    @Test
    void aDrainThatEndsInTimeSaysSo() throws Exception {
        ServerLog log = new ServerLog();
        try (log) {
            server = start();
            assertThat(server.shutdown().await(30, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(String.join("\n", log.records)).containsSubsequence("INFO draining:", "INFO drained: every request answered",
                "INFO closing 0 connection(s)", "INFO demo-server stopped");
    }

    @Test
    void shutdownIsIdempotent() throws Exception {
        server = start();
        assertThat(get(server, "/readyz").statusCode()).isEqualTo(200);
        Future<Void> first = server.shutdown();
        assertThat(server.shutdown()).isSameAs(first);
        assertThat(first.await(30, TimeUnit.SECONDS)).isTrue();
        assertThatThrownBy(() -> get(server, "/livez")).isInstanceOf(IOException.class);
    }

    /**
     * Captures what the server's logger writes at INFO and above ("LEVEL message"), from
     * construction until closed; closing restores the logger's level.
     */
    private static final class ServerLog extends Handler implements AutoCloseable {
        final List<String> records = new CopyOnWriteArrayList<>();
        private final Logger jul = Logger.getLogger(GatewayServer.class.getName());
        private final Level level = jul.getLevel();

        ServerLog() {
            jul.setLevel(Level.INFO);
            jul.addHandler(this);
        }

        @Override
        public void publish(LogRecord r) {
            records.add(r.getLevel() + " " + new SimpleFormatter().formatMessage(r));
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            jul.removeHandler(this);
            jul.setLevel(level);
        }
    }
}
