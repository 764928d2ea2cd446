package dev.nettysync.demo;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code Expect: 100-continue} under pipelining, over a raw socket so that the exact order of
 * what the server writes is seen: the {@code 100 Continue} of a request goes out only once every
 * earlier request is answered (an interim response belongs to the request being answered, RFC
 * 9110 §15.2, RFC 9112 §9.3), a client that waits for it before sending its body gets it, and a
 * request refused whatever its body gets its final status instead, its body never read: a 503
 * (overload, database not ready), or a 429 over the client's rate, which is taken at the head
 * (once: an admitted request spends one token). The fleet rate's case: {@code FleetRateTest}.
 */
class ExpectContinueTest {

    private static final String ITEM_A = "GET /api/items/a HTTP/1.1\r\nHost: x\r\n\r\n";

    private final ControlledBackend backend = new ControlledBackend();
    private GatewayServer server;

    @AfterEach
    void stopServer() {
        while (backend.answerOne()) {
            // let the server drain
        }
        stop(server);
    }

    private static String expecting(String id, int length) {
        return "GET /api/items/" + id + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + length
                + "\r\nExpect: 100-continue\r\n\r\n";
    }

    private double continuesSent() {
        return server.metrics().registry().get("demo.http.interim.responses").counter().count();
    }

    @Test
    void theContinueOfAPipelinedRequestFollowsTheAnswerToTheOneBeforeIt() throws Exception {
        server = start(backend, null);
        awaitTrue("database ready", () -> server.dbReady().isSet());
        try (RawClient c = new RawClient(server)) {
            c.send(ITEM_A + expecting("b", 2));         // the body of b is sent only after its 100
            awaitTrue("request a calls the backend", () -> backend.open.size() == 1);
            assertThat(continuesSent()).as("no 100 while request a is answered").isZero();
            assertThat(backend.answerOne()).isTrue();

            String first = c.readResponse();
            assertThat(first).as("the answer to request a comes first").startsWith("HTTP/1.1 200 OK")
                    .contains("\"id\":\"x\"");
            assertThat(c.readHead()).as("then b's interim response").isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");
            c.send("hi");
            awaitTrue("request b calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(c.readResponse())).as("b's answer").isEqualTo(200);
            assertThat(status(c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse()))
                    .as("the connection still serves").isEqualTo(200);
        }
        assertThat(continuesSent()).isEqualTo(1);
    }

    @Test
    void aClientWaitingForItsContinueBehindPausedReadingGetsItOnceTheEarlierOnesAreAnswered() throws Exception {
        // 20 requests behind a slow one: the handler stops reading at its read-ahead (16), so the
        // head expecting 100 may still be unread then. It must still get its 100 (no deadlock).
        server = start(backend, null);
        awaitTrue("database ready", () -> server.dbReady().isSet());
        int livez = 20;
        try (RawClient c = new RawClient(server)) {
            c.send(ITEM_A + "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n".repeat(livez) + expecting("e", 2));
            awaitTrue("request a calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(c.readResponse())).isEqualTo(200);
            for (int i = 0; i < livez; i++) {
                assertThat(c.readResponse()).as("livez %d", i + 1).startsWith("HTTP/1.1 200").endsWith("live\n");
            }
            assertThat(c.readHead()).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");
            c.send("hi");
            awaitTrue("request e calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(c.readResponse())).isEqualTo(200);
        }
    }

    @Test
    void aRequestRefusedForOverloadGets503InsteadOf100AndItsBodyIsNeverAwaited() throws Exception {
        server = start(backend, null, "--max-concurrent=1", "--max-queue=0");
        awaitTrue("database ready", () -> server.dbReady().isSet());
        try (RawClient holder = new RawClient(server); RawClient c = new RawClient(server)) {
            holder.send(ITEM_A);
            awaitTrue("the only place is taken", () -> backend.open.size() == 1);

            c.send(expecting("b", 5));                  // its body is never sent
            String r = c.readResponse();
            assertThat(r).as("the final status, not 100").startsWith("HTTP/1.1 503")
                    .containsIgnoringCase("connection: close").contains("too many requests queued");
            assertThat(c.readUntilClosed()).as("nothing more, then the connection closes").isEmpty();
            assertThat(continuesSent()).isZero();
            assertThat(backend.calls.get()).as("no backend call for the refused request").isEqualTo(1);

            assertThat(backend.answerOne()).isTrue();
            assertThat(status(holder.readResponse())).isEqualTo(200);
        }
    }

    @Test
    void aRequestRefusedWhileTheDatabaseIsNotReadyGets503InsteadOf100() throws Exception {
        server = start(backend, new ManualReadiness(), "--before-ready=reject");
        try (RawClient c = new RawClient(server)) {
            String r = c.send(expecting("b", 5)).readResponse();
            assertThat(r).startsWith("HTTP/1.1 503").containsIgnoringCase("connection: close")
                    .contains("database not ready");
            assertThat(c.readUntilClosed()).isEmpty();
        }
        assertThat(continuesSent()).isZero();
    }

    @Test
    void aPipelinedRequestWithTooLargeABodyGets413InItsTurnInsteadOf100() throws Exception {
        server = start(backend, null, "--max-body=1024");
        awaitTrue("database ready", () -> server.dbReady().isSet());
        try (RawClient c = new RawClient(server)) {
            c.send(ITEM_A + expecting("b", 5000));
            awaitTrue("request a calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(c.readResponse())).isEqualTo(200);
            String r = c.readResponse();
            assertThat(r).startsWith("HTTP/1.1 413").containsIgnoringCase("connection: close");
            assertThat(c.readUntilClosed()).isEmpty();
        }
        assertThat(continuesSent()).isZero();
    }

    @Test
    void aClientOverItsRateGets429InsteadOf100AndItsBodyIsNeverAwaited() throws Exception {
        server = start(backend, null, "--per-client-rate=1", "--per-client-burst=1");
        awaitTrue("database ready", () -> server.dbReady().isSet());
        try (RawClient first = new RawClient(server); RawClient c = new RawClient(server)) {
            first.send(ITEM_A);                         // takes the client's only token
            awaitTrue("request a calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(first.readResponse())).isEqualTo(200);

            c.send(expecting("b", 5));                  // same client (127.0.0.1); its body is never sent
            String r = c.readResponse();
            assertThat(r).as("the 429, not 100").startsWith("HTTP/1.1 429").containsIgnoringCase("connection: close")
                    .containsIgnoringCase("retry-after: 1").containsIgnoringCase("ratelimit-policy: \"per-client\"")
                    .contains("too many requests from this client");
            assertThat(c.readUntilClosed()).as("nothing more, then the connection closes").isEmpty();
        }
        assertThat(continuesSent()).isZero();
        assertThat(backend.calls.get()).as("no backend call for the refused request").isEqualTo(1);
        assertThat(requestCount(server, "/api/items/{id}", 429)).isEqualTo(1);
    }

    @Test
    void anAdmittedClientGets100Then200AndSpendsExactlyOneToken() throws Exception {
        int burst = 100;                                // the rate (1/s) refills one token a second
        server = start(backend, null, "--per-client-rate=1", "--per-client-burst=" + burst);
        awaitTrue("database ready", () -> server.dbReady().isSet());
        long started = System.nanoTime();
        try (RawClient c = new RawClient(server)) {
            assertThat(c.send(expecting("b", 2)).readHead()).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");
            c.send("hi");
            awaitTrue("request b calls the backend", () -> backend.open.size() == 1);
            assertThat(backend.answerOne()).isTrue();
            assertThat(status(c.readResponse())).isEqualTo(200);
        }
        long available = server.context().perClient().statistics("127.0.0.1").available();
        long refilled = (System.nanoTime() - started) / 1_000_000_000L;   // whole seconds since: at most that many back
        assertThat(available).as("one token spent at the head, not again with the body (%d s refilled)", refilled)
                .isBetween(burst - 1L, burst - 1L + refilled);
        assertThat(continuesSent()).isEqualTo(1);
    }
}
