package dev.nettysync.demo;

import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link TimedBackend} on an {@link EmbeddedChannel}'s loop: no timer fires unless the test runs it. */
class TimedBackendTest {

    private final EmbeddedChannel ch = new EmbeddedChannel();
    private final EventLoop loop = ch.eventLoop();
    private final DemoMetrics metrics = new DemoMetrics();

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    @Test
    void aCallTheDelegateCancelledBeforeReturningFailsAtOnce() {
        Backend cancelsAtOnce = new Backend() {
            @Override
            public Future<BackendResponse> fetch(String id, EventLoop l) {
                Promise<BackendResponse> p = l.newPromise();
                p.cancel(false);
                return p;
            }

            @Override
            public void close() {
            }
        };
        Future<Backend.BackendResponse> call = new TimedBackend(cancelsAtOnce, Duration.ofSeconds(30), metrics)
                .fetch("1", loop);
        ch.runPendingTasks();

        assertThat(call.isDone()).as("completed (it was never completed: no timer was armed)").isTrue();
        assertThat(call.isCancelled()).as("the caller did not cancel").isFalse();
        assertThat(call.cause()).isInstanceOf(IOException.class).hasMessage("the backend cancelled the call");
        assertThat(metrics.scrape()).contains("demo_backend_calls_seconds_count{outcome=\"error\"} 1\n");
    }

    @Test
    void aCallTheDelegateCancelsLaterFailsAtOnceNotAtTheTimeout() {
        TestSupport.ControlledBackend delegate = new TestSupport.ControlledBackend();
        Future<Backend.BackendResponse> call = new TimedBackend(delegate, Duration.ofSeconds(30), metrics)
                .fetch("1", loop);
        delegate.open.poll().cancel(false);
        ch.runPendingTasks();

        assertThat(call.isDone()).as("completed before the 30 s timeout").isTrue();
        assertThat(call.isCancelled()).as("the caller did not cancel").isFalse();
        assertThat(call.cause()).isInstanceOf(IOException.class).hasMessage("the backend cancelled the call");
    }

    @Test
    void theCallersCancelStillCancelsTheDelegatesCall() {
        TestSupport.ControlledBackend delegate = new TestSupport.ControlledBackend();
        Future<Backend.BackendResponse> call = new TimedBackend(delegate, Duration.ofSeconds(30), metrics)
                .fetch("1", loop);
        assertThat(call.cancel(false)).isTrue();
        ch.runPendingTasks();

        assertThat(call.isCancelled()).isTrue();
        assertThat(delegate.cancelled()).isEqualTo(1);
        assertThat(metrics.scrape()).contains("demo_backend_calls_seconds_count{outcome=\"cancelled\"} 1\n");
    }

    @Test
    void anAnswerIsPassedOnAndItsTimerCancelled() {
        TestSupport.ControlledBackend delegate = new TestSupport.ControlledBackend();
        Future<Backend.BackendResponse> call = new TimedBackend(delegate, Duration.ofSeconds(30), metrics)
                .fetch("1", loop);
        assertThat(ch.runScheduledPendingTasks()).as("the timeout is armed").isPositive();
        assertThat(delegate.answerOne()).isTrue();
        ch.runPendingTasks();

        assertThat(call.isSuccess()).isTrue();
        assertThat(call.getNow().status()).isEqualTo(200);
        // Left armed, the timer would keep the call (and its answer) reachable from the loop for
        // the whole --backend-timeout, for every call.
        assertThat(ch.runScheduledPendingTasks()).as("no timer left on the loop").isEqualTo(-1);
        assertThat(metrics.scrape()).contains("demo_backend_calls_seconds_count{outcome=\"ok\"} 1\n");
        Matcher m = Pattern.compile("demo_backend_calls_seconds_sum\\{outcome=\"ok\"\\} ([0-9.E-]+)").matcher(metrics.scrape());
        assertThat(m.find()).isTrue();
        assertThat(Double.parseDouble(m.group(1))).as("the call's seconds, from its start").isBetween(0.0, 60.0);
    }

    @Test
    void closingClosesTheDelegate() {
        java.util.concurrent.atomic.AtomicInteger closed = new java.util.concurrent.atomic.AtomicInteger();
        Backend delegate = new Backend() {
            @Override
            public Future<BackendResponse> fetch(String id, EventLoop l) {
                throw new AssertionError("not called");
            }

            @Override
            public void close() {
                closed.incrementAndGet();
            }
        };
        new TimedBackend(delegate, Duration.ofSeconds(30), metrics).close();
        assertThat(closed.get()).isEqualTo(1);
    }

    @Test
    void aCallPastItsTimeoutFailsWithBackendTimeoutAndTheDelegatesCallIsCancelled() {
        ch.freezeTime();
        TestSupport.ControlledBackend delegate = new TestSupport.ControlledBackend();
        Future<Backend.BackendResponse> call = new TimedBackend(delegate, Duration.ofMillis(500), metrics)
                .fetch("1", loop);
        ch.advanceTimeBy(499, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(call.isDone()).as("499 ms: still waiting").isFalse();

        ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
        assertThat(call.cause()).isInstanceOf(BackendTimeoutException.class);
        assertThat(delegate.cancelled()).as("the abandoned call is cancelled (it frees its connection)").isEqualTo(1);
        assertThat(metrics.scrape()).contains("demo_backend_calls_seconds_count{outcome=\"timeout\"} 1\n");
    }

    @Test
    void aDelegatesFailureIsPassedOnAsItIs() {
        TestSupport.ControlledBackend delegate = new TestSupport.ControlledBackend();
        Future<Backend.BackendResponse> call = new TimedBackend(delegate, Duration.ofSeconds(30), metrics)
                .fetch("1", loop);
        IOException refused = new IOException("connection refused");
        delegate.open.poll().setFailure(refused);
        ch.runPendingTasks();

        assertThat(call.cause()).isSameAs(refused);
        assertThat(metrics.scrape()).contains("demo_backend_calls_seconds_count{outcome=\"error\"} 1\n");
    }
}
