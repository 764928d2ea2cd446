package dev.nettysync.demo;

import dev.nettysync.AsyncEvent;
import dev.nettysync.testing.Poll;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Shared helpers of the integration tests: server start, clients, polling. */
final class TestSupport {

    /** Generous: CI machines are slow and shared; nothing here waits this long when all is well. */
    static final Duration PATIENCE = Duration.ofSeconds(30);

    static final HttpClient CLIENT = newClient();

    private TestSupport() {
    }

    /** An HTTP/1.1 client with its own connection pool. */
    private static HttpClient newClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(PATIENCE).build();
    }

    /** Flags every test server gets, before the test's own (later flags win). */
    static DemoConfig config(String... args) {
        List<String> all = new ArrayList<>(List.of("--host=127.0.0.1", "--port=0", "--io-threads=2",
                "--db-ready-delay=0", "--backend-latency=0", "--drain-timeout=20s"));
        all.addAll(List.of(args));
        return DemoConfig.parse(all.toArray(String[]::new));
    }

    static GatewayServer start(String... args) {
        return GatewayServer.start(config(args));
    }

    static GatewayServer start(Backend backend, DbReadiness readiness, String... args) {
        return GatewayServer.start(config(args), backend, readiness);
    }

    /** Shuts the server down and waits for it (test thread: may block). */
    static void stop(GatewayServer server) {
        if (server != null) {
            assertThat(server.shutdown().awaitUninterruptibly(PATIENCE.toMillis())).as("server stopped").isTrue();
        }
    }

    static URI uri(GatewayServer server, String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    static HttpResponse<String> get(GatewayServer server, String path) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(uri(server, path)).timeout(PATIENCE).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /**
     * As {@link #getAsync}, on a client of its own, so on a new connection: for servers with
     * short idle timeouts, where reusing a pooled connection would race the server closing it.
     */
    static CompletableFuture<HttpResponse<String>> getAsyncNewConnection(GatewayServer server, String path) {
        return newClient().sendAsync(HttpRequest.newBuilder(uri(server, path)).timeout(PATIENCE).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static CompletableFuture<HttpResponse<String>> getAsync(GatewayServer server, String path) {
        return CLIENT.sendAsync(HttpRequest.newBuilder(uri(server, path)).timeout(PATIENCE).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Sends {@code n} requests at once, for items {@code idPrefix + 0} to {@code idPrefix + (n - 1)}, in that order. */
    static List<CompletableFuture<HttpResponse<String>>> getItemsAsync(GatewayServer server, String idPrefix, int n) {
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            responses.add(getAsync(server, "/api/items/" + idPrefix + i));
        }
        return responses;
    }

    /** Each of {@code responses} arrives within {@link #PATIENCE}, with {@code status}. */
    static void assertAllAnswered(int status, List<CompletableFuture<HttpResponse<String>>> responses) throws Exception {
        for (CompletableFuture<HttpResponse<String>> r : responses) {
            assertThat(r.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(status);
        }
    }

    /** Polls {@code condition} until it holds; fails with {@code what} after {@link #PATIENCE}. */
    static void awaitTrue(String what, BooleanSupplier condition) throws InterruptedException {
        Poll.assertEventually(what, PATIENCE, condition);
    }

    /** The value of an unlabelled sample (or the first matching line) in the Prometheus text. */
    static double metric(GatewayServer server, String sampleStart) throws IOException, InterruptedException {
        String text = get(server, "/metrics").body();
        for (String line : text.split("\n")) {
            if (line.startsWith(sampleStart + " ")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no sample " + sampleStart + " in /metrics:\n" + text);
    }

    /**
     * The value of {@code sample} (a name with its labels, as printed) in the server's own
     * scrape, without a request; fails if there is no such sample.
     */
    static double scraped(GatewayServer server, String sample) {
        OptionalDouble v = find(server, sample);
        if (v.isEmpty()) {
            throw new AssertionError("no sample " + sample);
        }
        return v.getAsDouble();
    }

    /** As {@link #scraped}, for a counter: 0 before its first increment (when it has no sample yet). */
    static double scrapedCount(GatewayServer server, String sample) {
        return find(server, sample).orElse(0);
    }

    /** {@code demo_response_latency_seconds_count{status}}: responses flushed with {@code status}. */
    static double responseLatencyCount(GatewayServer server, int status) {
        return scrapedCount(server, "demo_response_latency_seconds_count{status=\"" + status + "\"}");
    }

    /** {@code demo_http_requests_seconds_count{route,status}}: requests of {@code route} answered {@code status}. */
    static double requestCount(GatewayServer server, String route, int status) {
        return scrapedCount(server, "demo_http_requests_seconds_count{route=\"" + route + "\",status=\"" + status + "\"}");
    }

    private static OptionalDouble find(GatewayServer server, String sample) {
        String prefix = sample + " ";
        for (String line : server.metrics().scrape().split("\n")) {
            if (line.startsWith(prefix)) {
                return OptionalDouble.of(Double.parseDouble(line.substring(prefix.length())));
            }
        }
        return OptionalDouble.empty();
    }

    /** Sends {@code request} on a new raw connection and returns all the server sent until it closed it. */
    static String exchangeAndClose(GatewayServer server, String request) throws IOException {
        try (RawClient c = new RawClient(server)) {
            return c.send(request).readUntilClosed();
        }
    }

    /** A raw TCP client, for malformed requests and disconnects. */
    static final class RawClient implements AutoCloseable {
        final Socket socket;

        RawClient(GatewayServer server) throws IOException {
            socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", server.port()), (int) PATIENCE.toMillis());
            socket.setSoTimeout((int) PATIENCE.toMillis());
        }

        RawClient send(String text) throws IOException {
            OutputStream out = socket.getOutputStream();
            out.write(text.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return this;
        }

        /** Reads until the server closes the connection; returns everything read. */
        String readUntilClosed() throws IOException {
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            byte[] chunk = new byte[8192];
            int n;
            try {
                while ((n = in.read(chunk)) != -1) {
                    buf.write(chunk, 0, n);
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError("server did not close the connection within " + PATIENCE
                        + "; read so far: " + buf.toString(StandardCharsets.ISO_8859_1), e);
            } catch (IOException e) {
                // connection reset after the response: what was read is the answer
            }
            return buf.toString(StandardCharsets.ISO_8859_1);
        }

        /** Reads one response head and its content-length body. */
        String readResponse() throws IOException {
            String head = readHead();
            int length = 0;
            for (String line : head.split("\r\n")) {
                if (line.toLowerCase().startsWith("content-length:")) {
                    length = Integer.parseInt(line.substring(15).trim());
                }
            }
            byte[] body = socket.getInputStream().readNBytes(length);
            return head + new String(body, StandardCharsets.ISO_8859_1);
        }

        /** Reads one response head only (the answer to HEAD, or an interim 1xx). */
        String readHead() throws IOException {
            InputStream in = socket.getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b == -1) {
                    throw new IOException("closed after: " + head);
                }
                head.append((char) b);
            }
            return head.toString();
        }

        /** True if the server closed the connection (EOF or reset) within {@code millis}, without sending more. */
        boolean closedWithin(int millis) throws IOException {
            socket.setSoTimeout(millis);
            try {
                return socket.getInputStream().read() == -1;
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException e) {
                return true;               // reset
            } finally {
                socket.setSoTimeout((int) PATIENCE.toMillis());
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** Status code of a raw response text. */
    static int status(String rawResponse) {
        assertThat(rawResponse).as("raw response").startsWith("HTTP/1.1 ");
        return Integer.parseInt(rawResponse.substring(9, 12));
    }

    /**
     * A backend the test drives: each call is recorded with its promise, which the test
     * completes (or watches being cancelled).
     */
    static final class ControlledBackend implements Backend {
        final ConcurrentLinkedQueue<Promise<BackendResponse>> open = new ConcurrentLinkedQueue<>();
        final List<Promise<BackendResponse>> all = new CopyOnWriteArrayList<>();
        final AtomicInteger calls = new AtomicInteger();

        @Override
        public Future<BackendResponse> fetch(String id, EventLoop loop) {
            calls.incrementAndGet();
            Promise<BackendResponse> p = loop.newPromise();
            open.add(p);
            all.add(p);
            return p;
        }

        /** Answers the oldest open call with 200 (on its loop); returns false if none is open. */
        boolean answerOne() {
            Promise<BackendResponse> p = open.poll();
            if (p == null) {
                return false;
            }
            p.trySuccess(new BackendResponse(200, SimulatedBackend.body("x"), "application/json"));
            return true;
        }

        long cancelled() {
            return all.stream().filter(Future::isCancelled).count();
        }

        @Override
        public void close() {
        }
    }

    /** Readiness that the test sets by hand through {@code server.dbReady().set()}. */
    static final class ManualReadiness implements DbReadiness {
        @Override
        public void start(EventLoopGroup loops, AsyncEvent dbReady) {
        }

        @Override
        public void stop() {
        }

        @Override
        public String describe() {
            return "set by the test";
        }
    }
}
