package dev.nettysync.demo;

import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.adaptive.AdaptiveLimiter;
import dev.nettysync.channel.ChannelLimits;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.micrometer.MeteredLimiter;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The demo's {@link Admission} policy: at most {@code permits} backend calls at once, through an
 * {@link AsyncBoundedSemaphore} (FIFO, each wait at most {@code maxWait}), and at most
 * {@code permits + maxQueue} requests admitted at once, counted from their arrival.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #enter} refuses at once with {@link QueueFullException} when
 *       {@code permits + maxQueue} requests are already admitted (waiting for the database,
 *       queued for a permit or calling), and with {@link ClosedException} after {@link #close()}.
 *       A request admitted while the database is not ready therefore finds room in the queue
 *       when it is: the clients who waited are served, the excess was refused when it came.</li>
 *   <li>{@link #refusalNow()} gives the refusal {@code enter} would give now, counted alike,
 *       without taking a place (a request expecting {@code 100 Continue} is refused before its
 *       body is sent).</li>
 *   <li>{@link Ticket#call} is {@link AsyncLimiter#withPermit(EventExecutor, long, TimeUnit, Supplier)}
 *       of the semaphore as a limiter ({@link AsyncLimiter#of}), bound to the request's channel
 *       ({@link ChannelLimits#forChannel}), with the {@code maxWait} timeout: it fails with
 *       {@link WaitTimeoutException} after {@code maxWait} without a permit, or
 *       {@link ClosedException} when closed while queued; cancelling it while queued leaves the
 *       queue at once. A client that disconnects frees its queue slot, or its permit, by the
 *       channel binding alone, exactly once (the handler also cancels the backend call).</li>
 *   <li>The limiter's own meters ({@code nettysync.limiter.*}: limit, in use, available, queued,
 *       wait time, refusals by reason) come from netty-sync-micrometer's {@link MeteredLimiter};
 *       the demo adds the admission counts and the in-flight peak.</li>
 *   <li>{@code permits == Integer.MAX_VALUE} means no limit: nothing is refused for room, and
 *       the limit is exported as {@code +Inf}.</li>
 * </ul>
 *
 * <p>Thread-safe: one limiter serves every event loop. {@code inFlight} is decremented before
 * the permit is released, so a sampled {@link #peakInFlight()} above the permits would be a real
 * violation, not a counting artefact.
 */
public final class BackendLimiter implements Admission {

    private final AsyncBoundedSemaphore semaphore;                     // null when the adaptive limit decides
    private final AdaptiveLimiter adaptive;                            // null: the fixed semaphore decides
    private final MeteredLimiter limiter;                             // the one that decides, as a limiter, metered
    private final int permits;                                         // the limit, or the adaptive limit's maximum
    private final int capacity;                                        // most requests admitted at once
    private final long maxWaitNanos;
    private final AtomicInteger admitted = new AtomicInteger();       // places taken, not given back; CAS, any thread
    private final AtomicInteger inFlight = new AtomicInteger();       // calls holding a permit; any thread
    private final AtomicInteger peakInFlight = new AtomicInteger();   // max of inFlight since start; CAS-max
    private final Counter rejectedQueueFull;
    private final Counter rejectedWaitTimeout;
    private final Counter rejectedClosed;

    /**
     * @param permits  most calls at once; {@code Integer.MAX_VALUE} for no limit
     * @param maxQueue most admitted requests beyond {@code permits}
     * @param maxWait  longest wait for a permit
     */
    public BackendLimiter(int permits, int maxQueue, Duration maxWait, DemoMetrics metrics) {
        this(permits, maxQueue, maxWait, metrics, null);
    }

    /**
     * A limiter whose permits {@code adaptive} decides (its {@code maxLimit} should be
     * {@code maxLimit} here too: room is counted against it).
     */
    public static BackendLimiter adaptive(AdaptiveLimiter adaptive, int maxLimit, int maxQueue, Duration maxWait,
                                          DemoMetrics metrics) {
        return new BackendLimiter(maxLimit, maxQueue, maxWait, metrics, Objects.requireNonNull(adaptive, "adaptive"));
    }

    private BackendLimiter(int permits, int maxQueue, Duration maxWait, DemoMetrics metrics, AdaptiveLimiter adaptive) {
        this.permits = permits;
        this.adaptive = adaptive;
        this.capacity = (int) Math.min(Integer.MAX_VALUE, (long) permits + maxQueue);
        // The semaphore's own queue bound never refuses first: admission already bounds it.
        this.semaphore = adaptive != null ? null : new AsyncBoundedSemaphore(permits, capacity);
        this.limiter = new MeteredLimiter(adaptive != null ? adaptive : AsyncLimiter.of(semaphore), "backend");
        limiter.bindTo(metrics.registry());
        this.maxWaitNanos = maxWait.toNanos();
        String rejected = "demo.limiter.rejected";
        String rejectedHelp = "Requests refused by the limiter (503), by reason";
        this.rejectedQueueFull = metrics.counter(rejected, rejectedHelp, "reason", "queue_full");
        this.rejectedWaitTimeout = metrics.counter(rejected, rejectedHelp, "reason", "wait_timeout");
        this.rejectedClosed = metrics.counter(rejected, rejectedHelp, "reason", "closed");
        var registry = metrics.registry();
        boolean unlimited = isUnlimited();
        Gauge.builder("demo.limiter.admitted.max", () -> unlimited ? Double.POSITIVE_INFINITY : capacity)
                .description("Most requests admitted at once: permits + max queue (+Inf: no limit)").register(registry);
        Gauge.builder("demo.limiter.admitted", admitted, AtomicInteger::get)
                .description("Requests admitted now: waiting for the database, queued for a permit or calling")
                .register(registry);
        Gauge.builder("demo.limiter.in.flight", inFlight, AtomicInteger::get)
                .description("Backend calls holding a permit now").register(registry);
        Gauge.builder("demo.limiter.in.flight.peak", peakInFlight, AtomicInteger::get)
                .description("Most backend calls ever holding a permit at once").register(registry);
    }

    @Override
    public Future<Ticket> enter(EventExecutor executor) {
        if (isClosed()) {
            return executor.newFailedFuture(refusedClosed());
        }
        for (;;) {
            int n = admitted.get();
            if (n >= capacity) {
                return executor.newFailedFuture(refusedFull());
            }
            if (admitted.compareAndSet(n, n + 1)) {
                return executor.newSucceededFuture(new LimiterTicket());
            }
        }
    }

    /** Closed, or {@code permits + maxQueue} requests admitted: as {@link #enter} would refuse now. */
    @Override
    public Throwable refusalNow() {
        if (isClosed()) {
            return refusedClosed();
        }
        return admitted.get() >= capacity ? refusedFull() : null;
    }

    private boolean isClosed() {
        return adaptive != null ? adaptive.isClosed() : semaphore.isClosed();
    }

    private ClosedException refusedClosed() {
        rejectedClosed.increment();
        return new ClosedException("the limiter is closed", null);
    }

    private QueueFullException refusedFull() {
        rejectedQueueFull.increment();
        return new QueueFullException(capacity + " requests already admitted (" + permits + " permits + queue)");
    }

    /** Fails every queued request and every later one with {@link ClosedException}. */
    @Override
    public void close() {
        if (adaptive != null) {
            adaptive.close();
        } else {
            semaphore.close();
        }
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

    /** The limit of concurrent calls now (adaptive: the current limit); {@code Integer.MAX_VALUE} for none. */
    public int permits() {
        return adaptive != null ? adaptive.currentLimit() : permits;
    }

    public boolean isUnlimited() {
        return permits == Integer.MAX_VALUE;
    }

    /** Requests holding a place now (waiting for readiness, queued, or calling). */
    public int admitted() {
        return admitted.get();
    }

    public int inFlight() {
        return inFlight.get();
    }

    public int peakInFlight() {
        return peakInFlight.get();
    }

    public int availablePermits() {
        return (int) Math.min(Integer.MAX_VALUE, limiter.statistics().available());
    }

    public int queued() {
        return limiter.statistics().queued();
    }

    /** One admitted request. {@code call}/{@code leave} on the request's loop; the place goes back once. */
    private final class LimiterTicket implements Ticket {
        private final AtomicBoolean returned = new AtomicBoolean(); // CAS once: by leave() or the call's end
        private volatile boolean called;      // written by call() on the request's loop
        private volatile boolean started;     // written when the permit is granted and the call starts

        @Override
        public <T> Future<T> call(Channel channel, Supplier<? extends Future<T>> call) {
            if (called) {
                throw new IllegalStateException("a ticket admits one call");
            }
            called = true;
            AsyncLimiter bound = ChannelLimits.forChannel(limiter, channel);
            Future<T> result = bound.withPermit(channel.eventLoop(), maxWaitNanos, TimeUnit.NANOSECONDS, () -> {
                started = true;
                int now = inFlight.incrementAndGet();
                peakInFlight.accumulateAndGet(now, Math::max);
                Future<T> running;
                try {
                    running = call.get();
                } catch (RuntimeException | Error e) {
                    callEnded();
                    throw e;                       // withPermit releases the permit and fails the result
                }
                if (running == null) {
                    callEnded();
                    return null;                   // withPermit fails the result with a clear NPE
                }
                // Added before withPermit's own listener, so it runs before the permit is released.
                running.addListener(done -> callEnded());
                return running;
            });
            if (result.isDone()) {
                resultDone(result);
            } else {
                result.addListener(this::resultDone);
            }
            return result;
        }

        private void resultDone(Future<?> result) {
            countRejection(result);
            if (!started) {
                returnPlace();                     // refused or cancelled while queued: no call runs
            }
        }

        private void callEnded() {
            inFlight.decrementAndGet();
            returnPlace();
        }

        @Override
        public void leave() {
            if (!called) {
                returnPlace();
            }
        }

        private void returnPlace() {
            if (returned.compareAndSet(false, true)) {
                admitted.decrementAndGet();
            }
        }
    }
}
