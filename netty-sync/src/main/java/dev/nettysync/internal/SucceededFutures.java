package dev.nettysync.internal;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

/**
 * Shared, already-succeeded {@code Future<Void>}s, one per executor, so that a wait that needs no
 * waiting (a free permit, a set event) allocates nothing. A succeeded future is immutable:
 * listeners added to it run at once (on its executor) and are not stored, so one instance may
 * be handed to any number of callers, as Netty's own {@code AbstractChannel} does with its
 * {@code newSucceededFuture()}.
 *
 * <p>The cache is a small direct-mapped table indexed by the executor's identity hash. Slots are
 * written racily; that is benign because a slot holds an immutable {@link Entry} (final fields,
 * so a reader sees it fully constructed or not at all) and a miss just allocates. Executors that
 * collide evict each other; a shut-down executor may stay referenced by one slot until evicted,
 * which bounds the "leak" to {@value #SLOTS} small objects.
 */
public final class SucceededFutures {
    private static final int SLOTS = 64;
    private static final Entry[] CACHE = new Entry[SLOTS];

    private SucceededFutures() {
    }

    /** An already-succeeded {@code Future<Void>} whose listeners run on {@code executor}. */
    public static Future<Void> of(EventExecutor executor) {
        int i = System.identityHashCode(executor) & (SLOTS - 1);
        Entry e = CACHE[i];
        if (e != null && e.executor == executor) {
            return e.future;
        }
        Future<Void> f = executor.newSucceededFuture(null);
        CACHE[i] = new Entry(executor, f);
        return f;
    }

    private static final class Entry {
        final EventExecutor executor;
        final Future<Void> future;

        Entry(EventExecutor executor, Future<Void> future) {
            this.executor = executor;
            this.future = future;
        }
    }
}
