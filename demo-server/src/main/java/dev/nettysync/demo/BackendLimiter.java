package dev.nettysync.demo;

import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.time.Duration;
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
 * This is {@link AsyncBoundedSemaphore#withPermit(EventExecutor, long, TimeUnit, Supplier)} plus
 * metrics: cancelling the returned future while queued removes the request from the queue at
 * once; cancelling it while the call runs cancels the call's future, whose completion releases
 * the permit, exactly once.
 *
 * <p>Thread-safe: one limiter serves every event loop. {@code inFlight} is decremented before
 * the permit is released, so a sampled {@link #peakInFlight()} above the permits would be a real
 * violation, not a counting artefact.
 */
public final class BackendLimiter {

    private final AsyncBoundedSemaphore semaphore;
    private final int permits;
    private final long maxWaitNanos;
    private final AtomicInteger inFlight = new AtomicInteger();  // calls holding a permit; any thread
    private final AtomicInteger peakInFlight = new AtomicInteger(); // max of inFlight since start; CAS-max
    private final Counter rejectedQueueFull;
    private final Counter rejectedWaitTimeout;
    private final Counter rejectedClosed;

    public BackendLimiter(int permits, int maxQueue, Duration maxWait, DemoMetrics metrics) {
        this.semaphore = new AsyncBoundedSemaphore(permits, maxQueue);
        this.permits = permits;
        this.maxWaitNanos = maxWait.toNanos();
        String rejected = "demo.limiter.rejected";
        String rejectedHelp = "Requests refused by the limiter (503), by reason";
        this.rejectedQueueFull = metrics.counter(rejected, rejectedHelp, "reason", "queue_full");
        this.rejectedWaitTimeout = metrics.counter(rejected, rejectedHelp, "reason", "wait_timeout");
        this.rejectedClosed = metrics.counter(rejected, rejectedHelp, "reason", "closed");
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
        Future<T> result = semaphore.withPermit(executor, maxWaitNanos, TimeUnit.NANOSECONDS, () -> {
            int now = inFlight.incrementAndGet();
            peakInFlight.accumulateAndGet(now, Math::max);
            Future<T> running;
            try {
                running = call.get();
            } catch (RuntimeException | Error e) {
                inFlight.decrementAndGet();
                throw e;                       // withPermit releases the permit and fails the result
            }
            if (running == null) {
                inFlight.decrementAndGet();
                return null;                   // withPermit fails the result with a clear NPE
            }
            // Added before withPermit's own listener, so it runs before the permit is released.
            running.addListener(done -> inFlight.decrementAndGet());
            return running;
        });
        if (result.isDone()) {
            countRejection(result);
        } else {
            result.addListener(this::countRejection);
        }
        return result;
    }

    private void countRejection(Future<?> result) {
        Throwable cause = result.cause();
        if (cause instanceof QueueFullException) {
            rejectedQueueFull.increment();
        } else if (cause instanceof WaitTimeoutException) {
            rejectedWaitTimeout.increment();
        } else if (cause instanceof ClosedException) {
            rejectedClosed.increment();
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

}
