package dev.nettysync.demo;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A backend that answers every item after a fixed latency, timed on the caller's event loop (a
 * scheduled task, never a sleeping thread); latency 0 answers at once. Cancelling a call cancels
 * its timer. Stateless and thread-safe.
 */
public final class SimulatedBackend implements Backend {

    private final long latencyNanos;

    public SimulatedBackend(Duration latency) {
        this.latencyNanos = latency.toNanos();
    }

    @Override
    public Future<BackendResponse> fetch(String id, EventLoop loop) {
        BackendResponse answer = new BackendResponse(200, body(id), "application/json");
        if (latencyNanos <= 0) {
            return loop.newSucceededFuture(answer);
        }
        Promise<BackendResponse> promise = loop.newPromise();
        ScheduledFuture<?> timer = loop.schedule(() -> {
            promise.trySuccess(answer);
        }, latencyNanos, TimeUnit.NANOSECONDS);
        promise.addListener(f -> {
            if (f.isCancelled()) {
                timer.cancel(false);
            }
        });
        return promise;
    }

    static byte[] body(String id) {
        // id is validated by the router: [A-Za-z0-9_-]+, nothing to escape
        return ("{\"id\":\"" + id + "\",\"name\":\"item " + id + "\",\"source\":\"simulated\"}")
                .getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        // nothing held
    }
}
