package dev.nettysync.limit;

import dev.nettysync.QueueFullException;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.Ticker;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * One limiter per key (client address, API key, tenant), created on demand by a factory, with
 * bounded memory: keys nobody uses are evicted, and the number of live keys is capped.
 *
 * <pre>{@code
 * KeyedLimiter<String> perClient = KeyedLimiter
 *         .builder((String ip) -> AsyncRateLimiter.perSecond(10, 20))
 *         .maxKeys(100_000).idleTime(Duration.ofMinutes(1)).build();
 *
 * perClient.acquire(clientIp, ctx.executor(), 0, SECONDS).addListener(f -> {
 *     if (f.cause() instanceof RateLimitedException r) { reply429(r.retryAfterSeconds()); return; }
 *     ...
 * });
 * }</pre>
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li><b>Each key behaves as its own limiter</b> from the factory: FIFO, cancellation,
 *       timeouts, refusals and the executor of completion are that limiter's. Permits are
 *       wrapped so that the key knows when it is in use; they end exactly once and are tracked
 *       for leaks (a leaked permit would pin its key).</li>
 *   <li><b>Never evicted while in use.</b> A key is live while a permit acquired through it is
 *       held or a wait on it is pending; such a key is never evicted.</li>
 *   <li><b>Never evicted while its limiter remembers anything.</b> A key is evicted only when its
 *       limiter's {@link AsyncLimiter#statistics() statistics} say it is at rest (nothing in use,
 *       nothing queued, everything available: for a rate limiter, a full bucket), so the fresh
 *       limiter the factory makes when the key comes back is indistinguishable from the evicted
 *       one: an eviction can never double a limit.</li>
 *   <li><b>Idle keys are evicted</b> once unused for {@code idleTime} and at rest, without a
 *       thread or a timer: each new key moves a sweep hand two keys forward over the live keys
 *       (a CLOCK), so an idle key is evicted at the latest after {@code liveKeys / 2} new keys;
 *       with no new keys nothing grows. {@link #evictIdle()} sweeps every key now, for callers
 *       who want a schedule.</li>
 *   <li><b>At most {@code maxKeys} live keys.</b> A new key beyond the cap evicts the
 *       approximately least recently used key at rest (CLOCK with one second chance; the idle
 *       time is not required then, since evicting a key at rest loses nothing), giving up once
 *       it has examined each live key (at most {@value #MAX_SCAN} of them) that was not recently
 *       used but is in use or not at rest. If none of them can be evicted (all in use or not at rest), the
 *       new key is <b>refused</b>: {@code acquire} fails with a {@link QueueFullException} and
 *       {@code tryAcquire} returns {@code null}. We refuse rather than evict a key in use, since
 *       that would hand out a second, fresh limit for it. Under contention the search is
 *       approximate too: a key that another thread's sweep is examining at that moment is not
 *       seen, so a new key may be refused although that key could have made room (a later try
 *       finds it); and a new key holds its slot while the factory makes its limiter, so at the
 *       cap a slow factory may have another new key refused meanwhile.</li>
 *   <li><b>A limiter that cannot say</b> whether it is at rest (its {@code statistics()}
 *       throws, or returns {@code null}) is treated as not at rest: its key is kept and still
 *       counts toward {@code maxKeys}, and the key is evicted as usual once its statistics
 *       answer again. A failure is logged once while its key lives: the keyed limiter's first at
 *       WARN, with its stack trace, every other key's at DEBUG (a limiter type that fails for
 *       one key usually fails for thousands). Nothing else is affected: acquires on other keys
 *       neither fail nor lose a slot.</li>
 *   <li><b>Thread-safe, lock-free</b>; the factory and the limiters' {@code statistics()} are
 *       called with nothing held. A new key is in use by the call that made it from the moment
 *       it is published, so it is never evicted before that call has asked its limiter. The
 *       factory is called once per new key, after the key's slot under {@code maxKeys} is
 *       reserved (a new key refused at the cap never calls it), except when two threads make
 *       the same key at the same time (the limiter that loses the race is dropped unused). If
 *       the factory throws or returns {@code null}, the call fails with that exception and the
 *       slot is given back (a key evicted to make room for it stays evicted: it was at
 *       rest).</li>
 *   <li><b>Keys are map keys</b> (a {@link ConcurrentHashMap}'s): not {@code null}, with
 *       {@code equals} and {@code hashCode} consistent and unchanged while the key is live. A
 *       key whose {@code hashCode} or {@code equals} throws as it is looked up or made fails
 *       that call with the exception, holding nothing (no slot under {@code maxKeys}). A key
 *       mutated while live cannot be found, nor removed once evicted: its entry stays in the
 *       map, beyond {@code maxKeys}. The factory may return one limiter for
 *       several keys (they then share its limit; none is evicted while the limiter is in use
 *       through another).</li>
 *   <li><b>Executors that shut down.</b> A wait whose executor shuts down while it is queued
 *       is refused by the key's limiter as that limiter refuses it (the library's limiters fail
 *       it with a {@link java.util.concurrent.RejectedExecutionException} and serve the next
 *       waiter), and the key lets it go as for any other failure: it can be evicted and frees
 *       its slot under {@code maxKeys}. A permit the key's limiter grants after the shutdown
 *       anyway is ended at once ({@code releaseIgnored}) and the wait fails the same way: a
 *       permit is handed over only on the caller's executor.</li>
 * </ul>
 *
 * <h2>A global limit too</h2>
 * {@link #forKey(Object)} is an {@link AsyncLimiter}, so a per-key limit composes with a global
 * one through {@link AsyncLimiter#all}: at most {@code k} per key and at most {@code G} in all.
 * <pre>{@code
 * AsyncLimiter global = AsyncLimiter.of(new AsyncSemaphore(200));          // G
 * KeyedLimiter<String> perClient = KeyedLimiter
 *         .builder((String ip) -> AsyncLimiter.of(new AsyncSemaphore(4)))   // k
 *         .maxKeys(100_000).idleTime(Duration.ofMinutes(1)).build();
 *
 * AsyncLimiter.all(perClient.forKey(ip), global)    // a view per request: cheap
 *         .acquire(ctx.executor(), 2, SECONDS)
 *         .addListener(f -> ...);                  // its permit ends the global one, then the key's
 * }</pre>
 * Put the key first: a client over its own limit queues on its key without holding a global
 * permit others wait for. The key's permit is held (the key is live) while the wait for the
 * global one queues; a cancel, a timeout or a refusal by the global limiter gives it back, so
 * the key can be evicted once idle. Every composite sharing these limiters must use the same
 * order.
 *
 * <h2>Memory consistency effects</h2>
 * Those of the keys' limiters; in addition, everything a permit's holder did before ending it
 * happens-before the key's eviction.
 */
public final class KeyedLimiter<K> {

    /*
     * Implementation notes
     *
     * Map. A ConcurrentHashMap from key to Entry; an Entry is never reused once evicted.
     *
     * Entry state. One word per entry:
     *     EVICTED (-1)  or  [0][generation: 31 bits][refs: 32 bits]
     * refs counts the enters not yet exited: each is a caller on its way to the key's limiter, a
     * pending wait, or a held permit taken through the entry (a refused or failed ask exits at
     * once); the generation is bumped by every enter. enter() CASes refs+1 unless EVICTED (then
     * the caller removes the entry from the map and retries: a fresh entry is created). exit()
     * CASes refs-1 after writing lastUsed. Invariants: refs >= 0; refs == 0 only once every
     * enter so far has exited (so every permit taken through it has ended); EVICTED is final.
     *
     * Creation. A new entry is born entered by its creator: state = [generation 1][refs 1]
     * before putIfAbsent publishes it, the creator's own enter, which it exits like any other
     * (after its ask). So a sweep that finds it in the map or the hand reads refs >= 1 until its
     * creator has asked its limiter and the answer ended: a new key is never evicted before its
     * first use, and the factory is called once per creation (twice for one key only when two
     * threads race to create it and one putIfAbsent loses: the loser drops its limiter unused
     * and enters the winner's entry, which may by then have been evicted after use: it retries).
     * The generation 1 also gives the new key its second chance when the hand first meets it.
     *
     * Eviction. An evictor reads the word s (refs == 0), then asks the limiter's statistics
     * whether it is at rest, then CASes s -> EVICTED. If anyone entered meanwhile, refs or the
     * generation changed and the CAS fails. If it succeeds, nobody entered between the read and
     * the CAS, and refs == 0 at the read means every earlier permit had ended (exit runs after
     * the inner release), so the limiter was and stays at rest: the fresh limiter that replaces
     * it is equivalent. (A generation ABA needs 2^31 enters between a read and a CAS.)
     *
     * Sweep. A ConcurrentLinkedQueue holds each live entry once (entries are offered after they
     * win the putIfAbsent, and leave only when a sweep polls them as evicted). Sweeping polls an
     * entry from the head and either evicts it or offers it back at the tail: a CLOCK hand.
     * Second chance: an entry whose generation changed since the hand last saw it is passed over
     * once when looking for a victim at the cap. The search for a victim gives up once it has
     * failed on as many entries as there are other live keys (at most MAX_SCAN): going round a
     * small hand again would only ask the same limiters' statistics again.
     *
     * Count. `live` counts entries in the map; a creation reserves a slot first and, over the
     * cap, must evict one before it may proceed (or gives the slot back and refuses); only then
     * does it call the factory (and gives the slot back if that, or the map, throws). Entries a
     * sweep holds out of the hand while it examines them (polled, not yet offered back or
     * evicted) are invisible to that search, and an eviction frees its slot only after its CAS
     * and the map removal: a creation racing either may be refused at the cap although a slot
     * was, or was about to be, free. A new entry is not at rest to a sweep (refs 1, see
     * Creation), so a creation never evicts another creation's key before its first use.
     *
     * Waits. The key's limiter is asked with a ContinuationExecutor over the caller's executor,
     * so the KeyedWait's listener on the inner future (which exits the entry) runs even once the
     * caller's executor has shut down (on the thread that completed the inner future). A granted
     * permit is handed to the caller on its executor only (PermitHandOver, shared with
     * CompositeLimiter); refused there, it is ended at once, which exits the entry.
     */

    /** At the cap, at most this many keys (and at most each live key once) are examined for a victim before refusing. */
    public static final int MAX_SCAN = 64;

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(KeyedLimiter.class);

    private final ConcurrentHashMap<K, Entry<K>> map = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Entry<K>> hand = new ConcurrentLinkedQueue<>();
    private final AtomicInteger live = new AtomicInteger();      // entries in the map
    private final LongAdder evictions = new LongAdder();
    private final AtomicBoolean statisticsFailureWarned = new AtomicBoolean();   // the first failure is a WARN, once
    private final Function<? super K, ? extends AsyncLimiter> factory;
    private final int maxKeys;
    private final long idleNanos;
    private final Ticker ticker;

    private KeyedLimiter(Builder<K> b) {
        this.factory = b.factory;
        this.maxKeys = b.maxKeys;
        this.idleNanos = b.idleNanos;
        this.ticker = b.ticker;
    }

    /** A builder; the factory makes the limiter of a key the first time it is used. */
    public static <K> Builder<K> builder(Function<? super K, ? extends AsyncLimiter> factory) {
        return new Builder<>(factory);
    }

    /** Configuration of a {@link KeyedLimiter}. Not thread-safe. */
    public static final class Builder<K> {
        private final Function<? super K, ? extends AsyncLimiter> factory;
        private int maxKeys = 100_000;
        private long idleNanos = TimeUnit.MINUTES.toNanos(1);
        private Ticker ticker = Ticker.systemTicker();

        private Builder(Function<? super K, ? extends AsyncLimiter> factory) {
            this.factory = Objects.requireNonNull(factory, "factory");
        }

        /** The cap on live keys (default 100,000). */
        public Builder<K> maxKeys(int maxKeys) {
            if (maxKeys < 1) {
                throw new IllegalArgumentException("maxKeys must be >= 1, was " + maxKeys);
            }
            this.maxKeys = maxKeys;
            return this;
        }

        /**
         * How long a key must be unused (and at rest) before a sweep evicts it (default 1 min);
         * a time beyond {@code Long.MAX_VALUE} ns (292 years) means never: only the cap evicts.
         */
        public Builder<K> idleTime(Duration idleTime) {
            Objects.requireNonNull(idleTime, "idleTime");
            if (idleTime.isNegative()) {
                throw new IllegalArgumentException("idleTime must be >= 0, was " + idleTime);
            }
            long nanos;
            try {
                nanos = idleTime.toNanos();
            } catch (ArithmeticException tooLong) {
                nanos = Long.MAX_VALUE;
            }
            this.idleNanos = nanos;
            return this;
        }

        /** The time source for idle times; defaults to {@code System.nanoTime()}. */
        public Builder<K> ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        public KeyedLimiter<K> build() {
            return new KeyedLimiter<>(this);
        }
    }

    // ---------------------------------------------------------------- admitting

    /**
     * Admits at once through {@code key}'s limiter, or returns {@code null}: refused by that
     * limiter, or the key is new and the cap is reached with no key to evict.
     */
    public Permit tryAcquire(K key) {
        Entry<K> e = enter(key);
        if (e == null) {
            return null;
        }
        Permit inner;
        try {
            inner = e.limiter.tryAcquire();
        } catch (RuntimeException | Error t) {
            exit(e);
            throw t;
        }
        if (inner == null) {
            exit(e);
            return null;
        }
        return new KeyedPermit<>(this, e, inner);
    }

    /** Waits for {@code key}'s limiter, as {@link AsyncLimiter#acquire(EventExecutor)}. */
    public Future<Permit> acquire(K key, EventExecutor executor) {
        return acquire0(key, executor, -1, null);
    }

    /**
     * Waits for {@code key}'s limiter, as {@link AsyncLimiter#acquire(EventExecutor, long, TimeUnit)};
     * with a timeout of 0 a rate limiter refuses at once with its {@link RateLimitedException}.
     */
    public Future<Permit> acquire(K key, EventExecutor executor, long timeout, TimeUnit unit) {
        return acquire0(key, executor, timeout, Objects.requireNonNull(unit, "unit"));
    }

    /** {@code key}'s limit as an {@link AsyncLimiter} (a view: it holds no state of its own). */
    public AsyncLimiter forKey(K key) {
        Objects.requireNonNull(key, "key");
        return new AsyncLimiter() {
            @Override
            public Future<Permit> acquire(EventExecutor executor) {
                return KeyedLimiter.this.acquire(key, executor);
            }

            @Override
            public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
                return KeyedLimiter.this.acquire(key, executor, timeout, unit);
            }

            @Override
            public Permit tryAcquire() {
                return KeyedLimiter.this.tryAcquire(key);
            }

            @Override
            public LimiterStatistics statistics() {
                return KeyedLimiter.this.statistics(key);
            }

            @Override
            public String toString() {
                return KeyedLimiter.this + "[" + key + "]";
            }
        };
    }

    /**
     * The statistics of {@code key}'s limiter if the key is live, or else those of a fresh limiter
     * from the factory (made for the call and dropped).
     */
    public LimiterStatistics statistics(K key) {
        Entry<K> e = map.get(Objects.requireNonNull(key, "key"));
        return e != null ? e.limiter.statistics() : factory.apply(key).statistics();
    }

    /** Keys with a limiter now (at most {@code maxKeys}). */
    public int liveKeys() {
        return live.get();
    }

    /** Keys evicted so far. */
    public long evictions() {
        return evictions.sum();
    }

    /**
     * Sweeps every live key once and evicts those idle for {@code idleTime} and at rest; for
     * callers who want eviction on a schedule of their own (nothing else needs it).
     *
     * @return how many keys this call evicted
     */
    public int evictIdle() {
        int evicted = 0;
        for (int i = 0, n = live.get(); i < n; i++) {
            Entry<K> e = hand.poll();
            if (e == null) {
                break;
            }
            if (e.state == EVICTED) {
                continue;
            }
            if (tryEvict(e, true)) {
                evicted++;
            } else {
                hand.offer(e);
            }
        }
        return evicted;
    }

    // ---------------------------------------------------------------- internals

    private Future<Permit> acquire0(K key, EventExecutor executor, long timeout, TimeUnit unit) {
        Objects.requireNonNull(executor, "executor");
        Entry<K> e = enter(key);
        if (e == null) {
            return executor.newFailedFuture(new QueueFullException(maxKeys + " keys live in " + this
                    + " and none idle: refused new key " + key));
        }
        Future<Permit> inner;
        try {
            // The key's limiter waits on the caller's executor, but its future's listener (which
            // lets the key go) runs even once that executor has shut down: see ContinuationExecutor.
            EventExecutor innerExecutor = ContinuationExecutor.of(executor);
            inner = unit == null ? e.limiter.acquire(innerExecutor) : e.limiter.acquire(innerExecutor, timeout, unit);
            if (inner == null) {
                throw new NullPointerException("the limiter of key " + key + " (" + e.limiter
                        + ") returned a null future");
            }
        } catch (RuntimeException | Error t) {
            exit(e);
            throw t;
        }
        if (inner.isDone()) {                       // the common case: no promise of our own
            if (inner.isSuccess()) {
                return executor.newSucceededFuture(new KeyedPermit<>(this, e, inner.getNow()));
            }
            exit(e);
            return executor.newFailedFuture(inner.isCancelled() ? new CancellationException() : inner.cause());
        }
        return new KeyedWait<>(executor, this, e, inner);
    }

    /** Finds or creates the key's entry and enters it; {@code null} if a new key is refused. */
    private Entry<K> enter(K key) {
        Objects.requireNonNull(key, "key");
        for (;;) {
            Entry<K> e = map.get(key);
            if (e == null) {
                if (!reserveSlot()) {               // before the factory: a refused key costs no limiter
                    e = map.get(key);               // refused; someone else may have made it meanwhile
                    if (e == null) {
                        return null;
                    }
                } else {
                    Entry<K> made;
                    try {
                        AsyncLimiter limiter = Objects.requireNonNull(factory.apply(key), "factory returned null");
                        made = new Entry<>(key, limiter, ticker.nanoTime());   // entered: refs 1
                        e = map.putIfAbsent(key, made);
                    } catch (RuntimeException | Error t) {   // the factory, or the key's hashCode/equals
                        live.decrementAndGet();     // the slot was never used
                        throw t;
                    }
                    if (e == null) {
                        hand.offer(made);
                        return made;                // no sweep can evict it before its creator's exit
                    }
                    live.decrementAndGet();         // beaten to it: enter theirs, drop ours unused
                }
            }
            if (e.enter()) {
                return e;
            }
            map.remove(key, e);                     // evicted: help remove it, then make a new one
        }
    }

    /**
     * Reserves a slot under {@code maxKeys} for a new key (evicting a key at rest at the cap) and
     * moves the hand two keys; {@code false} if the cap is reached with no key to evict.
     */
    private boolean reserveSlot() {
        if (live.incrementAndGet() > maxKeys && !evictOneForRoom()) {
            live.decrementAndGet();
            return false;
        }
        sweep(2);
        return true;
    }

    /** Moves the hand {@code steps} keys, evicting idle keys at rest. */
    private void sweep(int steps) {
        for (int i = 0; i < steps; i++) {
            Entry<K> e = hand.poll();
            if (e == null) {
                return;
            }
            if (e.state != EVICTED && !tryEvict(e, true)) {
                hand.offer(e);
            }
        }
    }

    /**
     * At the cap: evicts one key at rest, approximately the least recently used. Passing over a
     * recently used key clears its mark (paid for by the enter that set it); unmarked keys that
     * cannot be evicted are examined until each live key was, at most {@link #MAX_SCAN}, before
     * giving up. (Not MAX_SCAN whatever the number of keys: with few keys, all in use, a refusal
     * would go round the same keys, asking their limiters' statistics, dozens of times.)
     */
    private boolean evictOneForRoom() {
        int failed = 0;
        int n = live.get();
        int scan = Math.min(MAX_SCAN, Math.max(1, n - 1));   // the live keys but the one being made
        int budget = 2 * n + scan;                  // every mark cleared once, then each key once
        while (failed < scan && budget-- > 0) {
            Entry<K> e = hand.poll();
            if (e == null) {
                return false;
            }
            if (e.state == EVICTED) {
                continue;                           // dropped from the hand
            }
            long gen = e.generation();
            boolean recentlyUsed = gen != e.seenGeneration;
            e.seenGeneration = gen;
            if (!recentlyUsed) {
                if (tryEvict(e, false)) {
                    return true;
                }
                failed++;
            }
            hand.offer(e);
        }
        return false;
    }

    private boolean tryEvict(Entry<K> e, boolean requireIdle) {
        long s = e.state;
        if (s == EVICTED || (s & REFS) != 0) {
            return false;
        }
        if (requireIdle && ticker.nanoTime() - e.lastUsed < idleNanos) {
            return false;
        }
        if (!atRest(e)) {
            return false;
        }
        if (!STATE.compareAndSet(e, s, EVICTED)) {
            return false;
        }
        map.remove(e.key, e);
        live.decrementAndGet();
        evictions.increment();
        return true;
    }

    /**
     * Whether {@code e}'s limiter says it is at rest. A limiter whose {@code statistics()} throws
     * cannot say so: its key is kept (evicting it might double a limit), and the sweep goes on
     * with the other keys. The failure is logged once per key while the key lives: the first of
     * this keyed limiter at WARN, with its stack trace, the others at DEBUG, since a limiter
     * type that fails for one key usually fails for all of them (thousands of client IPs).
     */
    private boolean atRest(Entry<?> e) {
        LimiterStatistics s;
        try {
            s = e.limiter.statistics();
        } catch (RuntimeException | Error t) {   // user code: must not lose the key's place or slot
            if (!e.statisticsFailed) {
                e.statisticsFailed = true;
                if (statisticsFailureWarned.compareAndSet(false, true)) {
                    logger.warn("statistics() of the limiter of key {} threw; the key is kept until it answers"
                            + " (this keyed limiter logs the failures of its other keys at DEBUG)", e.key, t);
                } else {
                    logger.debug("statistics() of the limiter of key {} threw; the key is kept until it answers",
                            e.key, t);
                }
            }
            return false;
        }
        return s != null && atRest(s);
    }

    static boolean atRest(LimiterStatistics s) {
        return s.queued() == 0 && s.inUse() == 0 && (s.unlimited() || s.available() >= s.limit());
    }

    private void exit(Entry<K> e) {
        e.lastUsed = ticker.nanoTime();
        STATE.decrementAndGet(e);                   // refs - 1: the low bits, never below 0
    }

    /** The key of a live entry holding a permit or wait, for tests. */
    boolean isLive(K key) {
        return map.containsKey(key);
    }

    /** The refs of {@code key}'s entry (-1 if none), for tests. */
    long refs(K key) {
        Entry<K> e = map.get(key);
        return e == null ? -1 : e.state & REFS;
    }

    @Override
    public String toString() {
        return "KeyedLimiter(" + live.get() + "/" + maxKeys + " keys)";
    }

    private static final long EVICTED = -1L;
    private static final long REFS = 0xFFFF_FFFFL;
    private static final long GEN_ONE = 1L << 32;
    private static final long GEN_MASK = 0x7FFF_FFFFL << 32;

    @SuppressWarnings("rawtypes")
    private static final AtomicLongFieldUpdater<Entry> STATE =
            AtomicLongFieldUpdater.newUpdater(Entry.class, "state");

    static final class Entry<K> {
        final K key;
        final AsyncLimiter limiter;
        volatile long state;            // see the notes: set by the creator before publication, then CAS by enter/exit/evict
        volatile long lastUsed;         // ticker time of the last exit (or creation)
        volatile long seenGeneration;   // the generation the hand saw last (second chance)
        volatile boolean statisticsFailed; // set by a sweep when statistics() threw (logged once)

        /** A new entry, entered by its creator: generation 1, refs 1 (see the notes: Creation). */
        Entry(K key, AsyncLimiter limiter, long now) {
            this.key = key;
            this.limiter = limiter;
            this.lastUsed = now;
            this.state = GEN_ONE | 1;
        }

        @SuppressWarnings("unchecked")
        boolean enter() {
            for (;;) {
                long s = state;
                if (s == EVICTED) {
                    return false;
                }
                if ((s & REFS) == REFS) {
                    throw new IllegalStateException("2^32 - 1 permits and waits on one key");
                }
                long next = (((s & GEN_MASK) + GEN_ONE) & GEN_MASK) | ((s & REFS) + 1);
                if (STATE.compareAndSet(this, s, next)) {
                    return true;
                }
            }
        }

        long generation() {
            long s = state;
            return s == EVICTED ? -1 : (s & GEN_MASK) >>> 32;
        }
    }

    /** A permit of a key: ends the inner permit, then lets the key go. */
    private static final class KeyedPermit<K> extends HoldingPermit {
        private final KeyedLimiter<K> owner;
        private final Entry<K> entry;
        private final Permit inner;

        KeyedPermit(KeyedLimiter<K> owner, Entry<K> entry, Permit inner) {
            this.owner = owner;
            this.entry = entry;
            this.inner = inner;
            takeOverLeakTracking();                 // a leak is reported once, as this permit
        }

        @Override
        void untrackHeld() {
            untrack(inner);
        }

        @Override
        void onEndAfter(Outcome outcome, Throwable cause) {
            try {
                Permits.endAfter(inner, outcome, cause);
            } finally {
                owner.exit(entry);
            }
        }
    }

    /**
     * A pending wait on a key's limiter. Its result follows the inner wait's; cancelling it
     * cancels the inner wait first, so a wait already granted stays granted (cancel returns
     * {@code false} and the permit arrives), as the {@link AsyncLimiter} contract requires.
     * It listens to the inner wait itself (no listener object of its own).
     */
    private static final class KeyedWait<K> extends PermitHandOver implements GenericFutureListener<Future<Permit>> {
        private final KeyedLimiter<K> owner;
        private final Entry<K> entry;
        private final Future<Permit> inner;

        KeyedWait(EventExecutor executor, KeyedLimiter<K> owner, Entry<K> entry, Future<Permit> inner) {
            super(executor);
            this.owner = owner;
            this.entry = entry;
            this.inner = inner;
            inner.addListener(this);
        }

        /** The inner wait ended: on the caller's executor, or where it was refused. */
        @Override
        public void operationComplete(Future<Permit> f) {
            if (f.isSuccess()) {
                handOver(new KeyedPermit<>(owner, entry, f.getNow()));   // on the caller's executor, or ended
                return;
            }
            owner.exit(entry);
            if (f.isCancelled()) {
                super.cancel(false);
            } else {
                tryFailure(f.cause());
            }
        }

        @Override
        String refusedWait() {
            return owner + "[" + entry.key + "] (the permit was ended)";
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (!inner.cancel(false)) {
                return false;                       // granted or failed: the listener reports it
            }
            return super.cancel(mayInterruptIfRunning) || isCancelled();
        }
    }
}
