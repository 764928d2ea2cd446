package dev.nettysync.bench.peers;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;

/**
 * What a benchmark client does once it holds a permit (or once an event fired). One object per
 * client, reused for every wait, so the peers are compared without a lambda allocation of ours
 * on top of theirs: it is a Netty listener for the Netty-based peers and a {@link Runnable} for
 * {@code CompletionStage.thenRunAsync}.
 */
public abstract class Continuation implements Runnable, GenericFutureListener<Future<Void>> {

    @Override
    public final void operationComplete(Future<Void> future) {
        if (!future.isSuccess()) {
            throw new IllegalStateException("wait failed", future.cause());
        }
        run();
    }
}
