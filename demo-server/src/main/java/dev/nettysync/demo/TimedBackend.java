package dev.nettysync.demo;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A {@link Backend} decorator that bounds every call by a timeout and records its latency and
 * outcome in {@link DemoMetrics} ({@code demo_backend_calls_seconds{outcome}}).
 *
 * <p>A call ends in one of four ways: the delegate's answer ({@code ok}); the delegate's failure
 * ({@code error}; a cancel by the delegate itself is one, an {@link IOException}); the timeout, which fails the returned future with
 * {@link BackendTimeoutException} and cancels the delegate's call ({@code timeout}); or a cancel
 * of the returned future by the caller, which cancels the delegate's call too ({@code cancelled}).
 * The timer runs on the caller's loop and is cancelled as soon as the call ends.
 *
 * <p>Thread-safe and stateless per call; {@link #close()} closes the delegate.
 */
final class TimedBackend implements Backend {

    private final Backend delegate;
    private final Duration timeout;
    private final long timeoutNanos;
    private final DemoMetrics metrics;

    TimedBackend(Backend delegate, Duration timeout, DemoMetrics metrics) {
        this.delegate = delegate;
        this.timeout = timeout;
        this.timeoutNanos = timeout.toNanos();
        this.metrics = metrics;
    }

    @Override
    public Future<BackendResponse> fetch(String id, EventLoop loop) {
        long t0 = System.nanoTime();
        Future<BackendResponse> fetch = Objects.requireNonNull(delegate.fetch(id, loop), "Backend.fetch returned null");
        Promise<BackendResponse> timed = loop.newPromise();
        ScheduledFuture<?> timer = fetch.isDone() ? null : loop.schedule(() -> {
            if (timed.tryFailure(new BackendTimeoutException(timeout))) {
                fetch.cancel(false);
            }
        }, timeoutNanos, TimeUnit.NANOSECONDS);
        fetch.addListener(f -> {
            if (timer != null) {
                timer.cancel(false);
            }
            if (f.isSuccess()) {
                timed.trySuccess(fetch.getNow());
            } else if (!f.isCancelled()) {
                timed.tryFailure(f.cause());
            } else {
                // A cancel by the delegate itself (ours, after the caller's cancel or the timeout,
                // finds `timed` done): the call failed, answer now. Ignoring it left `timed` to the
                // timer, or, when the delegate returned it already cancelled (no timer armed),
                // uncompleted for ever, holding the caller's permit. Not the CancellationException
                // itself: that would make `timed` look cancelled by the caller.
                timed.tryFailure(new IOException("the backend cancelled the call"));
            }
        });
        timed.addListener(f -> {
            DemoMetrics.BackendOutcome outcome;
            if (f.isSuccess()) {
                outcome = DemoMetrics.BackendOutcome.OK;
            } else if (f.isCancelled()) {
                outcome = DemoMetrics.BackendOutcome.CANCELLED;
                fetch.cancel(false);       // the caller gave up: abandon the call (frees its connection)
            } else if (f.cause() instanceof BackendTimeoutException) {
                outcome = DemoMetrics.BackendOutcome.TIMEOUT;
            } else {
                outcome = DemoMetrics.BackendOutcome.ERROR;
            }
            metrics.recordBackendCall(outcome, System.nanoTime() - t0);
        });
        return timed;
    }

    @Override
    public void close() {
        delegate.close();
    }
}
