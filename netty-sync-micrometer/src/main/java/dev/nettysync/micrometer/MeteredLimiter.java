package dev.nettysync.micrometer;

import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.RateLimitedException;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;

/**
 * An {@link AsyncLimiter} that times the waits and counts the refusals of another one, and a
 * {@link MeterBinder} for them (plus the gauges of {@link LimiterMetrics}):
 * <pre>{@code
 * MeteredLimiter backend = new MeteredLimiter(AsyncLimiter.of(new AsyncSemaphore(64, 1000)), "backend");
 * backend.bindTo(registry);                 // use `backend` wherever the limiter is used
 * }</pre>
 *
 * <table>
 *   <caption>Meters added to LimiterMetrics' (each tagged {@code limiter=<name>} plus the tags given)</caption>
 *   <tr><th>name</th><th>type</th><th>value</th></tr>
 *   <tr><td>{@value #WAIT}</td><td>timer, percentile histogram</td><td>time from {@code acquire}
 *       to grant, for granted acquires (an acquire admitted at once records ~0)</td></tr>
 *   <tr><td>{@value #REFUSED}</td><td>counter, tag {@code reason}</td><td>acquires that ended
 *       without a permit: {@code queue_full} ({@link QueueFullException}), {@code timeout}
 *       ({@link WaitTimeoutException}), {@code closed} ({@link ClosedException}), {@code rate}
 *       (a rate limiter's refusal: {@link RateLimitedException}), {@code cancelled} (the wait was
 *       cancelled, e.g. its channel closed, or failed with a {@link CancellationException}), {@code unavailable} ({@code tryAcquire} returned {@code null}),
 *       {@code other} (anything else)</td></tr>
 * </table>
 *
 * <p><b>Contract.</b> Everything else is the wrapped limiter's: the same futures are returned (no
 * extra promise), the same permits (not wrapped), so FIFO order, cancellation, timeouts and
 * exactly-once ends are unchanged. Events are recorded by a listener added to each pending
 * acquire future, which runs on the acquire's executor (a wait whose executor has shut down runs
 * no listener, and is not counted); an acquire that completes at once is recorded inline, with no
 * listener and nothing allocated by this class. Meters may be bound to several registries (each
 * event goes to all); binding again to a registry already bound counts each event once there,
 * with the meters the registry holds then (also after some were removed from it); events before
 * the first {@code bindTo} are not counted. A registry is held weakly. Thread-safe.
 *
 * <p>{@code withPermit} is {@link AsyncLimiter}'s default over this wrapper's {@code acquire}
 * (so its wait is timed and counted), not the wrapped limiter's own {@code withPermit}. Of the
 * library's limiters only a {@link dev.nettysync.channel.ChannelLimits#forChannel channel view}
 * has its own: wrap the limiter, then make the view of the wrapper
 * ({@code ChannelLimits.forChannel(metered, channel)}), not the other way round.
 *
 * <p><b>One limiter per name and tags.</b> Micrometer hands back the meter already registered
 * under a name and tags, so two {@code MeteredLimiter}s bound under the same name (and the same
 * tags) on one registry would add their waits and refusals into the same timer and counters,
 * silently. {@link #bindTo} refuses that with an {@link IllegalArgumentException} naming the
 * meter, and registers nothing: give each a distinct name, or distinct tags, as Micrometer's own
 * binders ask. This holds even for two wrappers of one limiter (their events would still mix);
 * the same {@code MeteredLimiter} bound twice is fine. A meter under that name and those tags
 * that the binding did not register (the application's, or one a composite registry put in this
 * member) is refused the same way: bind to a composite or to its members, not both (bound to
 * both, each event would count twice in the member). See {@link LimiterMetrics} for the
 * details.
 */
public final class MeteredLimiter implements AsyncLimiter, MeterBinder {

    /** Timer: the wait for a permit. */
    public static final String WAIT = "nettysync.limiter.wait";
    /** Counter: refusals, tagged with {@code reason}. */
    public static final String REFUSED = "nettysync.limiter.refused";

    /** The values of the {@code reason} tag of {@value #REFUSED}. */
    public enum Reason {
        /** {@link QueueFullException}. */
        QUEUE_FULL,
        /** {@link WaitTimeoutException}. */
        TIMEOUT,
        /** {@link ClosedException}. */
        CLOSED,
        /** A rate limiter's refusal ({@link RateLimitedException}). */
        RATE,
        /** The wait was cancelled (by its caller, or by a channel's close), or failed with a {@link CancellationException}. */
        CANCELLED,
        /** {@code tryAcquire} returned {@code null}. */
        UNAVAILABLE,
        /** Any other failure. */
        OTHER;

        /** The tag value: the name in lower case. */
        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * The reason for an acquire that failed with {@code cause}, or was cancelled if
         * {@code cause} is null. A {@link CancellationException} is a cancel too: a wait that
         * was cancelled by someone other than its caller (a part of {@link AsyncLimiter#all}
         * bound to a channel that closed) fails with one.
         */
        static Reason of(Throwable cause) {
            if (cause == null || cause instanceof CancellationException) {
                return CANCELLED;
            }
            if (cause instanceof QueueFullException) {
                return QUEUE_FULL;
            }
            if (cause instanceof WaitTimeoutException) {
                return TIMEOUT;
            }
            if (cause instanceof ClosedException) {
                return CLOSED;
            }
            if (cause instanceof RateLimitedException) {
                return RATE;
            }
            return OTHER;
        }
    }

    private final AsyncLimiter delegate;
    private final String name;
    private final Tags tags;
    private final Object binding = new Object();        // guards the replacement of `bound`
    private volatile Meters[] bound = new Meters[0];    // one per registry bound; replaced (copy on write) by bindTo under `binding`

    /** Wraps {@code delegate}; its meters are tagged {@code limiter=name}. */
    public MeteredLimiter(AsyncLimiter delegate, String name) {
        this(delegate, name, Tags.empty());
    }

    /** Wraps {@code delegate}; its meters are tagged {@code limiter=name} and {@code tags}. */
    public MeteredLimiter(AsyncLimiter delegate, String name, Iterable<Tag> tags) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.name = Objects.requireNonNull(name, "name");
        this.tags = Tags.of(tags);
    }

    /** The wrapped limiter. */
    public AsyncLimiter delegate() {
        return delegate;
    }

    /**
     * Registers the timer, the refusal counters and {@link LimiterMetrics}' gauges.
     *
     * @throws IllegalArgumentException if another limiter's meters are bound on {@code registry}
     *         under the same name and tags (nothing is registered then; see the class comment),
     *         or if the registry refuses one of the meters without throwing (Prometheus'
     *         registry, for a name held by a meter of another type or by another name with the
     *         same Prometheus name): the meters this call registered are removed again. A
     *         registry that throws part-way gets the meters this call registered removed again,
     *         and its exception is rethrown.
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Tags t = tags.and("limiter", name);
        List<MeterClaims.Wanted> wanted = new ArrayList<>();
        wanted.add(new MeterClaims.Wanted(new MeterClaims.Key(WAIT, t), this, () -> Timer.builder(WAIT)
                .description("Time from acquire to grant")
                .tags(t)
                .publishPercentileHistogram()
                .register(registry)));
        for (Reason r : Reason.values()) {
            Tags rt = t.and("reason", r.tag());
            wanted.add(new MeterClaims.Wanted(new MeterClaims.Key(REFUSED, rt), this, () -> Counter.builder(REFUSED)
                    .description("Acquires that ended without a permit, by reason")
                    .tags(rt)
                    .register(registry)));
        }
        wanted.addAll(new LimiterMetrics(delegate, name, tags).meters(registry));
        List<Meter> meters = MeterClaims.register(registry, wanted);
        Timer wait = (Timer) meters.get(0);
        Counter[] refused = new Counter[Reason.values().length];
        for (Reason r : Reason.values()) {
            refused[r.ordinal()] = (Counter) meters.get(1 + r.ordinal());
        }
        Meters now = new Meters(registry, wait, refused);
        synchronized (binding) {                // this registry's meters, anew: bound again, it counts each event once
            List<Meters> next = new ArrayList<>(bound.length + 1);
            for (Meters m : bound) {
                MeterRegistry r = m.registry.get();
                if (r != null && r != registry) {
                    next.add(m);
                }
            }
            next.add(now);
            bound = next.toArray(new Meters[0]);
        }
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor) {
        return observe(System.nanoTime(), delegate.acquire(executor));
    }

    @Override
    public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
        return observe(System.nanoTime(), delegate.acquire(executor, timeout, unit));
    }

    @Override
    public Permit tryAcquire() {
        Permit p = delegate.tryAcquire();
        if (p == null) {
            refused(Reason.UNAVAILABLE);
        }
        return p;
    }

    @Override
    public LimiterStatistics statistics() {
        return delegate.statistics();
    }

    @Override
    public String toString() {
        return "MeteredLimiter(" + name + ", " + delegate + ')';
    }

    private Future<Permit> observe(long start, Future<Permit> f) {
        if (f.isDone()) {
            record(start, f);
        } else {
            f.addListener(done -> record(start, f));
        }
        return f;
    }

    private void record(long start, Future<Permit> f) {
        if (f.isSuccess()) {
            long nanos = System.nanoTime() - start;
            for (Meters m : bound) {
                m.wait.record(nanos, TimeUnit.NANOSECONDS);
            }
        } else {
            refused(Reason.of(f.isCancelled() ? null : f.cause()));
        }
    }

    private void refused(Reason reason) {
        for (Meters m : bound) {
            m.refused[reason.ordinal()].increment();
        }
    }

    /** The meters of one registry, which is held weakly (a registry dropped by its owner is not kept alive). */
    private static final class Meters {
        final WeakReference<MeterRegistry> registry;
        final Timer wait;
        final Counter[] refused;

        Meters(MeterRegistry registry, Timer wait, Counter[] refused) {
            this.registry = new WeakReference<>(registry);
            this.wait = wait;
            this.refused = refused;
        }
    }
}
