package dev.nettysync.demo;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code --upstream}: a second, local HTTP server (the JDK's) as the backend. */
class UpstreamBackendTest {

    private HttpServer upstream;
    private ExecutorService upstreamThreads;
    private final Set<Integer> upstreamClientPorts = ConcurrentHashMap.newKeySet(); // one per pooled connection
    private GatewayServer server;

    @BeforeEach
    void startUpstream() throws IOException {
        upstreamThreads = Executors.newFixedThreadPool(8);
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        upstream.setExecutor(upstreamThreads);
        upstream.createContext("/base/items/", this::serveItem);
        upstream.start();
    }

    /** On the JDK server's own threads, which may block. */
    private void serveItem(HttpExchange exchange) throws IOException {
        upstreamClientPorts.add(exchange.getRemoteAddress().getPort());
        String id = exchange.getRequestURI().getPath().substring("/base/items/".length());
        int status = 200;
        String body = "{\"id\":\"" + id + "\",\"source\":\"upstream\"}";
        switch (id) {
            case "missing" -> {
                status = 404;
                body = "not here";
            }
            case "boom" -> {
                status = 500;
                body = "upstream broke";
            }
            case "created" -> status = 201;
            case "empty" -> {
                exchange.sendResponseHeaders(204, -1);
                exchange.close();
                return;
            }
            case "slow" -> {
                try {
                    Thread.sleep(3_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            default -> { }
        }
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @AfterEach
    void tearDown() {
        stop(server);
        upstream.stop(0);
        upstreamThreads.shutdownNow();
    }

    private String upstreamUrl() {
        return "--upstream=http://127.0.0.1:" + upstream.getAddress().getPort() + "/base";
    }

    @Test
    void answersFromTheUpstreamOverPooledConnections() throws Exception {
        server = start(upstreamUrl(), "--max-concurrent=4");
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> r = get(server, "/api/items/u" + i);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("{\"id\":\"u" + i + "\",\"source\":\"upstream\"}");
            assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        }
        // Ten calls in sequence from one client connection (one event loop): one pooled connection.
        assertThat(upstreamClientPorts).as("upstream connections used").hasSize(1);
    }

    @Test
    void theUpstreamsSuccessStatusIsPassedThrough() throws Exception {
        // Before, every 2xx became a 200: a 204 a 200 with an empty application/octet-stream body.
        server = start(upstreamUrl());
        try (RawClient c = new RawClient(server)) {
            String empty = c.send("GET /api/items/empty HTTP/1.1\r\nHost: x\r\n\r\n").readHead();
            assertThat(status(empty)).as(empty).isEqualTo(204);
            assertThat(empty.toLowerCase()).doesNotContain("content-type").doesNotContain("content-length");
            String created = c.send("GET /api/items/created HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
            assertThat(status(created)).as(created).isEqualTo(201);
            assertThat(created).endsWith("{\"id\":\"created\",\"source\":\"upstream\"}");
            // Nothing of a body after the 204: the next answer on the connection starts right after it.
            assertThat(c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse()).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void concurrentCallsStayWithinTheLimitAndThePool() throws Exception {
        server = start(upstreamUrl(), "--max-concurrent=3", "--max-queue=100", "--max-queue-wait=60s");
        List<CompletableFuture<HttpResponse<String>>> responses = getItemsAsync(server, "c", 30);
        assertAllAnswered(200, responses);
        assertThat(server.limiter().peakInFlight()).isBetween(1, 3);
        // At most 3 calls at once, each loop's pool opening at most what it needed at once.
        assertThat(upstreamClientPorts.size()).as("upstream connections opened").isBetween(1, 6);
    }

    @Test
    void upstreamStatusesMapTo404And502() throws Exception {
        server = start(upstreamUrl());
        assertThat(get(server, "/api/items/missing").statusCode()).isEqualTo(404);
        HttpResponse<String> boom = get(server, "/api/items/boom");
        assertThat(boom.statusCode()).isEqualTo(502);
        assertThat(boom.body()).contains("500");
        assertThat(get(server, "/api/items/fine").statusCode()).as("pool still healthy").isEqualTo(200);
    }

    @Test
    void slowUpstreamIs504AndItsConnectionIsNotReused() throws Exception {
        // 1 s: the slow call (3 s) still times out, and a fresh connection's call has room on a
        // loaded machine (at 300 ms the second call itself was once answered 504).
        server = start(upstreamUrl(), "--backend-timeout=1s", "--io-threads=1");
        assertThat(get(server, "/api/items/slow").statusCode()).isEqualTo(504);
        awaitTrue("permit back", () -> server.limiter().availablePermits() == server.limiter().permits());
        HttpResponse<String> next = get(server, "/api/items/after");
        assertThat(next.statusCode()).isEqualTo(200);
        assertThat(next.body()).contains("after");
        assertThat(upstreamClientPorts).as("a fresh connection after the abandoned one").hasSize(2);
        assertThat(metric(server, "demo_backend_calls_seconds_count{outcome=\"timeout\"}")).isEqualTo(1.0);
    }

    /**
     * RFC 9110 §15.2: a client must parse any number of interim responses before the final one,
     * expected or not. An upstream that sends {@code 103 Early Hints} (or an unasked
     * {@code 100 Continue}) before its {@code 200} is answered with that 200, and the pooled
     * connection stays in step for the next call.
     */
    @Test
    void interimResponsesFromTheUpstreamAreSkipped() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        try (ServerSocket raw = new ServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress())) {
            upstreamThreads.execute(() -> serveWithInterimResponses(raw, accepted));
            server = start("--upstream=http://127.0.0.1:" + raw.getLocalPort(), "--io-threads=1");
            for (String id : List.of("hints", "continue", "both")) {
                HttpResponse<String> r = get(server, "/api/items/" + id);
                assertThat(r.statusCode()).as(id).isEqualTo(200);
                assertThat(r.body()).as(id).isEqualTo("{\"id\":\"" + id + "\"}");
            }
            assertThat(accepted).as("upstream connections: the first one reused").hasValue(1);
            assertThat(metric(server, "demo_backend_calls_seconds_count{outcome=\"ok\"}")).isEqualTo(3.0);
        }
    }

    /** On an upstream thread: answers each request of each connection with interim responses, then 200. */
    private static void serveWithInterimResponses(ServerSocket raw, AtomicInteger accepted) {
        while (!raw.isClosed()) {
            try (Socket s = raw.accept()) {
                accepted.incrementAndGet();
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                String head;
                while ((head = readHead(in)) != null) {
                    String id = head.substring(head.indexOf("/items/") + "/items/".length(), head.indexOf(" HTTP/"));
                    String interim = switch (id) {
                        case "hints" -> "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
                        case "continue" -> "HTTP/1.1 100 Continue\r\n\r\n";
                        default -> "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n"
                                + "HTTP/1.1 103 Early Hints\r\n\r\n";
                    };
                    String body = "{\"id\":\"" + id + "\"}";
                    out.write((interim + "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                            + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
            } catch (IOException e) {
                // closed by the test, or the gateway closed the connection: accept the next one
            }
        }
    }

    /** The request head up to its blank line (the gateway's GET has no body), or null at end of stream. */
    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        int b;
        while ((b = in.read()) != -1) {
            head.append((char) b);
            if (head.length() >= 4 && head.lastIndexOf("\r\n\r\n") == head.length() - 4) {
                return head.toString();
            }
        }
        return null;
    }

    @Test
    void unreachableUpstreamIs502() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        server = start("--upstream=http://127.0.0.1:" + closedPort);
        HttpResponse<String> r = get(server, "/api/items/1");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(metric(server, "demo_backend_calls_seconds_count{outcome=\"error\"}")).isEqualTo(1.0);
        awaitTrue("permit back", () -> server.limiter().availablePermits() == server.limiter().permits());
    }
}
