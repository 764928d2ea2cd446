package dev.nettysync.demo;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input of every kind gets its status (and the connection closed where the stream cannot be
 * trusted), while a healthy client on another connection keeps being served: each test starts a
 * healthy request before the bad one and checks it after.
 */
class BadInputTest {

    private static GatewayServer server;   // short idle timeout: test clients use new connections

    @BeforeAll
    static void startServer() {
        server = start("--max-initial-line=1024", "--max-header-size=2048", "--max-body=1000",
                "--idle-timeout=500ms", "--request-read-timeout=500ms", "--backend-latency=100ms");
    }

    @AfterAll
    static void stopServer() {
        stop(server);
    }

    /** Runs {@code bad} while a healthy request is in flight, and checks the healthy one after. */
    private static void alongsideHealthy(ThrowingRunnable bad) throws Exception {
        CompletableFuture<HttpResponse<String>> healthy = getAsyncNewConnection(server, "/api/items/healthy");
        bad.run();
        HttpResponse<String> r = healthy.get(30, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as("healthy client").isEqualTo(200);
        assertThat(getAsyncNewConnection(server, "/livez").get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void malformedRequestLineIs400AndCloses() throws Exception {
        alongsideHealthy(() -> {
            String r = exchangeAndClose(server, "THIS IS NOT HTTP\r\n\r\n");
            assertThat(status(r)).isEqualTo(400);
            assertThat(r).containsIgnoringCase("connection: close");
        });
    }

    @Test
    void invalidHeaderNameIs400() throws Exception {
        alongsideHealthy(() -> {
            String r = exchangeAndClose(server, "GET /livez HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n");
            assertThat(status(r)).isEqualTo(400);
        });
    }

    @Test
    void uriTooLongIs414() throws Exception {
        alongsideHealthy(() -> {
            String r = exchangeAndClose(server, "GET /api/items/" + "a".repeat(3000) + " HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(status(r)).isEqualTo(414);
        });
    }

    @Test
    void headersTooLargeIs431() throws Exception {
        alongsideHealthy(() -> {
            String r = exchangeAndClose(server, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(4000) + "\r\n\r\n");
            assertThat(status(r)).isEqualTo(431);
        });
    }

    @Test
    void bodyTooLargeIs413() throws Exception {
        alongsideHealthy(() -> {
            String r = exchangeAndClose(server, "POST /api/items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
                    + "z".repeat(5000));
            assertThat(status(r)).isEqualTo(413);
            assertThat(r).containsIgnoringCase("connection: close");
        });
    }

    @Test
    void chunkedBodyTooLargeIs413() throws Exception {
        alongsideHealthy(() -> {
            String chunk = "z".repeat(600);
            String r = exchangeAndClose(server, "POST /api/items/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
            assertThat(status(r)).isEqualTo(413);
        });
    }

    @Test
    void aChunkDeclaredLargerThanTheLimitIs413AtOnceNot408AfterTheReadTimeout() throws Exception {
        // As nginx: the chunk-size line says enough. The client sends 2 bytes of a 2 GiB chunk
        // and stalls; before, nothing happened until the read timeout: 408 (and a size past
        // Netty's int, 2 GiB or more, was a 400 "malformed request").
        for (String size : new String[] {"7fffffff", "80000000", "0000000000000000000000000003e9"}) {
            alongsideHealthy(() -> {
                try (RawClient c = new RawClient(server)) {
                    String r = c.send("POST /api/items/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + size + "\r\nzz").readUntilClosed();
                    assertThat(status(r)).as(size + ": " + r).isEqualTo(413);
                    assertThat(r).containsIgnoringCase("connection: close");
                }
            });
        }
    }

    @Test
    void chunkSizesAddUpAgainstTheLimit() throws Exception {
        // 600 bytes sent, then a second chunk of 600 declared: 1,200 > 1,000, refused on its size line.
        alongsideHealthy(() -> {
            try (RawClient c = new RawClient(server)) {
                String r = c.send("POST /api/items/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "258\r\n" + "z".repeat(600) + "\r\n258;ext=1\r\nzz").readUntilClosed();
                assertThat(status(r)).as(r).isEqualTo(413);
            }
        });
    }

    @Test
    void aChunkedBodyOfExactlyTheLimitIsReadAndTheNextRequestServed() throws Exception {
        try (RawClient c = new RawClient(server)) {
            c.send("GET /api/items/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "1f4;name=value\r\n" + "a".repeat(500) + "\r\n1F4\r\n" + "0".repeat(500) + "\r\n"
                    + "0\r\nX-Trailer: t\r\n\r\n"
                    + "GET /api/items/2 HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(c.readResponse()).startsWith("HTTP/1.1 200").contains("\"id\":\"1\"");
            assertThat(c.readResponse()).startsWith("HTTP/1.1 200").contains("\"id\":\"2\"");
        }
    }

    @Test
    void unknownPathIs404AndKeepsTheConnection() throws Exception {
        alongsideHealthy(() -> {
            try (RawClient c = new RawClient(server)) {
                String r = c.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
                assertThat(status(r)).isEqualTo(404);
                String again = c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
                assertThat(status(again)).as("same connection still served").isEqualTo(200);
            }
        });
    }

    @Test
    void wrongMethodIs405WithAllow() throws Exception {
        alongsideHealthy(() -> {
            try (RawClient c = new RawClient(server)) {
                String r = c.send("DELETE /api/items/1 HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
                assertThat(status(r)).isEqualTo(405);
                assertThat(r.toLowerCase()).contains("allow: get");
                String m = c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi").readResponse();
                assertThat(status(m)).isEqualTo(405);
            }
        });
    }

    @Test
    void invalidItemIdIs400() throws Exception {
        alongsideHealthy(() -> assertThat(getAsyncNewConnection(server, "/api/items/bad%20id")
                .get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(400));
    }

    @Test
    void idleConnectionIsClosedWithoutAResponse() throws Exception {
        alongsideHealthy(() -> {
            try (RawClient c = new RawClient(server)) {
                assertThat(c.readUntilClosed()).as("nothing written to an idle connection").isEmpty();
            }
        });
    }

    @Test
    void idleKeepAliveConnectionIsClosedAfterItsResponse() throws Exception {
        try (RawClient c = new RawClient(server)) {
            assertThat(status(c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse())).isEqualTo(200);
            assertThat(c.readUntilClosed()).isEmpty();
        }
    }

    @Test
    void slowHeadersGet408AndClose() throws Exception {
        alongsideHealthy(() -> {
            try (RawClient c = new RawClient(server)) {
                c.send("GET /api/items/1 HTTP/1.1\r\nHost: x\r\n");      // and never the blank line
                String r = c.readUntilClosed();
                assertThat(status(r)).isEqualTo(408);
            }
        });
    }

    @Test
    void aPipelinedRequestCutMidWayGets408AtTheReadTimeoutNotTheIdleTimeout() throws Exception {
        // A server whose idle timeout is long: the 408 must come from the read timeout.
        GatewayServer patient = start("--idle-timeout=60s", "--request-read-timeout=300ms", "--backend-latency=200ms");
        try (RawClient c = new RawClient(patient)) {
            long t0 = System.nanoTime();
            c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /api/items/2 HTTP/1.1\r\nHost: x\r\n");
            assertThat(status(c.readResponse())).isEqualTo(200);
            String rest = c.readUntilClosed();
            assertThat(status(rest)).isEqualTo(408);
            assertThat(rest).containsIgnoringCase("connection: close");
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).as("seconds until the 408").isLessThan(30);
            // Headers without their blank line, sent while a slow request is in progress.
            try (RawClient d = new RawClient(patient)) {
                d.send("GET /api/items/slow HTTP/1.1\r\nHost: x\r\n\r\n").send("GET /livez HTTP/1.1\r\nHost: x\r\n");
                assertThat(status(d.readResponse())).isEqualTo(200);
                assertThat(status(d.readUntilClosed())).isEqualTo(408);
            }
        } finally {
            stop(patient);
        }
    }

    @Test
    void aClientThatNeverReadsItsAnswersIsClosedAfterTheIdleTimeout() throws Exception {
        // Before: no deadline ran while an answer was being written, so a client that pipelines
        // requests and never reads held its connection (and a place under --max-connections) for
        // ever once the socket buffers were full, long past the idle timeout.
        GatewayServer s = start("--idle-timeout=500ms");
        try (java.net.Socket c = new java.net.Socket()) {
            c.setReceiveBufferSize(4096);
            c.connect(new java.net.InetSocketAddress("127.0.0.1", s.port()), (int) PATIENCE.toMillis());
            c.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000)
                    .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            awaitTrue("connected", () -> s.openConnections() == 1);
            awaitTrue("the connection closed", () -> s.openConnections() == 0);
            assertThat(s.activeRequests()).isZero();
        } finally {
            stop(s);
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        try (RawClient c = new RawClient(server)) {
            c.send("GET /api/items/p1 HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /api/items/p3 HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(c.readResponse()).contains("\"id\":\"p1\"");
            assertThat(c.readResponse()).endsWith("live\n");
            assertThat(c.readResponse()).contains("\"id\":\"p3\"");
        }
    }

    @Test
    void http10ConnectionsStayOpenOnlyWhenAsked() throws Exception {
        String plain = exchangeAndClose(server, "GET /livez HTTP/1.0\r\n\r\n");
        assertThat(status(plain)).isEqualTo(200);
        assertThat(plain).doesNotContainIgnoringCase("keep-alive");
        try (RawClient c = new RawClient(server)) {
            String first = c.send("GET /livez HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").readResponse();
            assertThat(first).containsIgnoringCase("connection: keep-alive");
            String second = c.send("GET /api/items/k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").readResponse();
            assertThat(status(second)).isEqualTo(200);
        }
    }

    /**
     * Every answer the server sends is in {@code demo_response_latency_seconds}, bad input and
     * the 408 of a stalled request included (before: the 408, written by the deadline handler
     * rather than the gateway, was missing there).
     */
    @Test
    void everyAnswerToBadInputIsInTheResponseLatencyMetric() throws Exception {
        java.util.Map<Integer, String> requests = java.util.Map.of(
                400, "THIS IS NOT HTTP\r\n\r\n",
                413, "POST /api/items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + "z".repeat(5000),
                431, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(4000) + "\r\n\r\n",
                408, "GET /api/items/1 HTTP/1.1\r\nHost: x\r\n");      // never the blank line
        for (java.util.Map.Entry<Integer, String> e : requests.entrySet()) {
            int code = e.getKey();
            double before = responseLatencyCount(server, code);
            assertThat(status(exchangeAndClose(server, e.getValue()))).isEqualTo(code);
            awaitTrue("demo_response_latency_seconds_count{status=\"" + code + "\"} counts the answer",
                    () -> responseLatencyCount(server, code) >= before + 1);
        }
    }

    @Test
    void badInputIsCountedInMetrics() throws Exception {
        exchangeAndClose(server, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(4000) + "\r\n\r\n");
        String metrics = getAsyncNewConnection(server, "/metrics").get(30, TimeUnit.SECONDS).body();
        assertThat(metrics).containsPattern("demo_http_requests_seconds_count\\{route=\"other\",status=\"431\"} [1-9]");
    }
}
