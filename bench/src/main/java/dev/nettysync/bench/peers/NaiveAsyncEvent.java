package dev.nettysync.bench.peers;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.ArrayList;

/**
 * Baseline event: {@code synchronized} + {@code ArrayList<Promise<Void>>}, promises completed
 * outside the lock. Thread-safe: every field is guarded by {@code this}.
 */
public final class NaiveAsyncEvent {

    private boolean set;                                          // guarded by this
    private ArrayList<Promise<Void>> waiters = new ArrayList<>(); // guarded by this

    public Future<Void> await(EventExecutor executor) {
        Promise<Void> p;
        synchronized (this) {
            if (set) {
                return executor.newSucceededFuture(null);
            }
            p = executor.newPromise();
            waiters.add(p);
        }
        return p;
    }

    public void set() {
        ArrayList<Promise<Void>> toWake;
        synchronized (this) {
            if (set) {
                return;
            }
            set = true;
            toWake = waiters;
            waiters = new ArrayList<>();
        }
        for (int i = 0, n = toWake.size(); i < n; i++) {
            toWake.get(i).trySuccess(null);
        }
    }

    public synchronized void clear() {
        set = false;
    }
}
