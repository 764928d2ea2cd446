package dev.nettysync.bench.peers;

import com.ibm.asyncutil.locks.FairAsyncSemaphore;
import dev.nettysync.AsyncSemaphore;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * One semaphore implementation behind the operations the benchmarks need, selected by the
 * {@code impl} {@code @Param} so that netty-sync and its peers land in one JMH table. Each JMH
 * fork uses a single implementation, so every call site here stays monomorphic and inlines.
 *
 * <ul>
 *   <li>{@code nettysync}: {@link AsyncSemaphore}.</li>
 *   <li>{@code nettysyncTimed}: the same, every wait with a timeout (one minute, never reached):
 *       not a peer, netty-sync's own cost of a timed wait (its timer scheduled on the waiter's
 *       executor when it queues, cancelled when it is granted), next to the untimed row.</li>
 *   <li>{@code jdk}, {@code jdkFair}: {@link Semaphore} (non-fair / fair). Blocking, so only in
 *       the uncontended benchmark, where it is the P1 yardstick.</li>
 *   <li>{@code asyncutil}: IBM asyncutil's {@link FairAsyncSemaphore}, used the way its
 *       documentation shows: the waiter's {@code CompletionStage} continued with
 *       {@code thenRunAsync(..., loop)}, so the continuation runs on the waiter's own loop, the
 *       same hop netty-sync makes, but always through the loop's task queue, even when the
 *       releasing thread already is that loop. It has no cancellation (cancelling the future
 *       leaves the node queued and loses the permit handed to it), so it is absent from the
 *       cancellation benchmark.</li>
 *   <li>{@code asyncutilInline}: the same semaphore used at its best on an event loop: the
 *       continuation runs inline when the completing thread already is the waiter's loop, with
 *       the nesting bounded at 8 like Netty's promises ({@code MAX_LISTENER_STACK_DEPTH}), and is
 *       sent there otherwise: Netty's own hop policy, so that handoff benchmarks compare the
 *       semaphores and not the policies. The per-loop executor is made once, when a client
 *       binds to its loop ({@link #on}), not looked up per acquire.</li>
 *   <li>{@code naive}: {@link NaiveAsyncSemaphore}, {@code synchronized} + {@code ArrayDeque}.</li>
 *   <li>{@code floor}: {@link LoopConfinedSemaphore}, not a peer: the same promises with no lock
 *       at all, single-threaded rows only, to show how much of a handoff is the promise's.</li>
 * </ul>
 *
 * <p>A client that waits binds once to its loop with {@link #on(EventExecutor)} and keeps the
 * returned {@link Waiting}: whatever a peer needs per loop (asyncutil's inline executor) is built
 * there, so no peer pays a lookup per acquire that its best idiomatic use would not pay.
 */
public abstract class SemaphorePeer {

    public static final String NETTYSYNC = "nettysync";
    /** netty-sync with a timeout on every wait: not a peer, the cost of a timed wait. */
    public static final String NETTYSYNC_TIMED = "nettysyncTimed";
    public static final String JDK = "jdk";
    public static final String JDK_FAIR = "jdkFair";
    public static final String ASYNCUTIL = "asyncutil";
    public static final String ASYNCUTIL_INLINE = "asyncutilInline";
    public static final String NAIVE = "naive";
    /** {@link LoopConfinedSemaphore}: the promise-only floor, single-threaded rows only. */
    public static final String FLOOR = "floor";
    /** {@link LoopConfinedSemaphore} with one uncontended CAS per call: the floor of a shareable semaphore. */
    public static final String FLOOR_ATOMIC = "floorAtomic";

    /** The implementations that can wait without blocking (all but the JDK ones; floor: one thread only). */
    public static final List<String> ASYNC = List.of(NETTYSYNC, ASYNCUTIL, NAIVE, FLOOR, FLOOR_ATOMIC);

    public static SemaphorePeer create(String impl, int permits) {
        switch (impl) {
            case NETTYSYNC: return new NettySync(permits);
            case NETTYSYNC_TIMED: return new NettySyncTimed(permits);
            case JDK: return new Jdk(new Semaphore(permits, false));
            case JDK_FAIR: return new Jdk(new Semaphore(permits, true));
            case ASYNCUTIL: return new AsyncUtil(permits, false);
            case ASYNCUTIL_INLINE: return new AsyncUtil(permits, true);
            case NAIVE: return new Naive(permits);
            case FLOOR: return new Floor(permits, false);
            case FLOOR_ATOMIC: return new Floor(permits, true);
            default: throw new IllegalArgumentException("unknown impl '" + impl + "', expected one of "
                    + List.of(NETTYSYNC, NETTYSYNC_TIMED, JDK, JDK_FAIR, ASYNCUTIL, ASYNCUTIL_INLINE, NAIVE, FLOOR, FLOOR_ATOMIC));
        }
    }

    public abstract boolean tryAcquire();

    /**
     * Acquires one permit and returns the implementation's own handle (a Netty future, a
     * {@code CompletionStage}); no listener is added, so nothing hops.
     */
    public abstract Object acquire(EventExecutor executor);

    /** Whether the wait behind {@code handle} has completed successfully. */
    public abstract boolean isAcquired(Object handle);

    /**
     * Binds a waiting client to {@code executor}, the loop its continuations must run on. Call once
     * per client (or per loop) and keep the result.
     */
    public abstract Waiting on(EventExecutor executor);

    /** A peer bound to one waiter loop (see {@link #on}). */
    public interface Waiting {
        /** Acquires one permit and runs {@code then} on the bound loop once it is held. */
        void acquireThen(Continuation then);
    }

    /** The number of free permits, found by taking them all with tryAcquire and giving them back. */
    public int countFreePermits() {
        int n = 0;
        while (tryAcquire()) {
            n++;
        }
        for (int i = 0; i < n; i++) {
            release();
        }
        return n;
    }

    /** Cancels a wait returned by {@link #acquire}; the waiter must leave the queue. */
    public boolean cancel(Object handle) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot cancel a queued waiter");
    }

    public abstract void release();

    /**
     * Releases {@code n} permits in one call, the implementation's own bulk release (one call that
     * may grant several waiters at once), so a peer can batch what it hands over.
     */
    public abstract void release(int n);

    // ------------------------------------------------------------------ implementations

    static class NettySync extends SemaphorePeer {
        final AsyncSemaphore sem;

        NettySync(int permits) {
            sem = new AsyncSemaphore(permits);
        }

        @Override public boolean tryAcquire() { return sem.tryAcquire(); }
        @Override public Object acquire(EventExecutor executor) { return sem.acquire(executor); }
        @Override public boolean isAcquired(Object handle) { return ((Future<?>) handle).isSuccess(); }
        @Override public Waiting on(EventExecutor executor) {
            return then -> sem.acquire(executor).addListener(then);
        }
        @Override public boolean cancel(Object handle) { return ((Future<?>) handle).cancel(false); }
        @Override public void release() { sem.release(); }
        @Override public void release(int n) { sem.release(n); }
    }

    /** {@code nettysyncTimed}: every wait with a one-minute timeout (never reached). */
    static final class NettySyncTimed extends NettySync {
        static final long TIMEOUT_NANOS = TimeUnit.MINUTES.toNanos(1);

        NettySyncTimed(int permits) {
            super(permits);
        }

        @Override public Object acquire(EventExecutor executor) {
            return sem.acquire(executor, TIMEOUT_NANOS, TimeUnit.NANOSECONDS);
        }
        @Override public Waiting on(EventExecutor executor) {
            return then -> sem.acquire(executor, TIMEOUT_NANOS, TimeUnit.NANOSECONDS).addListener(then);
        }
    }

    static final class Jdk extends SemaphorePeer {
        final Semaphore sem;

        Jdk(Semaphore sem) {
            this.sem = sem;
        }

        @Override public boolean tryAcquire() { return sem.tryAcquire(); }
        @Override public Object acquire(EventExecutor executor) {
            sem.acquireUninterruptibly();
            return Boolean.TRUE;
        }
        @Override public boolean isAcquired(Object handle) { return handle == Boolean.TRUE; }
        @Override public Waiting on(EventExecutor executor) {
            throw new UnsupportedOperationException("java.util.concurrent.Semaphore would block the event loop");
        }
        @Override public void release() { sem.release(); }
        @Override public void release(int n) { sem.release(n); }
    }

    static final class AsyncUtil extends SemaphorePeer {
        final FairAsyncSemaphore sem;
        final boolean inline;

        AsyncUtil(int permits, boolean inline) {
            sem = new FairAsyncSemaphore(permits);
            this.inline = inline;
        }

        @Override public boolean tryAcquire() { return sem.tryAcquire(1); }
        @Override public Object acquire(EventExecutor executor) { return sem.acquire(1); }
        @Override public boolean isAcquired(Object handle) {
            CompletableFuture<?> f = ((CompletionStage<?>) handle).toCompletableFuture();
            return f.isDone() && !f.isCompletedExceptionally();
        }
        @Override public Waiting on(EventExecutor executor) {
            Executor continueOn = inline ? new InlineOnLoop(executor) : executor;
            return then -> sem.acquire(1).thenRunAsync(then, continueOn);
        }
        @Override public void release() { sem.release(1); }
        @Override public void release(int n) { sem.release(n); }
    }

    static final class Naive extends SemaphorePeer {
        final NaiveAsyncSemaphore sem;

        Naive(int permits) {
            sem = new NaiveAsyncSemaphore(permits);
        }

        @Override public boolean tryAcquire() { return sem.tryAcquire(); }
        @Override public Object acquire(EventExecutor executor) { return sem.acquire(executor); }
        @Override public boolean isAcquired(Object handle) { return ((Future<?>) handle).isSuccess(); }
        @Override public Waiting on(EventExecutor executor) {
            return then -> sem.acquire(executor).addListener(then);
        }
        @Override
        @SuppressWarnings("unchecked")
        public boolean cancel(Object handle) {
            if (handle instanceof Promise) {
                return sem.cancel((Promise<Void>) handle);
            }
            return false;   // a succeeded future from the fast path: nothing to cancel
        }
        @Override public void release() { sem.release(); }
        @Override public void release(int n) { sem.release(n); }
    }

    /** {@link LoopConfinedSemaphore}: one thread only, no cancellation; with or without one CAS per call. */
    static final class Floor extends SemaphorePeer {
        final LoopConfinedSemaphore sem;

        Floor(int permits, boolean oneAtomicPerCall) {
            sem = new LoopConfinedSemaphore(permits, oneAtomicPerCall);
        }

        @Override public boolean tryAcquire() { return sem.tryAcquire(); }
        @Override public Object acquire(EventExecutor executor) { return sem.acquire(executor); }
        @Override public boolean isAcquired(Object handle) { return ((Future<?>) handle).isSuccess(); }
        @Override public Waiting on(EventExecutor executor) {
            return then -> sem.acquire(executor).addListener(then);
        }
        @Override public void release() { sem.release(); }
        @Override public void release(int n) {
            for (int i = 0; i < n; i++) {
                sem.release();
            }
        }
    }

    /**
     * Runs a task inline when called on {@code loop} and fewer than {@value #MAX_DEPTH} such runs
     * are nested on this thread, else hands it to {@code loop}: the policy of Netty's
     * {@code DefaultPromise} listener notification.
     */
    static final class InlineOnLoop implements Executor {
        static final int MAX_DEPTH = 8;
        static final FastThreadLocal<int[]> DEPTH = new FastThreadLocal<>() {
            @Override
            protected int[] initialValue() {
                return new int[1];
            }
        };
        final EventExecutor loop;

        InlineOnLoop(EventExecutor loop) {
            this.loop = loop;
        }

        @Override
        public void execute(Runnable task) {
            if (loop.inEventLoop()) {
                int[] depth = DEPTH.get();
                if (depth[0] < MAX_DEPTH) {
                    depth[0]++;
                    try {
                        task.run();
                    } finally {
                        depth[0]--;
                    }
                    return;
                }
            }
            loop.execute(task);
        }
    }
}
