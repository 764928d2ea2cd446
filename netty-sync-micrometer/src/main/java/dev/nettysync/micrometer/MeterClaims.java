package dev.nettysync.micrometer;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.WeakHashMap;
import java.util.function.Supplier;

/**
 * Which object each of this module's meters belongs to, per registry, so that two limiters bound
 * under the same name and tags are refused instead of sharing meters. (Micrometer hands back the
 * meter already registered under a name and tags: a second gauge would silently keep showing the
 * first limiter, and a second timer or counter would add both limiters' events together.)
 *
 * <p>A meter is identified here by its name and the tags given to the binder, before the
 * registry's meter filters (a filter that maps two distinct ids to one is not detected). A claim
 * whose meter is no longer in its registry (removed, {@code clear()}ed) no longer counts.
 *
 * <p>Thread-safe. Claims are checked and taken under one lock, held for map operations and
 * registry look-ups only; meters are registered (which runs the registry's filters and
 * listeners) with nothing held.
 */
final class MeterClaims {

    /** A meter as the binder names it. */
    record Key(String name, Tags tags) {
        @Override
        public String toString() {
            StringJoiner j = new StringJoiner(",", name + "{", "}");
            tags.forEach(t -> j.add(t.getKey() + "=" + t.getValue()));
            return j.toString();
        }
    }

    /** One meter's owner; {@code meter} is null until registered. */
    static final class Claim {
        final Key key;
        final Object owner;
        volatile Meter meter;            // written once, after registration, by the claiming thread

        Claim(Key key, Object owner) {
            this.key = key;
            this.owner = owner;
        }
    }

    /** A meter to claim for {@code owner} and how to register it. */
    record Wanted(Key key, Object owner, Supplier<Meter> register) { }

    private static final Map<MeterRegistry, Map<Key, Claim>> CLAIMS = new WeakHashMap<>();  // guarded by itself

    private MeterClaims() {
    }

    /**
     * Claims every meter of {@code wanted}, then registers them. If one is held by another owner,
     * nothing is claimed or registered and an {@link IllegalArgumentException} names it.
     *
     * @return the registered meters, in order
     */
    static List<Meter> register(MeterRegistry registry, List<Wanted> wanted) {
        List<Claim> taken = new ArrayList<>();
        synchronized (CLAIMS) {
            Map<Key, Claim> claims = CLAIMS.computeIfAbsent(registry, r -> new HashMap<>());
            for (Wanted w : wanted) {
                Claim c = claims.get(w.key());
                if (c != null && c.owner != w.owner() && live(registry, c)) {
                    throw new IllegalArgumentException("meter " + w.key() + " is already bound on this registry"
                            + " to another limiter (" + c.owner + "); Micrometer would share one meter between"
                            + " them and mix their values: give each limiter a distinct name or distinct tags");
                }
            }
            for (Wanted w : wanted) {             // anew, also when ours: the meter may be new
                Claim c = new Claim(w.key(), w.owner());
                claims.put(w.key(), c);
                taken.add(c);
            }
        }
        List<Meter> meters = new ArrayList<>(wanted.size());
        try {
            for (Wanted w : wanted) {
                meters.add(w.register().get());
            }
        } catch (RuntimeException | Error e) {
            drop(registry, taken);
            throw e;
        }
        for (int i = 0; i < taken.size(); i++) {
            taken.get(i).meter = meters.get(i);
        }
        return meters;
    }

    /** Whether a claim still holds: its meter is being registered, or is in the registry. */
    private static boolean live(MeterRegistry registry, Claim c) {
        Meter m = c.meter;
        if (m == null) {
            return true;
        }
        Meter.Id id = m.getId();
        for (Meter r : registry.find(id.getName()).tags(id.getTags()).meters()) {
            if (r == m) {
                return true;
            }
        }
        return false;
    }

    private static void drop(MeterRegistry registry, List<Claim> taken) {
        synchronized (CLAIMS) {
            Map<Key, Claim> claims = CLAIMS.get(registry);
            if (claims != null) {
                for (Claim c : taken) {
                    claims.remove(c.key, c);
                }
            }
        }
    }
}
