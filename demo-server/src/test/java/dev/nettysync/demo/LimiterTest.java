package dev.nettysync.demo;

import dev.nettysync.testing.Poll;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/** The backend limiter under load, overflow, timeouts and client disconnects. */
class LimiterTest {

    private GatewayServer server;

    @AfterEach
    void tearDown() throws Exception {
        stop(server);
    }

    @Test
    void limitHoldsUnderTenTimesMoreConcurrentRequestsThanPermits() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, null, "--max-concurrent=4", "--max-queue=100", "--max-queue-wait=60s");
        List<CompletableFuture<HttpResponse<String>>> responses = getItemsAsync(server, "", 40);
        awaitTrue("4 calls in flight and 36 queued",
                () -> server.limiter().inFlight() == 4 && server.limiter().queued() == 36);
        assertThat(backend.calls).as("backend calls started").hasValue(4);

        // Each answer lets exactly one queued request in; never more than 4 at once.
        int answered = 0;
        while (answered < 40) {
            awaitTrue("a call is open", () -> !backend.open.isEmpty());
            assertThat(server.limiter().inFlight()).isLessThanOrEqualTo(4);
            if (backend.answerOne()) {
                answered++;
            }
        }
        assertAllAnswered(200, responses);
        assertThat(backend.calls).hasValue(40);
        assertThat(server.limiter().peakInFlight()).isEqualTo(4);
        assertThat(metric(server, "demo_limiter_in_flight_peak")).isEqualTo(4.0);
        awaitTrue("permits back to full", () -> server.limiter().availablePermits() == 4);
    }

    @Test
    void limitHoldsWithTheSimulatedBackend() throws Exception {
        server = start("--max-concurrent=3", "--max-queue=100", "--max-queue-wait=60s", "--backend-latency=50ms");
        List<CompletableFuture<HttpResponse<String>>> responses = getItemsAsync(server, "", 30);
        assertAllAnswered(200, responses);
        assertThat(metric(server, "demo_limiter_in_flight_peak")).isBetween(1.0, 3.0);
        assertThat(metric(server, "nettysync_limiter_available{limiter=\"backend\"}")).isEqualTo(3.0);
        assertThat(metric(server, "nettysync_limiter_limit{limiter=\"backend\"}")).isEqualTo(3.0);
        assertThat(metric(server, "nettysync_limiter_queued{limiter=\"backend\"}")).isEqualTo(0.0);
        assertThat(metric(server, "nettysync_limiter_wait_seconds_count{limiter=\"backend\"}")).isEqualTo(30.0);
        assertThat(metric(server, "demo_limiter_in_flight")).isEqualTo(0.0);
    }

    @Test
    void queueOverflowIsAnswered503Fast() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, null, "--max-concurrent=1", "--max-queue=2", "--max-queue-wait=60s");
        List<CompletableFuture<HttpResponse<String>>> admitted = getItemsAsync(server, "", 3);
        awaitTrue("1 in flight, 2 queued", () -> server.limiter().inFlight() == 1 && server.limiter().queued() == 2);
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = get(server, "/api/items/over" + i);
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(r.headers().firstValue("retry-after")).hasValue("1");
            assertThat(r.body()).contains("too many requests queued");
        }
        assertThat(metric(server, "demo_limiter_rejected_total{reason=\"queue_full\"}")).isEqualTo(3.0);
        while (backend.calls.get() < 3 || !backend.open.isEmpty()) {
            backend.answerOne();
            Thread.sleep(1);
        }
        assertAllAnswered(200, admitted);
    }

    @Test
    void queueWaitExceededIsAnswered503() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, null, "--max-concurrent=1", "--max-queue=10", "--max-queue-wait=200ms");
        CompletableFuture<HttpResponse<String>> holder = getAsync(server, "/api/items/a");
        awaitTrue("the permit is held", () -> server.limiter().inFlight() == 1);
        HttpResponse<String> r = get(server, "/api/items/b");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("retry-after")).isPresent();
        assertThat(r.body()).contains("waited too long");
        assertThat(server.limiter().queued()).isZero();
        assertThat(metric(server, "demo_limiter_rejected_total{reason=\"wait_timeout\"}")).isEqualTo(1.0);
        backend.answerOne();
        assertThat(holder.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(backend.calls).as("the refused request never reached the backend").hasValue(1);
    }

    @Test
    void clientDisconnectingWhileQueuedLeavesTheQueueAtOnce() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, null, "--max-concurrent=1", "--max-queue=10", "--max-queue-wait=60s");
        CompletableFuture<HttpResponse<String>> holder = getAsync(server, "/api/items/a");
        awaitTrue("the permit is held", () -> server.limiter().inFlight() == 1);
        try (RawClient quitter = new RawClient(server)) {
            quitter.send("GET /api/items/b HTTP/1.1\r\nHost: x\r\n\r\n");
            awaitTrue("b is queued", () -> server.limiter().queued() == 1);
        }
        awaitTrue("b left the queue", () -> server.limiter().queued() == 0);
        assertThat(server.limiter().inFlight()).as("a still holds its permit").isEqualTo(1);

        backend.answerOne();
        assertThat(holder.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        awaitTrue("permits back to full", () -> server.limiter().availablePermits() == 1);
        assertThat(backend.calls).as("b never reached the backend").hasValue(1);

        CompletableFuture<HttpResponse<String>> c = getAsync(server, "/api/items/c");
        awaitTrue("c got the permit", () -> backend.calls.get() == 2);
        backend.answerOne();
        assertThat(c.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    }

    @Test
    void clientDisconnectingDuringTheBackendCallReleasesItsPermitOnce() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, null, "--max-concurrent=2", "--max-queue=10", "--max-queue-wait=60s");
        try (RawClient quitter = new RawClient(server)) {
            quitter.send("GET /api/items/b HTTP/1.1\r\nHost: x\r\n\r\n");
            awaitTrue("b is in flight", () -> server.limiter().inFlight() == 1);
        }
        awaitTrue("b's backend call is cancelled", () -> backend.cancelled() == 1);
        awaitTrue("permits back to full", () -> server.limiter().availablePermits() == 2
                && server.limiter().inFlight() == 0);
        // The cancelled call cannot complete again, so no second release can follow.
        assertThat(backend.answerOne()).as("answering the cancelled call").isTrue();
        assertThat(server.limiter().availablePermits()).isEqualTo(2);
        assertThat(metric(server, "demo_backend_calls_seconds_count{outcome=\"cancelled\"}")).isEqualTo(1.0);
        assertThat(metric(server, "demo_http_requests_seconds_count{route=\"/api/items/{id}\",status=\"499\"}"))
                .isEqualTo(1.0);
    }

    @Test
    void manyClientsDisconnectingMidCallWithTheSimulatedBackendLeaveNoPermitBehind() throws Exception {
        server = start("--max-concurrent=3", "--max-queue=100", "--max-queue-wait=60s", "--backend-latency=10s");
        List<RawClient> clients = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            clients.add(new RawClient(server).send("GET /api/items/" + i + " HTTP/1.1\r\nHost: x\r\n\r\n"));
        }
        awaitTrue("3 in flight, 5 queued", () -> server.limiter().inFlight() == 3 && server.limiter().queued() == 5);
        for (RawClient c : clients) {
            c.close();
        }
        // The permits come back as each channel's close future completes; the request ends when
        // channelInactive runs, a task later on the same loop: wait for both.
        awaitTrue("everything released", () -> server.limiter().availablePermits() == 3
                && server.limiter().queued() == 0 && server.limiter().inFlight() == 0);
        awaitTrue("every request ended", () -> server.activeRequests() == 0);
        assertThat(server.limiter().availablePermits()).isEqualTo(3);
    }

    @Test
    void twoHundredClientsLeavingWhileQueuedLeaveTheQueueEmptyAndThePermitsFullWithinOneSecond() throws Exception {
        server = start("--max-concurrent=4", "--max-queue=1000", "--max-queue-wait=10m", "--backend-latency=10m");
        List<RawClient> clients = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            clients.add(new RawClient(server).send("GET /api/items/" + i + " HTTP/1.1\r\nHost: x\r\n\r\n"));
        }
        Poll.until(Duration.ofSeconds(60), () -> server.limiter().inFlight() == 4 && server.limiter().queued() == 196);
        assertThat(server.limiter().inFlight() + " in flight, " + server.limiter().queued() + " queued, "
                + server.activeRequests() + " active").isEqualTo("4 in flight, 196 queued, 200 active");
        long start = System.nanoTime();
        for (RawClient c : clients) {
            c.close();
        }
        // The channel binding cancels each queued wait and ends each held permit when its
        // connection closes: no timeout, no backend answer needed.
        Poll.until(Duration.ofSeconds(5), () -> server.limiter().queued() == 0 && server.limiter().availablePermits() == 4);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(server.limiter().queued()).as("queue empty").isZero();
        assertThat(server.limiter().availablePermits()).as("permits full").isEqualTo(4);
        assertThat(millis).as("ms from the first disconnect to an empty queue and full permits").isLessThan(1000);
        awaitTrue("every request ended", () -> server.activeRequests() == 0 && server.limiter().inFlight() == 0);
        // Each wait ended once: cancelled with its client, or granted (a permit freed by a leaving
        // client goes to the next queued one, whose client is leaving too) and then given back.
        double cancelled = metric(server, "nettysync_limiter_refused_total{limiter=\"backend\",reason=\"cancelled\"}");
        double granted = metric(server, "nettysync_limiter_wait_seconds_count{limiter=\"backend\"}");
        assertThat(cancelled + granted).as(cancelled + " cancelled + " + granted + " granted").isEqualTo(200.0);
        assertThat(cancelled).isPositive();
        assertThat(metric(server, "nettysync_limiter_in_use{limiter=\"backend\"}")).isZero();
    }

    @Test
    void backendTimeoutIs504AndFailureIs502() throws Exception {
        ControlledBackend backend = new ControlledBackend();
        server = start(backend, null, "--max-concurrent=2", "--backend-timeout=200ms");
        HttpResponse<String> slow = get(server, "/api/items/slow");
        assertThat(slow.statusCode()).isEqualTo(504);
        assertThat(backend.cancelled()).as("the timed-out call is abandoned").isEqualTo(1);

        CompletableFuture<HttpResponse<String>> failing = getAsync(server, "/api/items/bad");
        awaitTrue("second call started", () -> backend.calls.get() == 2);
        backend.open.stream().filter(p -> !p.isDone()).forEach(p -> p.tryFailure(new java.io.IOException("boom")));
        assertThat(failing.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(502);
        awaitTrue("permits back to full", () -> server.limiter().availablePermits() == 2);
    }

    @Test
    void unlimitedModeStillServes() throws Exception {
        server = start("--max-concurrent=0");
        assertThat(get(server, "/api/items/1").statusCode()).isEqualTo(200);
        assertThat(server.limiter().permits()).isEqualTo(Integer.MAX_VALUE);
        String metrics = get(server, "/metrics").body();
        assertThat(metrics).as("no limit is exported as +Inf")
                .contains("\nnettysync_limiter_limit{limiter=\"backend\"} +Inf\n")
                .contains("\ndemo_limiter_admitted_max +Inf\n")
                .doesNotContain("2.147483647E9");
    }

    @Test
    void theSemaphoresMaximumIsNoLimitToo() throws Exception {
        // 2147483647 is the semaphore's maximum, which netty-sync reports as no limit: a limit no
        // server reaches (each call holds a connection, and connections are capped far below).
        server = start("--max-concurrent=2147483647");
        assertThat(server.limiter().isUnlimited()).isTrue();
        assertThat(get(server, "/metrics").body()).contains("\nnettysync_limiter_limit{limiter=\"backend\"} +Inf\n");
    }
}
