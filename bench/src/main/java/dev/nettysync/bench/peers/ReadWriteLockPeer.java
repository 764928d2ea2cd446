package dev.nettysync.bench.peers;

import com.ibm.asyncutil.locks.AsyncReadWriteLock.ReadLockToken;
import com.ibm.asyncutil.locks.AsyncReadWriteLock.WriteLockToken;
import com.ibm.asyncutil.locks.FairAsyncReadWriteLock;
import dev.nettysync.AsyncReadWriteLock;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * One read-write lock implementation behind the operations the mixed benchmark needs, selected by
 * the {@code impl} {@code @Param} (one implementation per JMH fork, so call sites stay
 * monomorphic), as {@link SemaphorePeer} does for semaphores.
 *
 * <ul>
 *   <li>{@code nettysync}: {@link AsyncReadWriteLock}; {@code readLock(loop)} /
 *       {@code writeLock(loop)}, a listener on the returned future when it is not already done
 *       (Netty runs it on the client's loop: inline when the completing thread is that loop,
 *       nesting bounded at 8, else through the loop's task queue).</li>
 *   <li>{@code asyncutilInline}: IBM asyncutil 0.1.0's {@link FairAsyncReadWriteLock} at its best on
 *       an event loop. It completes a waiter's {@code CompletableFuture} on the releasing thread, so
 *       the continuation is given {@code thenRunAsync(.., executor)} with the executor
 *       {@link SemaphorePeer.InlineOnLoop}: inline when the completing thread already is the client's
 *       loop (nesting bounded at 8), the loop's task queue otherwise. Netty's own policy, so the
 *       row compares the locks, not hop policies.</li>
 *   <li>{@code asyncutil}: the same lock with {@code thenRunAsync(.., loop)}, as a plain
 *       {@code CompletionStage} user writes it: always through the loop's task queue, even when the
 *       completing thread is the loop (context, as in {@code SameLoopHandoffBenchmark}).</li>
 * </ul>
 * Both peers use their waiting API with the same fast path: a request whose future is already
 * complete goes on synchronously, no continuation registered (a reader of a free lock pays neither
 * a listener nor a hop with either peer). The per-loop executor is built once per client, in
 * {@link #on}. asyncutil has no cancellation, no timeout and no bound on readers; the benchmark
 * uses none of them.
 */
public abstract class ReadWriteLockPeer {

    public static final String NETTYSYNC = SemaphorePeer.NETTYSYNC;
    public static final String ASYNCUTIL = SemaphorePeer.ASYNCUTIL;
    public static final String ASYNCUTIL_INLINE = SemaphorePeer.ASYNCUTIL_INLINE;

    public static final List<String> ALL = List.of(NETTYSYNC, ASYNCUTIL_INLINE, ASYNCUTIL);

    public static ReadWriteLockPeer create(String impl) {
        switch (impl) {
            case NETTYSYNC: return new NettySync();
            case ASYNCUTIL: return new AsyncUtil(false);
            case ASYNCUTIL_INLINE: return new AsyncUtil(true);
            default: throw new IllegalArgumentException("unknown impl '" + impl + "', expected one of " + ALL);
        }
    }

    /**
     * Binds a client to {@code loop}, the loop its continuations must run on. One per client, used
     * on that loop only.
     */
    public abstract Client on(EventExecutor loop);

    /** Whether the lock is free now: neither held nor waited for (checked between rounds). */
    public abstract boolean isFree();

    /**
     * One client's side of the lock, confined to the client's loop. A lock call returns
     * {@code true} if the lock is held at once (the caller goes on synchronously) or registers
     * {@code then}, which runs on the bound loop once the lock is held, and returns {@code false}.
     * The client unlocks what it holds with the matching unlock.
     */
    public interface Client {
        boolean readLock(Continuation then);

        boolean writeLock(Continuation then);

        void unlockRead();

        void unlockWrite();
    }

    // ------------------------------------------------------------------ implementations

    static final class NettySync extends ReadWriteLockPeer {
        final AsyncReadWriteLock lock = new AsyncReadWriteLock();

        @Override
        public Client on(EventExecutor loop) {
            return new Client() {
                @Override
                public boolean readLock(Continuation then) {
                    return heldOrListen(lock.readLock(loop), then);
                }

                @Override
                public boolean writeLock(Continuation then) {
                    return heldOrListen(lock.writeLock(loop), then);
                }

                @Override
                public void unlockRead() {
                    lock.unlockRead();
                }

                @Override
                public void unlockWrite() {
                    lock.unlockWrite();
                }
            };
        }

        private static boolean heldOrListen(Future<Void> f, Continuation then) {
            if (f.isSuccess()) {
                return true;
            }
            f.addListener(then);
            return false;
        }

        @Override
        public boolean isFree() {
            if (!lock.tryWriteLock()) {
                return false;
            }
            lock.unlockWrite();
            return true;
        }
    }

    static final class AsyncUtil extends ReadWriteLockPeer {
        final FairAsyncReadWriteLock lock = new FairAsyncReadWriteLock();
        final boolean inline;

        AsyncUtil(boolean inline) {
            this.inline = inline;
        }

        @Override
        public Client on(EventExecutor loop) {
            Executor continueOn = inline ? new SemaphorePeer.InlineOnLoop(loop) : loop;
            return new Client() {
                // The lock this client holds or waits for (its value is the token); written on the client's loop only.
                CompletableFuture<ReadLockToken> read;
                CompletableFuture<WriteLockToken> write;

                @Override
                public boolean readLock(Continuation then) {
                    read = lock.acquireReadLock().toCompletableFuture();
                    return heldOrThen(read, then);
                }

                @Override
                public boolean writeLock(Continuation then) {
                    write = lock.acquireWriteLock().toCompletableFuture();
                    return heldOrThen(write, then);
                }

                private boolean heldOrThen(CompletableFuture<?> f, Continuation then) {
                    if (f.isDone()) {
                        return true;
                    }
                    f.thenRunAsync(then, continueOn);
                    return false;
                }

                @Override
                public void unlockRead() {
                    read.getNow(null).releaseLock();
                }

                @Override
                public void unlockWrite() {
                    write.getNow(null).releaseLock();
                }
            };
        }

        @Override
        public boolean isFree() {
            return lock.tryWriteLock().map(t -> {
                t.releaseLock();
                return true;
            }).orElse(false);
        }
    }
}
