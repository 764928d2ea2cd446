package dev.nettysync.internal;

import io.netty.util.concurrent.EventExecutor;

import java.util.Objects;
import java.util.function.Function;

/**
 * One shared value per executor, found without a lock or an allocation once made: the
 * primitives' succeeded future per executor ({@link SucceededFutures}) and the limiters'
 * continuation executor per executor ({@code dev.nettysync.limit.ContinuationExecutor}). Not API.
 *
 * <p><b>Contract.</b> {@link #get} returns the value the factory made for that executor
 * (compared by identity), or a new one: a cache, not a map, so a caller must not rely on getting
 * the same instance twice. The values must therefore be interchangeable and immutable, with
 * final fields: they are published without a fence, and handed to any thread. Thread-safe;
 * never blocks; the factory runs on the calling thread, outside any lock, and must not throw.
 * The cache keeps at most {@value #SLOTS} executors referenced, shut-down ones included, until
 * their slots are taken.
 *
 * <p><b>Implementation notes.</b> A table of {@value #SLOTS} slots, each an immutable
 * {@link Entry} (executor, value). An executor has two candidate slots, chosen by two bytes of
 * its identity hash (two-choice hashing): a lookup reads the first, then on a miss the second.
 * A miss makes a value and puts it in the first slot if that is empty or holds a shut-down
 * executor, else in the second, evicting whatever is there. A slot is written with a plain store
 * and may be overwritten by a racing miss: a reader sees a whole entry or another one, and a lost
 * write costs one more miss.
 *
 * <p>Why two choices: with one slot per executor (the table's first form, 64 slots), two
 * executors shared a slot with the birthday problem's odds, and such a pair evicted each other
 * on every alternation, allocating each time. Simulated with random identity hashes, after three
 * warm-up rounds of lookups in turn, the share of sets of executors in which some executor still
 * misses:
 * <pre>
 * executors            4      8     16     32     64
 * one slot of 64      9 %   37 %   87 %  100 %  100 %
 * one slot of 256     2 %   10 %   38 %   87 %  100 %
 * two slots of 256    0      0    0.1 %    1 %   16 %
 * </pre>
 * (the last row's misses are 0.05 % of lookups at 32 executors and 0.5 % at 64). These are odds
 * per program, not per run: HotSpot draws identity hashes from per-thread generators with fixed
 * seeds, so the same start-up gives the same hashes, and a server whose loops collide does so
 * every time it starts (bench/results/executor-cache-20261127: 16 loops, the same 12 B per
 * uncontended acquire in every fork with one slot, none with two). A hit in the first slot costs
 * what the one-slot table cost: the hash, one array read, one comparison.
 */
public final class ExecutorCache<V> {
    static final int SLOTS = 256;
    private static final int MASK = SLOTS - 1;
    private static final int SECOND_CHOICE_SHIFT = 8;   // log2(SLOTS): the next byte of the hash

    private final Function<? super EventExecutor, ? extends V> factory;
    // Written racily by any thread on a miss; entries are immutable (see the class comment).
    private final Entry<V>[] slots;

    @SuppressWarnings("unchecked")
    public ExecutorCache(Function<? super EventExecutor, ? extends V> factory) {
        this.factory = Objects.requireNonNull(factory, "factory");
        this.slots = (Entry<V>[]) new Entry<?>[SLOTS];
    }

    /** The value for {@code executor}: cached, or made by the factory (and cached). */
    public V get(EventExecutor executor) {
        int hash = System.identityHashCode(executor);
        Entry<V> e = slots[firstSlot(hash)];
        if (e != null && e.executor == executor) {
            return e.value;
        }
        return secondChoiceOrMake(executor, hash);
    }

    // Apart from get() so that the hit in the first slot compiles to a small body.
    private V secondChoiceOrMake(EventExecutor executor, int hash) {
        int first = firstSlot(hash);
        int second = secondSlot(hash);
        Entry<V> e = slots[second];
        if (e != null && e.executor == executor) {
            return e.value;
        }
        V value = factory.apply(executor);
        slots[reusable(slots[first]) ? first : second] = new Entry<>(executor, value);
        return value;
    }

    private static int firstSlot(int hash) {
        return hash & MASK;
    }

    private static int secondSlot(int hash) {
        return (hash >>> SECOND_CHOICE_SHIFT) & MASK;
    }

    /** Whether a miss may take this slot without evicting a live executor's entry. */
    private static boolean reusable(Entry<?> e) {
        return e == null || e.executor.isShutdown();
    }

    /** The slots {@code executor} may occupy, first choice first (for tests). */
    static int[] candidateSlots(EventExecutor executor) {
        int hash = System.identityHashCode(executor);
        return new int[] {firstSlot(hash), secondSlot(hash)};
    }

    private static final class Entry<V> {
        final EventExecutor executor;
        final V value;

        Entry(EventExecutor executor, V value) {
            this.executor = executor;
            this.value = value;
        }
    }
}
