package dev.nettysync.demo;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;


import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/** RFC 9110 / 9112 details, over raw sockets: HEAD, Host, absolute-form, version, Expect, 404 body. */
class HttpSemanticsTest {

    private static GatewayServer server;

    @BeforeAll
    static void startServer() {
        server = start("--max-body=1000");
    }

    @AfterAll
    static void stopServer() {
        stop(server);
    }

    @Test
    void everyResponseIsTimedFromDecodeToFlushInMicrosecondBuckets() throws Exception {
        double before = responseLatencyCount(server, 404);
        try (RawClient c = new RawClient(server)) {
            for (int i = 0; i < 3; i++) {
                assertThat(status(c.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").readResponse())).isEqualTo(404);
            }
        }
        // The timer is recorded when the flush completes, a moment after the client has the bytes.
        awaitTrue("the three 404s are timed", () -> responseLatencyCount(server, 404) >= before + 3);
        assertThat(responseLatencyCount(server, 404)).isEqualTo(before + 3);
        assertThat(server.metrics().scrape())
                .as("buckets fine enough to judge a sub-millisecond answer")
                .containsPattern("demo_response_latency_seconds_bucket\\{status=\"404\",le=\"1\\.\\d+E-5\"}");
    }

    @Test
    void headIsAnsweredLikeGetWithoutABody() throws Exception {
        try (RawClient c = new RawClient(server)) {
            String live = c.send("HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n").readHead();
            assertThat(status(live)).isEqualTo(200);
            assertThat(live.toLowerCase()).contains("content-length: 5");
            String item = c.send("HEAD /api/items/7 HTTP/1.1\r\nHost: x\r\n\r\n").readHead();
            assertThat(status(item)).isEqualTo(200);
            assertThat(item.toLowerCase()).contains("content-type: application/json");
            // No body was sent: the next response on the connection starts right after the heads.
            String next = c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
            assertThat(next).startsWith("HTTP/1.1 200").endsWith("live\n");
        }
    }

    @Test
    void chunkedWithAContentLengthIs400AndCloses() throws Exception {
        // RFC 9112 §6.3: both framings at once may be an attempt at request smuggling. The
        // request "hidden" after the chunked body is never answered.
        String r = refusedAndClosed("POST /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                + "Content-Length: 40\r\n\r\n0\r\n\r\n", 400);
        assertThat(r).doesNotContain("HTTP/1.1 200");
    }

    @Test
    void aTransferCodingOtherThanChunkedIs501AndCloses() throws Exception {
        // RFC 9112 §6.1, as nginx: a coding the server does not implement. Before, Netty's
        // decoder read "gzip, chunked" as chunked and the request was served.
        for (String te : new String[] {"Transfer-Encoding: gzip, chunked", "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked"}) {
            String r = refusedAndClosed("GET /api/items/1 HTTP/1.1\r\nHost: x\r\n" + te + "\r\n\r\n" + HELLO_CHUNKED, 501);
            assertThat(r).contains("only the chunked transfer coding");
        }
    }

    @Test
    void aTransferEncodingThatDoesNotEndInChunkedIs400AndCloses() throws Exception {
        // RFC 9112 §6.3: the body's length cannot be determined.
        for (String te : new String[] {"chunked, gzip", "gzip", "chunked, chunked"}) {
            refusedAndClosed("GET /api/items/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + "\r\n\r\n"
                    + HELLO_CHUNKED, 400);
        }
    }

    @Test
    void anHttp10RequestWithTransferEncodingIs400AndCloses() throws Exception {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing (a 1.0
        // intermediary may have passed a chunked body on without decoding it): the server must
        // close after answering; nginx answers 400. Netty's decoder refuses it already; pinned.
        refusedAndClosed("GET /api/items/1 HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + HELLO_CHUNKED, 400);
    }

    /** A chunked body of one chunk, "hello". */
    private static final String HELLO_CHUNKED = "5\r\nhello\r\n0\r\n\r\n";

    /**
     * Sends {@code request} (head and body) with a second request right behind it, as a
     * smuggling attempt would, and checks the answer: {@code status}, {@code Connection: close},
     * and the second request never answered. Returns the answer.
     */
    private String refusedAndClosed(String request, int status) throws Exception {
        String r = exchangeAndClose(server, request + "GET /api/items/smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(status(r)).as(request + " -> " + r).isEqualTo(status);
        assertThat(r).containsIgnoringCase("connection: close").doesNotContain("smuggled");
        return r;
    }

    @Test
    void percentEncodedUnreservedCharactersInThePathAreDecoded() throws Exception {
        // RFC 3986 §6.2.2.2: %34%32 is 42. An encoded slash or a character no id allows stays 400,
        // a malformed escape is 400 too; the connection is kept.
        try (RawClient c = new RawClient(server)) {
            String r = c.send("GET /api/items/%34%32 HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
            assertThat(status(r)).as(r).isEqualTo(200);
            assertThat(r).contains("{\"id\":\"42\"");
            assertThat(status(c.send("GET /%61pi/items/%4b-%5F HTTP/1.1\r\nHost: x\r\n\r\n").readResponse())).isEqualTo(200);
            assertThat(status(c.send("GET /%6Civez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse())).isEqualTo(200);
            for (String id : new String[] {"4%2F2", "4%2f2", "%2E", "4%202", "%E2%82%AC", "%4", "%zz", "4%"}) {
                String bad = c.send("GET /api/items/" + id + " HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
                assertThat(status(bad)).as(id + ": " + bad).isEqualTo(400);
            }
            assertThat(status(c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse())).isEqualTo(200);
        }
    }

    @Test
    void otherMethodsAre405AllowingGetAndHead() throws Exception {
        try (RawClient c = new RawClient(server)) {
            String r = c.send("PUT /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").readResponse();
            assertThat(status(r)).isEqualTo(405);
            assertThat(r.toLowerCase()).contains("allow: get, head");
        }
    }

    @Test
    void missingHostIs400() throws Exception {
        String r = exchangeAndClose(server, "GET /livez HTTP/1.1\r\n\r\n");
        assertThat(status(r)).isEqualTo(400);
        assertThat(r).contains("missing Host header");
    }

    @Test
    void duplicateHostIs400() throws Exception {
        String r = exchangeAndClose(server, "GET /livez HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        assertThat(status(r)).isEqualTo(400);
        assertThat(r).contains("more than one Host header");
    }

    @Test
    void invalidHostIs400() throws Exception {
        String r = exchangeAndClose(server, "GET /livez HTTP/1.1\r\nHost: a b/c\r\n\r\n");
        assertThat(status(r)).isEqualTo(400);
    }

    @Test
    void http10NeedsNoHost() throws Exception {
        String r = exchangeAndClose(server, "GET /livez HTTP/1.0\r\n\r\n");
        assertThat(status(r)).isEqualTo(200);
    }

    @Test
    void absoluteFormTargetIsServed() throws Exception {
        try (RawClient c = new RawClient(server)) {
            String r = c.send("GET http://gateway.example:8080/api/items/abs?x=1 HTTP/1.1\r\nHost: gateway.example:8080\r\n\r\n")
                    .readResponse();
            assertThat(status(r)).isEqualTo(200);
            assertThat(r).contains("\"id\":\"abs\"");
            String live = c.send("GET HTTP://h/livez HTTP/1.1\r\nHost: h\r\n\r\n").readResponse();
            assertThat(status(live)).isEqualTo(200);
        }
    }

    @Test
    void otherMajorVersionsAre505() throws Exception {
        String r = exchangeAndClose(server, "GET /livez HTTP/3.0\r\nHost: x\r\n\r\n");
        assertThat(status(r)).isEqualTo(505);
        assertThat(r).containsIgnoringCase("connection: close");
        assertThat(requestCount(server, "other", 505)).isGreaterThanOrEqualTo(1);
    }

    @Test
    void expect100ContinueGetsAnInterimResponseAndIsCounted() throws Exception {
        double continues = scrapedCount(server, "demo_http_interim_responses_total{status=\"100\"}");
        double before405 = requestCount(server, "/api/items/{id}", 405);
        try (RawClient c = new RawClient(server)) {
            String interim = c.send("POST /api/items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                    + "Expect: 100-continue\r\n\r\n").readHead();
            assertThat(interim).startsWith("HTTP/1.1 100 Continue");
            String r = c.send("hi").readResponse();
            assertThat(status(r)).isEqualTo(405);
        }
        assertThat(scrapedCount(server, "demo_http_interim_responses_total{status=\"100\"}")).isEqualTo(continues + 1);
        assertThat(requestCount(server, "/api/items/{id}", 405)).isEqualTo(before405 + 1);
    }

    @Test
    void expect100ContinueWithTooLargeABodyIs413CountedAndClosed() throws Exception {
        double before = requestCount(server, "other", 413);
        String r = exchangeAndClose(server, "POST /api/items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                + "Expect: 100-continue\r\n\r\n");
        assertThat(status(r)).isEqualTo(413);
        assertThat(r).doesNotContain("100 Continue");
        assertThat(requestCount(server, "other", 413)).isEqualTo(before + 1);
    }

    @Test
    void unsupportedExpectationIs417AndCounted() throws Exception {
        double before = requestCount(server, "other", 417);
        try (RawClient c = new RawClient(server)) {
            String r = c.send("GET /livez HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n").readResponse();
            assertThat(status(r)).isEqualTo(417);
        }
        assertThat(requestCount(server, "other", 417)).isEqualTo(before + 1);
    }

    @Test
    void notFoundBodyEscapesControlAndNonAsciiBytes() throws Exception {
        try (RawClient c = new RawClient(server)) {
            // ESC [31m, a NUL, a DEL, and "é" as its two UTF-8 bytes (sent as ISO-8859-1 chars).
            String r = c.send("GET /x\u001b[31my\u0000z\u007fcaf\u00c3\u00a9 HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
            assertThat(status(r)).isEqualTo(404);
            String body = r.substring(r.indexOf("\r\n\r\n") + 4);
            assertThat(body).isEqualTo("no such resource: /x%1B[31my%00z%7Fcaf%C3%A9\n");
            assertThat(body.chars()).allMatch(ch -> ch >= 0x20 && ch < 0x7f || ch == '\n');
        }
    }
}
