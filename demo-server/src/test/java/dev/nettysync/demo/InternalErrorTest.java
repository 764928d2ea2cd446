package dev.nettysync.demo;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A bug on the server's side (here, a {@link Backend} that breaks its contract in each way it
 * can) is answered 500, logged once, gives back everything the request held, and the server
 * keeps serving.
 */
class InternalErrorTest {

    /** Breaks the {@link Backend} contract in the way the item id names; other ids are served. */
    static final class BuggyBackend implements Backend {
        @Override
        public Future<BackendResponse> fetch(String id, EventLoop loop) {
            return switch (id) {
                case "throws" -> throw new IllegalStateException("bug-" + id);
                case "null-future" -> null;
                case "null-response" -> loop.newSucceededFuture(null);
                case "null-body" -> loop.newSucceededFuture(new BackendResponse(200, null, Responses.JSON));
                case "null-later" -> {             // answered in a listener, not on the request's own path
                    Promise<BackendResponse> p = loop.newPromise();
                    loop.schedule(() -> p.setSuccess(null), 10, TimeUnit.MILLISECONDS);
                    yield p;
                }
                default -> loop.newSucceededFuture(new BackendResponse(200, SimulatedBackend.body(id), Responses.JSON));
            };
        }

        @Override
        public void close() {
        }
    }

    private static GatewayServer server;

    @BeforeAll
    static void startServer() {
        server = start(new BuggyBackend(), null, "--max-concurrent=2", "--max-queue=4");
    }

    @AfterAll
    static void stopServer() {
        stop(server);
    }

    @ParameterizedTest
    @ValueSource(strings = {"throws", "null-future", "null-response", "null-body", "null-later"})
    void aBugIsAnswered500LoggedOnceAndLosesNothing(String id) throws Exception {
        double flushed500 = responseLatencyCount(server, 500);
        try (WarningLog log = new WarningLog()) {
            HttpResponse<String> r = getAsyncNewConnection(server, "/api/items/" + id).get(30, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(id).isEqualTo(500);
            assertThat(r.body()).isEqualTo("internal server error\n");
            awaitTrue("the request ended", () -> server.activeRequests() == 0);
            assertThat(server.limiter().admitted()).as("admission places").isZero();
            assertThat(server.limiter().inFlight()).as("in flight").isZero();
            assertThat(server.limiter().availablePermits()).as("permits").isEqualTo(2);
            assertThat(log.records).as("logged once, with the cause").hasSize(1);
            assertThat(log.records.get(0).getLevel().intValue()).isGreaterThanOrEqualTo(Level.WARNING.intValue());
        }
        assertThat(get(server, "/api/items/fine").statusCode()).as("still serving").isEqualTo(200);
        assertThat(get(server, "/metrics").body()).contains("status=\"500\"");
        awaitTrue("the 500 is in demo_response_latency_seconds",
                () -> responseLatencyCount(server, 500) >= flushed500 + 1);
    }

    /** Every record at WARNING or above, from any logger, while open. */
    static final class WarningLog extends Handler implements AutoCloseable {
        final List<LogRecord> records = new CopyOnWriteArrayList<>();
        private final Logger root = Logger.getLogger("");

        WarningLog() {
            root.addHandler(this);
        }

        @Override
        public void publish(LogRecord r) {
            if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                records.add(r);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            root.removeHandler(this);
        }
    }
}
