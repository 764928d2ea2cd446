package dev.nettysync.micrometer;

import dev.nettysync.limit.AbstractPermit;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.LimiterStatistics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.List;
import java.util.Objects;
import java.util.function.ToLongFunction;

/**
 * Exports an {@link AsyncLimiter}'s {@link AsyncLimiter#statistics() statistics} as gauges, for
 * any limiter (no wrapping needed):
 * <pre>{@code
 * new LimiterMetrics(backend, "backend").bindTo(registry);
 * }</pre>
 *
 * <table>
 *   <caption>Meters (each tagged {@code limiter=<name>} plus the tags given)</caption>
 *   <tr><th>name</th><th>type</th><th>value</th></tr>
 *   <tr><td>{@value #LIMIT}</td><td>gauge</td><td>the current limit</td></tr>
 *   <tr><td>{@value #IN_USE}</td><td>gauge</td><td>permits granted and not yet ended</td></tr>
 *   <tr><td>{@value #AVAILABLE}</td><td>gauge</td><td>permits that could be granted now</td></tr>
 *   <tr><td>{@value #QUEUED}</td><td>gauge</td><td>waiters in the queue</td></tr>
 *   <tr><td>{@value #LEAKS}</td><td>function counter, not tagged</td><td>permits reported leaked
 *       in this JVM ({@link AbstractPermit#leaksReported()}: every limiter's; Netty reports each
 *       distinct acquire trace once)</td></tr>
 * </table>
 *
 * <p><b>Unlimited.</b> A limiter without a limit ({@link LimiterStatistics#UNLIMITED}) exports
 * {@code +Inf} ({@link Double#POSITIVE_INFINITY}) as its limit (and as available, if it reports
 * that as unlimited too): Prometheus renders it as {@code +Inf}, and "no limit" stays visible
 * instead of a missing series or a huge number.
 *
 * <p><b>Cost.</b> Each gauge reads one {@code statistics()} snapshot when it is scraped, on the
 * scraping thread (so four per scrape): for a view of a primitive ({@code AsyncLimiter.of}) that
 * is one short hold of the primitive's monitor, the one its acquires and releases take (no user
 * code runs under it), for the rate limiter a few volatile reads; never a wait in a queue. The gauges hold
 * the limiter strongly, as long as the registry holds the gauges: a limiter made at run time (one
 * per tenant) is freed once its meters are removed from the registry ({@code registry.remove}),
 * and nothing of it is kept here then. The registry is not kept alive by a binding.
 *
 * <p><b>One limiter per name and tags.</b> Micrometer identifies a meter by its name and tags and
 * hands back the meter already registered under them, so two limiters bound under the same name
 * (and the same tags) on one registry would share gauges: the second would never be shown. That
 * is refused: {@link #bindTo} throws an {@link IllegalArgumentException} naming the meter, and
 * registers nothing. Give each limiter a distinct name, or distinct tags (e.g. {@code zone}), as
 * Micrometer's own binders ask. Binding the same limiter again (through another
 * {@code LimiterMetrics}, or a {@link MeteredLimiter} over it) is allowed: same gauges, same
 * values, and nothing registered twice (Micrometer would log that it ignored the second
 * registration); a {@code MeteredLimiter} given to a {@code LimiterMetrics} counts as the limiter
 * it wraps (its statistics are that limiter's). The leak counter is registered once per registry
 * and shared by every binder. A name is free again once its meters are removed from the registry.
 * Names are compared as given to the binder, before the registry's meter filters.
 *
 * <p><b>Meters registered by others.</b> A meter the registry already holds under one of these
 * names and tags, registered by someone else (the application; or a
 * {@code CompositeMeterRegistry} this registry is a member of, which registers each of its meters
 * in every member) is refused as well, and left registered; so is binding to a composite whose
 * member holds such a meter. Bind a limiter to a composite or to its members, not both. (A
 * member added to the composite later is not checked.) The leak counter is the exception: found
 * in the registry, it is taken as it is.
 *
 * <p>For wait times and refusals by reason, wrap the limiter in a {@link MeteredLimiter}, whose
 * {@code bindTo} registers these gauges too.
 */
public final class LimiterMetrics implements MeterBinder {

    /** Gauge: the limit. */
    public static final String LIMIT = "nettysync.limiter.limit";
    /** Gauge: permits in use. */
    public static final String IN_USE = "nettysync.limiter.in.use";
    /** Gauge: permits available now. */
    public static final String AVAILABLE = "nettysync.limiter.available";
    /** Gauge: queued waiters. */
    public static final String QUEUED = "nettysync.limiter.queued";
    /** Function counter: permits reported leaked in this JVM. */
    public static final String LEAKS = "nettysync.permit.leaks";

    private final AsyncLimiter limiter;
    private final Tags tags;

    /** Meters for {@code limiter}, tagged {@code limiter=name}. */
    public LimiterMetrics(AsyncLimiter limiter, String name) {
        this(limiter, name, Tags.empty());
    }

    /** Meters for {@code limiter}, tagged {@code limiter=name} and {@code tags}. */
    public LimiterMetrics(AsyncLimiter limiter, String name, Iterable<Tag> tags) {
        this.limiter = Objects.requireNonNull(limiter, "limiter");
        this.tags = Tags.of(tags).and("limiter", Objects.requireNonNull(name, "name"));
    }

    /**
     * Registers the gauges and the leak counter.
     *
     * @throws IllegalArgumentException if another limiter's meters are bound on {@code registry}
     *         under the same name and tags (nothing is registered then), or if the registry
     *         refuses one of the meters without throwing (Prometheus' registry, for a name held by
     *         a meter of another type or by another name with the same Prometheus name): the
     *         meters this call registered are removed again. A registry that throws part-way gets
     *         the meters this call registered removed again, and its exception is rethrown.
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        MeterClaims.register(registry, meters(registry));
    }

    /**
     * The gauges and the leak counter to claim, for this binder and {@link MeteredLimiter}'s. The
     * gauges are owned by the limiter, a {@link MeteredLimiter} standing for the limiter it wraps
     * (its statistics are that limiter's); the leak counter is one meter per registry shared by
     * every binder, on purpose (no tags), owned by {@link AbstractPermit}, whose count it reads.
     */
    List<MeterClaims.Wanted> meters(MeterRegistry registry) {
        return List.of(
                gauge(registry, LIMIT, "The limit of the limiter (+Inf when it has none)", LimiterStatistics::limit),
                gauge(registry, IN_USE, "Permits granted and not yet ended", LimiterStatistics::inUse),
                gauge(registry, AVAILABLE, "Permits that could be granted now", LimiterStatistics::available),
                gauge(registry, QUEUED, "Waiters in the limiter's queue", LimiterStatistics::queued),
                new MeterClaims.Wanted(new MeterClaims.Key(LEAKS, Tags.empty()), AbstractPermit.class,
                        () -> FunctionCounter.builder(LEAKS, AbstractPermit.class, c -> AbstractPermit.leaksReported())
                                .description("Permits reported leaked (garbage-collected without being ended) in this JVM")
                                .register(registry), true));
    }

    private MeterClaims.Wanted gauge(MeterRegistry registry, String name, String description,
                                     ToLongFunction<LimiterStatistics> value) {
        AsyncLimiter l = limiter;
        while (l instanceof MeteredLimiter m) {
            l = m.delegate();
        }
        AsyncLimiter owner = l;
        return new MeterClaims.Wanted(new MeterClaims.Key(name, tags), owner,
                () -> Gauge.builder(name, owner, x -> toDouble(value.applyAsLong(x.statistics())))
                        .description(description)
                        .tags(tags)
                        .strongReference(true)
                        .register(registry));
    }

    static double toDouble(long v) {
        return v == LimiterStatistics.UNLIMITED ? Double.POSITIVE_INFINITY : v;
    }
}
