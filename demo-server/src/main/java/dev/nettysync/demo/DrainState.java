package dev.nettysync.demo;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The server's count of requests in progress and its draining flag, shared by the
 * {@link GatewayServer} (which starts the drain and waits for {@link #drained()}) and every
 * {@link GatewayHandler} (which counts its requests in and out and asks whether to refuse).
 *
 * <p>Thread-safe: requests start and end on every event loop.
 */
final class DrainState {

    private final AtomicBoolean draining = new AtomicBoolean();          // set once by startDraining()
    private final AtomicInteger active = new AtomicInteger();            // started, not yet answered; any loop
    private final Promise<Void> drained = GlobalEventExecutor.INSTANCE.newPromise(); // done when draining and idle

    /** A request was decoded and is now in progress. */
    void requestStarted() {
        active.incrementAndGet();
    }

    /** A request was answered, or its client left. */
    void requestEnded() {
        if (active.decrementAndGet() == 0 && draining.get()) {
            drained.trySuccess(null);
        }
    }

    /** Starts the drain; true the first time only. */
    boolean startDraining() {
        if (!draining.compareAndSet(false, true)) {
            return false;
        }
        if (active.get() == 0) {
            drained.trySuccess(null);
        }
        return true;
    }

    boolean isDraining() {
        return draining.get();
    }

    int activeRequests() {
        return active.get();
    }

    /** Succeeds once draining and no request is in progress; failed by the drain timeout. */
    Future<Void> drained() {
        return drained;
    }

    /** Ends the drain early (drain timeout); false if it had already ended. */
    boolean giveUp(Throwable cause) {
        return drained.tryFailure(cause);
    }
}
