package dev.nettysync.demo;

import com.netflix.concurrency.limits.limit.AbstractLimit;
import dev.nettysync.adaptive.AdaptiveLimiter;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code --limit=adaptive[:ALG]}: what each way a call ends tells the algorithm, and the server end to end. */
class AdaptiveLimitTest {

    // The limiter's waits are timed, so they need an executor that can schedule: a real loop,
    // with each scenario run on it (listeners then run inline, in order).
    private final MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final EventLoop loop = group.next();
    // The channel a ticket's call is bound to (a client that leaves frees its place); registered
    // on `loop`, never connected.
    private final Channel channel = registered(new NioSocketChannel());

    private Channel registered(Channel ch) {
        loop.register(ch).syncUninterruptibly();
        return ch;
    }

    /** A Netflix limit that records what it is told and never moves. */
    private static final class RecordingLimit extends AbstractLimit {
        final List<Boolean> drops = new ArrayList<>();    // one per sample: didDrop; guarded by this

        RecordingLimit() {
            super(2);
        }

        @Override
        protected int _update(long startTime, long rtt, int inflight, boolean didDrop) {
            drops.add(didDrop);
            return getLimit();
        }

        synchronized List<Boolean> drops() {
            return List.copyOf(drops);
        }
    }

    private final RecordingLimit algorithm = new RecordingLimit();
    private final BackendLimiter limiter = BackendLimiter.adaptive(
            AdaptiveLimiter.builder().limit(algorithm).maxLimit(10).sampleWindow(Duration.ZERO).build(),
            10, 100, Duration.ofSeconds(60), new DemoMetrics());
    private GatewayServer server;

    @AfterEach
    void tearDown() {
        stop(server);
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Runs one call through the limiter and returns the backend's promise to complete. */
    private Promise<String> call(Future<String>[] result) {
        Promise<String> backend = loop.newPromise();
        Admission.Ticket ticket = limiter.enter(loop).getNow();
        result[0] = ticket.call(channel, () -> backend);
        return backend;
    }

    /** Runs {@code scenario} on the loop and rethrows what it threw. */
    private void onLoop(Runnable scenario) throws Exception {
        Future<?> f = loop.submit(scenario);
        assertThat(f.await(30, TimeUnit.SECONDS)).isTrue();
        if (f.cause() instanceof Error e) {
            throw e;
        }
        if (f.cause() != null) {
            throw new AssertionError(f.cause());
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void anAnswerIsASampleATimeoutADropACancelNothing() throws Exception {
        onLoop(this::answerTimeoutCancelFailure);
    }

    @SuppressWarnings("unchecked")
    private void answerTimeoutCancelFailure() {
        Future<String>[] r = new Future[1];
        call(r).setSuccess("ok");
        assertThat(algorithm.drops()).containsExactly(false);

        call(r).setFailure(new BackendTimeoutException(Duration.ofMillis(5)));
        assertThat(algorithm.drops()).containsExactly(false, true);

        Promise<String> gone = call(r);
        r[0].cancel(false);                      // the client went away: the handler cancels
        gone.cancel(false);                      // the call too, and its permit ends ignored
        assertThat(algorithm.drops()).as("a cancel is no sample").containsExactly(false, true);

        call(r).setFailure(new IOException("backend said no"));
        assertThat(algorithm.drops()).as("a failure that is not overload is a plain sample")
                .containsExactly(false, true, false);

        assertThat(limiter.inFlight()).isZero();
        assertThat(limiter.admitted()).isZero();
        assertThat(limiter.availablePermits()).isEqualTo(limiter.permits()).isEqualTo(2);
    }

    @Test
    @SuppressWarnings("unchecked")
    void aCallQueuedBehindTheLimitRunsWhenAPermitComesBackAndCancelLeavesTheQueue() throws Exception {
        onLoop(this::queuedCallsAndCancels);
    }

    @SuppressWarnings("unchecked")
    private void queuedCallsAndCancels() {
        Future<String>[] a = new Future[1];
        Future<String>[] b = new Future[1];
        Future<String>[] c = new Future[1];
        Future<String>[] d = new Future[1];
        Promise<String> pa = call(a);
        Promise<String> pb = call(b);
        Promise<String> pc = call(c);            // limit 2: queued
        call(d);                                  // queued
        assertThat(limiter.queued()).isEqualTo(2);
        assertThat(pc.isDone()).isFalse();
        d[0].cancel(false);
        assertThat(limiter.queued()).isEqualTo(1);
        pa.setSuccess("a");
        assertThat(a[0].getNow()).isEqualTo("a");
        assertThat(limiter.inFlight()).isEqualTo(2);
        assertThat(limiter.queued()).isZero();
        assertThat(algorithm.drops()).containsExactly(false);
        b[0].cancel(false);                      // the caller gives up on b: its call still
        assertThat(limiter.inFlight()).as("holds its permit until its own future completes").isEqualTo(2);
        pb.cancel(false);                        // ends (as the handler cancels it)
        pc.setSuccess("c");
        assertThat(limiter.availablePermits()).isEqualTo(2);
        assertThat(limiter.admitted()).isZero();
    }

    @Test
    void theServerLimitsAdaptivelyInFrontOfABackendWithACapacity() throws Exception {
        server = start("--limit=adaptive:vegas", "--max-concurrent=50", "--max-queue=200", "--max-queue-wait=60s",
                "--backend-latency=20ms", "--backend-capacity=4");
        assertThat(metric(server, "nettysync_limiter_limit{limiter=\"backend\"}")).as("the initial limit").isEqualTo(20.0);
        List<CompletableFuture<HttpResponse<String>>> responses = getItemsAsync(server, "", 60);
        assertAllAnswered(200, responses);
        awaitTrue("every permit back", () -> server.limiter().inFlight() == 0
                && server.limiter().availablePermits() == server.limiter().permits());
        assertThat(metric(server, "nettysync_limiter_limit{limiter=\"backend\"}")).isBetween(1.0, 50.0);
        assertThat(metric(server, "demo_limiter_in_flight_peak")).isBetween(1.0, 50.0);
    }

    @Test
    void badLimitAndCapacityFlagsAreRefusedWithTheValue() {
        assertThatThrownBy(() -> config("--limit=adaptive:gradient"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("'adaptive:gradient'")
                .hasMessageContaining("vegas, gradient2 or aimd");
        assertThatThrownBy(() -> config("--limit=dynamic"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("'dynamic'");
        assertThatThrownBy(() -> config("--backend-capacity=-1"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("was -1");
        assertThatThrownBy(() -> config("--backend-capacity-schedule=20s"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("TIME:CAPACITY");
        assertThatThrownBy(() -> config("--upstream=http://127.0.0.1:9", "--backend-capacity=3"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("not --upstream");
        assertThat(config("--limit=ADAPTIVE").adaptiveAlgorithm()).hasToString("VEGAS");
        assertThat(config("--limit=fixed").adaptiveAlgorithm()).isNull();
        assertThat(config("--limit=adaptive:aimd", "--max-concurrent=0").adaptiveMaxLimit()).isEqualTo(1000);
    }
}
