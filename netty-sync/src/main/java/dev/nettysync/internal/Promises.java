package dev.nettysync.internal;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

/** Small promise helpers shared by the primitives and the limiters. Not API. */
public final class Promises {

    private Promises() {
    }

    /** Completes {@code to} as {@code from} completed: the same value, cancellation or cause. */
    @SuppressWarnings("unchecked")
    public static <T> void propagate(Future<?> from, Promise<T> to) {
        if (from.isSuccess()) {
            to.trySuccess((T) from.getNow());
        } else if (from.isCancelled()) {
            to.cancel(false);
        } else {
            to.tryFailure(from.cause());
        }
    }
}
