package dev.nettysync.demo;

import dev.nettysync.AsyncEvent;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;
import static org.mockito.Mockito.times;
import static org.mockito.ArgumentMatchers.eq;

/** Requests for items before the database is ready: wait mode and reject mode. */
class ReadinessGatingTest {

    private GatewayServer server;

    @AfterEach
    void tearDown() {
        stop(server);
    }

    @Test
    void theSimulatedDatabasesDelayCountsFromTheListen() throws Exception {
        // Its timer starts once the port accepts connections (GatewayServer.bind), so a short
        // --db-ready-delay is never spent before a client can ask /readyz.
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        SimulatedDatabase simulated = new SimulatedDatabase(Duration.ofSeconds(1));
        AtomicBoolean listeningAtStart = new AtomicBoolean();
        DbReadiness readiness = new DbReadiness() {
            @Override
            public void start(EventLoopGroup loops, AsyncEvent dbReady) {   // on the starting (test) thread
                try (Socket s = new Socket("127.0.0.1", port)) {
                    listeningAtStart.set(true);
                } catch (IOException e) {
                    listeningAtStart.set(false);
                }
                simulated.start(loops, dbReady);
            }

            @Override
            public void stop() {
                simulated.stop();
            }

            @Override
            public String describe() {
                return simulated.describe();
            }
        };
        server = start(null, readiness, "--port=" + port);
        assertThat(listeningAtStart).as("the port accepted connections when the delay began").isTrue();
    }

    @Test
    void waitModeHoldsRequestsUntilTheDatabaseIsReady() throws Exception {
        server = start(null, new ManualReadiness(), "--before-ready=wait", "--ready-wait-timeout=60s");
        assertThat(get(server, "/readyz").statusCode()).isEqualTo(503);

        CompletableFuture<HttpResponse<String>> a = getAsync(server, "/api/items/1");
        CompletableFuture<HttpResponse<String>> b = getAsync(server, "/api/items/2");
        awaitTrue("both requests wait on dbReady", () -> server.dbReady().queueLength() == 2);
        assertThat(a).isNotDone();
        assertThat(get(server, "/livez").statusCode()).as("health bypasses the gate").isEqualTo(200);

        server.dbReady().set();

        assertThat(a.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(b.get(30, TimeUnit.SECONDS).body()).contains("\"id\":\"2\"");
        assertThat(get(server, "/readyz").statusCode()).isEqualTo(200);
        assertThat(metric(server, "demo_db_ready")).isEqualTo(1.0);
    }

    @Test
    void waitModeAnswers503WithRetryAfterWhenTheWaitTimesOut() throws Exception {
        server = start(null, new ManualReadiness(), "--before-ready=wait", "--ready-wait-timeout=200ms",
                "--retry-after=7");
        HttpResponse<String> r = get(server, "/api/items/1");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("retry-after")).hasValue("7");
        assertThat(r.body()).contains("database not ready");
        assertThat(server.dbReady().queueLength()).as("timed-out waiter left the queue").isZero();
    }

    @Test
    void rejectModeRefusesAtOnceAndNeverCallsTheBackend() throws Exception {
        Backend backend = mock(Backend.class);
        server = start(backend, new ManualReadiness(), "--before-ready=reject", "--ready-wait-timeout=60s");
        HttpResponse<String> r = get(server, "/api/items/1");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("retry-after")).hasValue("1");
        assertThat(server.dbReady().queueLength()).as("reject mode never queues").isZero();
        verify(backend, never()).fetch(anyString(), any(EventLoop.class));

        when(backend.fetch(anyString(), any(EventLoop.class))).thenAnswer(call -> call.getArgument(1, EventLoop.class)
                .newSucceededFuture(new Backend.BackendResponse(200, SimulatedBackend.body("1"), "application/json")));
        server.dbReady().set();
        HttpResponse<String> ok = get(server, "/api/items/1");
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo("{\"id\":\"1\",\"name\":\"item 1\",\"source\":\"simulated\"}");
        verify(backend, times(1)).fetch(eq("1"), any(EventLoop.class));
    }

    /**
     * Admission is decided on arrival: with 2 permits and a queue of 3, of 8 requests arriving
     * before the database is ready, 3 are refused at once (not after the wait), and the 5 that
     * waited are all served once it is ready, none refused then.
     */
    @Test
    void requestsWaitingForTheDatabaseAreCountedAgainstTheLimitOnArrival() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, new ManualReadiness(), "--before-ready=wait", "--ready-wait-timeout=60s",
                "--max-concurrent=2", "--max-queue=3", "--max-queue-wait=60s");
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            all.add(getAsyncNewConnection(server, "/api/items/" + i));
        }
        awaitTrue("3 refused while the database is not ready",
                () -> all.stream().filter(CompletableFuture::isDone).count() == 3);
        assertThat(server.dbReady().isSet()).isFalse();
        List<CompletableFuture<HttpResponse<String>>> refused = all.stream().filter(CompletableFuture::isDone).toList();
        for (CompletableFuture<HttpResponse<String>> r : refused) {
            assertThat(r.get().statusCode()).isEqualTo(503);
            assertThat(r.get().body()).contains("too many requests queued");
            assertThat(r.get().headers().firstValue("retry-after")).hasValue("1");
        }
        assertThat(server.dbReady().queueLength()).as("the admitted wait for the database").isEqualTo(5);
        assertThat(metric(server, "demo_limiter_admitted")).isEqualTo(5.0);

        server.dbReady().set();
        awaitTrue("2 calls running, 3 queued", () -> server.limiter().inFlight() == 2 && server.limiter().queued() == 3);
        int answered = 0;
        while (answered < 5) {
            awaitTrue("a call is open", () -> !backend.open.isEmpty());
            if (backend.answerOne()) {
                answered++;
            }
        }
        for (CompletableFuture<HttpResponse<String>> r : all) {
            if (!refused.contains(r)) {
                assertThat(r.get(30, TimeUnit.SECONDS).statusCode()).as("a client who waited is served").isEqualTo(200);
            }
        }
        assertThat(metric(server, "demo_limiter_rejected_total{reason=\"queue_full\"}")).isEqualTo(3.0);
        awaitTrue("every place given back", () -> server.limiter().admitted() == 0);
    }

    @Test
    void aClientLeavingWhileWaitingForTheDatabaseGivesItsPlaceBack() throws Exception {
        server = start(null, new ManualReadiness(), "--before-ready=wait", "--ready-wait-timeout=60s",
                "--max-concurrent=1", "--max-queue=0");
        try (RawClient quitter = new RawClient(server)) {
            quitter.send("GET /api/items/q HTTP/1.1\r\nHost: x\r\n\r\n");
            awaitTrue("admitted and waiting", () -> server.limiter().admitted() == 1 && server.dbReady().queueLength() == 1);
            assertThat(get(server, "/api/items/other").statusCode()).as("no room left").isEqualTo(503);
        }
        awaitTrue("the place is back", () -> server.limiter().admitted() == 0 && server.dbReady().queueLength() == 0);
        server.dbReady().set();
        assertThat(get(server, "/api/items/next").statusCode()).isEqualTo(200);
    }

    @Test
    void simulatedDatabaseBecomesReadyAfterItsDelay() throws Exception {
        server = start("--db-ready-delay=300ms", "--before-ready=wait", "--ready-wait-timeout=60s");
        // The request may arrive before or after readiness; either way it is served, never refused.
        assertThat(get(server, "/api/items/9").statusCode()).isEqualTo(200);
        assertThat(server.dbReady().isSet()).isTrue();
        assertThat(get(server, "/readyz").statusCode()).isEqualTo(200);
    }
}
