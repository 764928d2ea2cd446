package dev.nettysync.demo;

import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Limits concurrent backend calls with an {@link AsyncBoundedSemaphore}: at most
 * {@code permits} calls run at once, at most {@code maxQueue} requests wait for a permit (FIFO),
 * each at most {@code maxWait}.
 *
 * <h2>Contract of {@link #submit}</h2>
 * The returned future completes on the caller's executor:
 * <ul>
 *   <li>like the call's future, if a permit was obtained; the permit is released exactly once,
 *       when the call's future completes, however it completes;</li>
 *   <li>failed with {@link QueueFullException} (queue full), {@link WaitTimeoutException} (waited
 *       {@code maxWait}) or {@link ClosedException} (after {@link #close()}, on shutdown), at
 *       once or when the wait ends; the call never started then.</li>
 * </ul>
 * Cancelling the returned future while queued removes the request from the queue at once;
 * cancelling it while the call runs cancels the call's future, whose completion releases the
 * permit. A release that would exceed the initial permits (a double release) is refused by the
 * bounded semaphore; it is logged and counted in {@code demo_limiter_release_errors_total},
 * which the tests check stays at zero.
 *
 * <p>Thread-safe: one limiter serves every event loop. {@code inFlight} is decremented before
 * the permit is released, so a sampled {@link #peakInFlight()} above the permits would be a real
 * violation, not a counting artefact.
 */
public final class BackendLimiter {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(BackendLimiter.class);

    private final AsyncBoundedSemaphore semaphore;
    private final int permits;
    private final long maxWaitNanos;
    private final AtomicInteger inFlight = new AtomicInteger();  // calls holding a permit; any thread
    private final AtomicInteger peakInFlight = new AtomicInteger(); // max of inFlight since start; CAS-max
    private final Counter rejectedQueueFull;
    private final Counter rejectedWaitTimeout;
    private final Counter rejectedClosed;
    private final Counter releaseErrors;

    public BackendLimiter(int permits, int maxQueue, Duration maxWait, DemoMetrics metrics) {
        this.semaphore = new AsyncBoundedSemaphore(permits, maxQueue);
        this.permits = permits;
        this.maxWaitNanos = maxWait.toNanos();
        String rejected = "demo.limiter.rejected";
        String rejectedHelp = "Requests refused by the limiter (503), by reason";
        this.rejectedQueueFull = metrics.counter(rejected, rejectedHelp, "reason", "queue_full");
        this.rejectedWaitTimeout = metrics.counter(rejected, rejectedHelp, "reason", "wait_timeout");
        this.rejectedClosed = metrics.counter(rejected, rejectedHelp, "reason", "closed");
        this.releaseErrors = metrics.counter("demo.limiter.release.errors",
                "Permit releases refused as double releases (must stay 0)");
        var registry = metrics.registry();
        Gauge.builder("demo.limiter.permits", () -> permits)
                .description("Limit of concurrent backend calls").register(registry);
        Gauge.builder("demo.limiter.in.flight", inFlight, AtomicInteger::get)
                .description("Backend calls holding a permit now").register(registry);
        Gauge.builder("demo.limiter.in.flight.peak", peakInFlight, AtomicInteger::get)
                .description("Most backend calls ever holding a permit at once").register(registry);
        Gauge.builder("demo.limiter.available", semaphore, AsyncBoundedSemaphore::availablePermits)
                .description("Permits available now").register(registry);
        Gauge.builder("demo.limiter.queued", semaphore, AsyncBoundedSemaphore::queueLength)
                .description("Requests waiting for a permit now").register(registry);
    }

    /** Runs {@code call} on {@code executor} while holding a permit; see the class contract. */
    public <T> Future<T> submit(EventExecutor executor, Supplier<? extends Future<T>> call) {
        Promise<T> result = executor.newPromise();
        Future<Void> acquired = semaphore.acquire(executor, maxWaitNanos, TimeUnit.NANOSECONDS);
        if (acquired.isDone()) {               // fast path: no listener, no queue
            onAcquired(acquired, result, executor, call);
            return result;
        }
        result.addListener(r -> {
            if (r.isCancelled()) {
                acquired.cancel(false);        // leaves the queue in O(1); no-op once granted
            }
        });
        acquired.addListener(a -> onAcquired(acquired, result, executor, call));
        return result;
    }

    private <T> void onAcquired(Future<Void> acquired, Promise<T> result, EventExecutor executor,
                                Supplier<? extends Future<T>> call) {
        assert executor.inEventLoop();
        if (!acquired.isSuccess()) {
            if (acquired.isCancelled()) {
                return;                        // our own cancel, from result's listener
            }
            Throwable cause = acquired.cause();
            if (cause instanceof QueueFullException) {
                rejectedQueueFull.increment();
            } else if (cause instanceof WaitTimeoutException) {
                rejectedWaitTimeout.increment();
            } else if (cause instanceof ClosedException) {
                rejectedClosed.increment();
            }
            result.tryFailure(cause);
            return;
        }
        if (result.isDone()) {                 // cancelled between the grant and this listener
            release();
            return;
        }
        int now = inFlight.incrementAndGet();
        peakInFlight.accumulateAndGet(now, Math::max);
        Future<T> running;
        try {
            running = Objects.requireNonNull(call.get(), "the call returned a null future");
        } catch (Throwable t) {
            finish();
            result.tryFailure(t);
            return;
        }
        running.addListener(done -> {
            finish();                          // before completing, so result's listeners see the permit back
            propagate(done, result);
        });
        result.addListener(r -> {
            if (r.isCancelled()) {
                running.cancel(false);
            }
        });
    }

    private void finish() {
        inFlight.decrementAndGet();
        release();
    }

    private void release() {
        try {
            semaphore.release();
        } catch (IllegalStateException e) {
            releaseErrors.increment();
            logger.error("permit released twice", e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> void propagate(Future<?> from, Promise<T> to) {
        if (from.isSuccess()) {
            to.trySuccess((T) from.getNow());
        } else if (from.isCancelled()) {
            to.cancel(false);
        } else {
            to.tryFailure(from.cause());
        }
    }

    /** Fails every queued request and every later one with {@link ClosedException}. */
    public void close() {
        semaphore.close();
    }

    /** The limit of concurrent calls. */
    public int permits() {
        return permits;
    }

    public int inFlight() {
        return inFlight.get();
    }

    public int peakInFlight() {
        return peakInFlight.get();
    }

    public int availablePermits() {
        return semaphore.availablePermits();
    }

    public int queued() {
        return semaphore.queueLength();
    }

    public long releaseErrors() {
        return (long) releaseErrors.count();
    }
}
