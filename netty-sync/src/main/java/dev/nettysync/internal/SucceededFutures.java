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
 * <p>One per executor as far as an {@link ExecutorCache} keeps it: a rare miss allocates one more
 * succeeded future, which is as good as the cached one.
 */
public final class SucceededFutures {
    private static final ExecutorCache<Future<Void>> CACHE =
            new ExecutorCache<>(executor -> executor.newSucceededFuture(null));

    private SucceededFutures() {
    }

    /** An already-succeeded {@code Future<Void>} whose listeners run on {@code executor}. */
    public static Future<Void> of(EventExecutor executor) {
        return CACHE.get(executor);
    }
}
