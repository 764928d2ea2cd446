package dev.nettysync.micrometer;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * whose meter is no longer in its registry (removed, {@code clear()}ed) no longer counts, and is
 * dropped when the registry reports the removal, so that it keeps neither its meter nor its owner
 * (a limiter) reachable: limiters made and dropped at run time (one per tenant) leak nothing once
 * their meters are removed. The registry itself is held weakly.
 *
 * <p>A registry may refuse a meter without throwing: Prometheus' registry, for a name already
 * used by a meter of another type, or by another name that maps to the same Prometheus name,
 * reports it to its registration-failure listeners (and logs it once), creates the meter and never
 * exports it. A claim listens for that on its registry, on the registering thread (the listener is
 * called there, inside the registration), and treats it like a registration that threw: the
 * binding's meters are removed and the call fails.
 *
 * <p>A meter the registry hands back instead of making (it held one under that id already,
 * registered by the application, or by a composite registry this one is a member of) is not the
 * binding's: the call fails as above, and that meter stays. It is seen before registering when
 * the id matches exactly, else by identity against the registry's meters of that name just
 * before (an id a meter filter changed). Binding to a composite whose member holds a meter of
 * the binding's ids is refused too: the composite would feed it. A shared meter (the leak
 * counter) found in the registry is taken as it is.
 *
 * <p>An owner binding a meter it already holds, live, gets that meter back without registering it
 * again (Micrometer logs "already registered, the registration will be ignored" for a gauge or a
 * function counter registered twice).
 *
 * <p>Thread-safe. Claims are checked and taken under one lock, held for map operations and
 * registry look-ups only (reads of the registry's concurrent meter map); meters are registered
 * (which runs the registry's filters and listeners) and owners' {@code toString} (user code) run
 * with nothing held. The registry calls the removal listener under its own lock, which then takes
 * this one: nothing here calls into a registry method that locks while holding this one.
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
        Meter meter;                     // written once, after registration, under CLAIMS

        Claim(Key key, Object owner) {
            this.key = key;
            this.owner = owner;
        }
    }

    /**
     * A meter to claim for {@code owner} and how to register it; {@code shared}: a meter the
     * registry holds already under this key may be taken as it is (the leak counter, one per
     * registry for every binder, whoever registered it).
     */
    record Wanted(Key key, Object owner, Supplier<Meter> register, boolean shared) {
        Wanted(Key key, Object owner, Supplier<Meter> register) {
            this(key, owner, register, false);
        }
    }

    /** One registry's claims; guarded by CLAIMS. */
    private static final class Claims {
        final Map<Key, Claim> byKey = new HashMap<>();
        final Map<Meter, Claim> byMeter = new IdentityHashMap<>();   // the claims in byKey whose meter is registered

        /**
         * The registry refused a meter (its registration-failure listener, called on the
         * registering thread): recorded if this thread is registering a binding's meters here.
         */
        void refused(Meter.Id id, String reason) {
            Registering r = REGISTERING.get();
            if (r != null && r.claims == this && r.refusal == null) {
                r.refusal = reason != null ? reason : "no reason given, for " + id;
            }
        }

        void put(Claim c) {
            Claim old = byKey.put(c.key, c);
            if (old != null && old.meter != null) {
                byMeter.remove(old.meter, old);
            }
        }

        /** The registry removed {@code meter}: its claim no longer holds. */
        void removed(Meter meter) {
            synchronized (CLAIMS) {
                Claim c = byMeter.remove(meter);
                if (c != null) {
                    byKey.remove(c.key, c);
                }
            }
        }
    }

    private static final Map<MeterRegistry, Claims> CLAIMS = new WeakHashMap<>();  // guarded by itself

    /** A binding registering its meters on this thread, and the first refusal the registry reported. */
    private static final class Registering {
        final Claims claims;
        String refusal;                  // this thread only

        Registering(Claims claims) {
            this.claims = claims;
        }
    }

    private static final ThreadLocal<Registering> REGISTERING = new ThreadLocal<>();   // set around the registrations

    /** Who holds a meter found on a member of a composite being bound (a refusal's marker). */
    private static final Object IN_MEMBER = new Object();

    private MeterClaims() {
    }

    /**
     * Claims every meter of {@code wanted}, then registers them (a meter its owner already holds,
     * live, is handed back instead). If one is held by another owner, nothing is claimed or
     * registered and an {@link IllegalArgumentException} names it. If the registry throws part-way,
     * the meters this call registered are removed again, nothing stays claimed, and the exception
     * is rethrown. A meter the registry refuses without throwing (it reports the refusal to its
     * registration-failure listeners and does not export the meter, as Prometheus' registry does
     * for a name already used by another type) fails the call the same way, with an
     * {@link IllegalArgumentException} naming the meter and the registry's reason.
     *
     * @return the meters, in order
     */
    static List<Meter> register(MeterRegistry registry, List<Wanted> wanted) {
        Meter[] meters = new Meter[wanted.size()];
        Claim[] taken = new Claim[wanted.size()];
        boolean[] adopted = new boolean[wanted.size()];   // a shared meter found in the registry, not registered here
        Claims claims;
        Wanted refused = null;
        Object refusedBy = null;
        synchronized (CLAIMS) {
            claims = CLAIMS.get(registry);
            if (claims == null) {
                Claims fresh = new Claims();      // the listener holds the claims, never the registry
                CLAIMS.put(registry, fresh);
                registry.config().onMeterRemoved(fresh::removed);
                registry.config().onMeterRegistrationFailed(fresh::refused);
                claims = fresh;
            }
            for (Wanted w : wanted) {
                Claim c = claims.byKey.get(w.key());
                if (c != null && c.owner != w.owner() && live(registry, c)) {
                    refused = w;
                    refusedBy = c.owner;
                    break;
                }
                if (!w.shared() && (c == null || !live(registry, c)) && registry instanceof CompositeMeterRegistry composite
                        && inMember(composite, w.key())) {
                    refused = w;                  // the composite would register into that meter
                    refusedBy = IN_MEMBER;
                    break;
                }
            }
            if (refused == null) {
                for (int i = 0; i < meters.length; i++) {
                    Wanted w = wanted.get(i);
                    Claim c = claims.byKey.get(w.key());
                    if (c != null && c.owner == w.owner() && c.meter != null && live(registry, c)) {
                        meters[i] = c.meter;      // ours, registered and live: not registered again
                    } else {
                        taken[i] = new Claim(w.key(), w.owner());
                        claims.put(taken[i]);
                    }
                }
            }
        }
        if (refusedBy == IN_MEMBER) {
            throw new IllegalArgumentException("meter " + refused.key() + " is already registered on a member of this"
                    + " composite registry; the composite would feed that meter too, mixing this binding's values"
                    + " into it (or counting them twice): bind a limiter to the composite or to its members, not both");
        }
        if (refused != null) {                    // the owner's toString is user code: no lock held
            throw new IllegalArgumentException("meter " + refused.key() + " is already bound on this registry"
                    + " to another limiter (" + refusedBy + "); Micrometer would share one meter between"
                    + " them and mix their values: give each limiter a distinct name or distinct tags");
        }
        Registering registering = new Registering(claims);
        REGISTERING.set(registering);
        try {
            for (int i = 0; i < meters.length; i++) {
                if (taken[i] != null) {
                    Wanted w = wanted.get(i);
                    Meter there = exact(registry, w.key());
                    if (there != null && w.shared()) {   // taken as it is (registering it again would log a warning)
                        meters[i] = there;
                        adopted[i] = true;        // never removed by a rollback: others count on it
                        continue;
                    }
                    if (there != null) {
                        throw foreign(w.key());
                    }
                    Set<Meter> before = named(registry, w.key().name());   // for ids a meter filter changes
                    Meter m = w.register().get();
                    if (before.contains(m)) {     // handed back, not made: not ours to count into, nor to remove
                        throw foreign(w.key());
                    }
                    meters[i] = m;
                    if (registering.refusal != null) {   // the registry made the meter but will not export it
                        throw new IllegalArgumentException("the registry refused meter " + w.key()
                                + " (" + registering.refusal + "); nothing of this binding stays registered");
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            // the registry failed part-way: what this call registered goes too, or another owner
            // could claim the name and be handed these meters, mixing both
            drop(claims, taken);
            for (int i = 0; i < meters.length; i++) {
                if (taken[i] != null && meters[i] != null && !adopted[i]) {
                    try {
                        registry.remove(meters[i]);
                    } catch (RuntimeException | Error suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
            }
            throw e;
        } finally {
            REGISTERING.remove();
        }
        synchronized (CLAIMS) {
            for (int i = 0; i < meters.length; i++) {
                Claim c = taken[i];
                if (c == null) {
                    continue;
                }
                c.meter = meters[i];
                if (claims.byKey.get(c.key) != c) {
                    continue;                     // replaced meanwhile by a binding of its own
                }
                if (live(registry, c)) {
                    claims.byMeter.put(c.meter, c);
                } else {
                    claims.byKey.remove(c.key, c);   // removed (or filtered out) before we could watch it
                }
            }
        }
        return Arrays.asList(meters);
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

    /** The refusal of a meter the registry holds already, registered by someone else than this module's binders. */
    private static IllegalArgumentException foreign(Key key) {
        return new IllegalArgumentException("meter " + key + " is already in this registry, not registered by this"
                + " binding (by the application, or by a composite registry this one is a member of); Micrometer"
                + " would share it and mix their values: give the limiter a distinct name or distinct tags, and"
                + " bind a limiter to a composite or to its members, not both");
    }

    /** The meters named {@code name} in {@code registry} now, by identity (a read of its meter map). */
    private static Set<Meter> named(MeterRegistry registry, String name) {
        Set<Meter> found = Collections.newSetFromMap(new IdentityHashMap<>());
        found.addAll(registry.find(name).meters());
        return found;
    }

    /** The meter of exactly {@code key} (its name and all of its tags, no more) in {@code registry}, or null. */
    private static Meter exact(MeterRegistry registry, Key key) {
        for (Meter m : registry.find(key.name()).tags(key.tags()).meters()) {
            if (Tags.of(m.getId().getTags()).equals(key.tags())) {
                return m;
            }
        }
        return null;
    }

    /** Whether a member of {@code composite} (or of a composite among them) holds a meter of exactly {@code key}. */
    private static boolean inMember(CompositeMeterRegistry composite, Key key) {
        for (MeterRegistry member : composite.getRegistries()) {
            if (exact(member, key) != null) {
                return true;
            }
            if (member instanceof CompositeMeterRegistry inner && inMember(inner, key)) {
                return true;
            }
        }
        return false;
    }

    private static void drop(Claims claims, Claim[] taken) {
        synchronized (CLAIMS) {
            for (Claim c : taken) {
                if (c != null) {
                    claims.byKey.remove(c.key, c);
                }
            }
        }
    }
}
