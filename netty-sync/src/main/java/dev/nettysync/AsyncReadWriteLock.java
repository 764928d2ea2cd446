package dev.nettysync;

import dev.nettysync.internal.WaitQueue;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A fair read-write lock for Netty event loops: many readers or one writer, and
 * {@link #readLock(EventExecutor)} / {@link #writeLock(EventExecutor)} return a {@link Future}
 * instead of blocking. Typical use: many handlers read a routing table or a cache that a
 * refresher now and then replaces.
 * <pre>{@code
 * AsyncReadWriteLock routes = new AsyncReadWriteLock();          // shared by all event loops
 *
 * routes.withRead(ctx.executor(), () -> ctx.executor().newSucceededFuture(table.lookup(path)))
 *       .addListener(f -> {
 *           if (f.isSuccess()) forward(ctx, f.getNow());
 *           else ctx.fireExceptionCaught(f.cause());   // the lock closed, or too many queued
 *       });
 * routes.withWrite(refresher, () -> reload().addListener(t -> { if (t.isSuccess()) table = t.getNow(); }));
 * }</pre>
 *
 * <h2>Semantics</h2>
 * <ul>
 *   <li><b>Thread-safe, never blocking</b>, as every primitive here: the future returned by a
 *       lock method belongs to the named executor and its listeners run there; a timeout is
 *       timed on that executor.</li>
 *   <li><b>Fair, in FIFO phases, write-preferring</b> (tokio's {@code RwLock}): requests are
 *       served in arrival order. A queued writer blocks every reader that comes after it, so a
 *       stream of readers never starves a writer; when the lock becomes free, the readers at
 *       the head of the queue up to the next writer are admitted together.
 *       {@link #tryReadLock()} and {@link #tryWriteLock()} fail while anyone is queued.</li>
 *   <li><b>At most {@code maxReaders} readers</b> at once (tokio's {@code with_max_readers});
 *       a reader beyond that waits, in order, for one to leave.</li>
 *   <li><b>Downgrade, no upgrade.</b> {@link #downgrade()} turns the write lock into a read lock
 *       atomically: no writer can get in between, and readers queued behind are admitted at
 *       once. There is no upgrade: two readers that both tried to upgrade would each wait for
 *       the other to leave, forever. Instead, unlock the read lock, take the write lock, and
 *       check again whatever the read decided (the state may have changed in between):
 * <pre>{@code
 * // the read found no route for path; no upgrade: leave the read, then write and look again
 * routes.unlockRead();
 * routes.withWrite(ex, () -> {
 *     table.computeIfAbsent(path, this::resolve);   // another writer may have added it meanwhile
 *     return ex.newSucceededFuture(null);
 * });
 * }</pre></li>
 *   <li><b>Not reentrant; beware recursive reads.</b> Taking the read lock while already holding
 *       it works only while no writer is queued: once one is, the second read queues behind
 *       the writer, which waits for the first read to end, which waits for the second read —
 *       a deadlock (tokio #2849). Never wait for a lock you already hold.</li>
 *   <li><b>Ownerless</b>, like {@link AsyncLock}: any thread may unlock. Misuse is detected
 *       where it can be: {@link #unlockWrite()} without the write lock and {@link #unlockRead()}
 *       while no reader holds throw {@link IllegalStateException} and change nothing.</li>
 *   <li><b>Cancellation and timeouts</b> as on {@link AsyncSemaphore}: a cancelled or timed-out
 *       request leaves the queue at once and holds nothing; grants are final. A queued writer
 *       that leaves lets the readers behind it in at once (the classic bug of read-write locks
 *       is to leave them waiting for a writer that is gone).</li>
 *   <li><b>Executors that shut down</b> as on {@link AsyncSemaphore} and {@link AsyncLock}: a
 *       request whose executor shuts down while it is queued fails with a
 *       {@link java.util.concurrent.RejectedExecutionException} when it is granted, and its
 *       share (a read, or the whole write lock) goes on to the requests behind it. A timed
 *       request fails so as soon as its executor shuts down (which cancels its timeout), and
 *       leaves the queue as a timeout would: a writer that leaves lets the readers behind it in.</li>
 *   <li><b>Monitoring.</b> {@link #statistics()} gives the readers holding, whether the write
 *       lock is held, the queued requests and whether the lock is closed, read together under
 *       the semaphore's monitor: exact for every grant made to a queued request, and lagging
 *       only by a lock or unlock call in progress on another thread (see there).
 *       {@link #isWriteLocked()}, {@link #readers()} and {@link #queueLength()} read one each.</li>
 * </ul>
 *
 * <h2>Memory consistency effects</h2>
 * Actions before {@code unlockWrite()} happen-before the completion of every later read or write
 * lock it lets in; actions before {@code unlockRead()} happen-before the completion of the write
 * lock it lets in.
 */
public final class AsyncReadWriteLock {

    /*
     * Implementation notes
     *
     * tokio's design: a FIFO semaphore of maxReaders permits. A read takes 1 permit; a write takes
     * all maxReaders. The semaphore serves its queue strictly in order and reserves permits
     * released meanwhile for a multi-permit head (AsyncSemaphore's invariant I2), so:
     *
     *   - a queued writer (maxReaders permits) holds back every later reader: FIFO phases and
     *     no writer starvation;
     *   - when the permits come back, the semaphore grants heads while permits last: the run of
     *     readers before the next writer is admitted in one release;
     *   - a writer that leaves the queue (cancel, timeout) makes the semaphore serve the new
     *     head at once, so the readers behind it get in;
     *   - downgrade = release(maxReaders - 1): the writer keeps one permit (now a read), and
     *     since it never gave up all of them no writer can get in between.
     *
     * The semaphore is a LockSemaphore, as under AsyncLock: bounded at maxReaders, named after
     * this lock in its messages, and running withRead/withWrite (holding(n permits, unlock)).
     * So each operation here only says how many permits it takes, 1 or maxReaders, as in
     * tokio's rwlock.rs.
     *
     * Misuse. The semaphore's permits alone cannot tell "a reader unlocks while the writer
     * holds" from a legal unlock, so `holders` records who holds: WRITER (-1) or the number of
     * readers. The semaphore's granted() hook updates it at the instant a grant becomes final
     * (right after the fast path's CAS, or when a queued request is claimed under the
     * semaphore's monitor, before its future completes), so a holder's own grant is always
     * recorded before the holder can know of it, from any thread. Unlocks and downgrade CAS it
     * first (reader count down, WRITER -> 0, WRITER -> 1) and give the permits back after, so
     * an unlock that matches no recorded holder throws and changes nothing. A grant whose hook
     * has not run yet only makes the lock look less held than it is, which can refuse a
     * misusing unlock but never a legal one. A write is recognised by its permit count:
     * readers take 1 and maxReaders >= 2.
     *
     * Statistics. statistics() reads `holders` under the semaphore's monitor, with the queue: a
     * queued request's grant and its granted() run in one critical section, so the two agree;
     * the fast path's grant and the unlocks touch `holders` outside the monitor and may lag.
     */

    /** tokio's MAX_READS: more readers than any server has connections, and writers still fit. */
    public static final int DEFAULT_MAX_READERS = Integer.MAX_VALUE >>> 3;

    private final LockSemaphore permits;               // maxReaders permits: a read takes 1, a write all
    private final int maxReaders;
    private final AtomicInteger holders = new AtomicInteger(); // WRITER, or the number of readers; see the notes

    private static final int WRITER = -1;

    /** A lock with {@link #DEFAULT_MAX_READERS} and no bound on queued requests. */
    public AsyncReadWriteLock() {
        this(DEFAULT_MAX_READERS);
    }

    /** A lock that admits at most {@code maxReaders} readers at once, with no bound on queued requests. */
    public AsyncReadWriteLock(int maxReaders) {
        this(maxReaders, Integer.MAX_VALUE);
    }

    /**
     * A lock that admits at most {@code maxReaders} readers at once and queues at most
     * {@code maxPending} requests (beyond: {@link QueueFullException} at once).
     *
     * @throws IllegalArgumentException if {@code maxReaders < 2} (a lock that admits one reader at
     *         a time is an {@link AsyncLock}) or {@code maxPending < 0}
     */
    public AsyncReadWriteLock(int maxReaders, int maxPending) {
        if (maxReaders < 2) {
            throw new IllegalArgumentException("maxReaders must be >= 2 (one reader at a time is an AsyncLock), was " + maxReaders);
        }
        this.maxReaders = maxReaders;
        this.permits = new LockSemaphore(this, maxReaders, maxPending) {
            @Override
            IllegalStateException overRelease(int n, int available) {
                return n == 1 ? misuse("unlockRead()", "not read-locked") : misuse("unlockWrite()", "not write-locked");
            }

            @Override
            void granted(int n) {
                if (n == 1 || n == -1) {        // a reader, or a reader's grant taken back
                    holders.addAndGet(n);
                } else if (n > 0) {             // a writer takes maxReaders >= 2 permits
                    int before = holders.getAndSet(WRITER);
                    assert before == 0 : before + " holders when a writer was granted";
                } else {
                    holders.set(0);             // a writer's grant taken back
                }
            }
        };
    }

    // ---------------------------------------------------------------- reading

    /** Takes a read lock if no writer holds or waits and fewer than maxReaders read; never once closed. */
    public boolean tryReadLock() {
        return permits.tryAcquire(1);
    }

    /**
     * Takes a read lock, waiting in FIFO order behind any queued writer.
     *
     * @param executor the caller's executor: the future belongs to it, its listeners run there
     */
    public Future<Void> readLock(EventExecutor executor) {
        return permits.acquire(executor, 1);
    }

    /** As {@link #readLock(EventExecutor)}, giving up after {@code timeout} ({@link WaitTimeoutException}). */
    public Future<Void> readLock(EventExecutor executor, long timeout, TimeUnit unit) {
        return permits.acquire(executor, 1, timeout, unit);
    }

    /**
     * Ends one read lock; the last reader out lets the queued writer in.
     *
     * @throws IllegalStateException if the write lock is held or no read lock is (nothing changes)
     */
    public void unlockRead() {
        for (;;) {
            int h = holders.get();
            if (h <= 0) {
                throw permits.misuse("unlockRead()", h == WRITER ? "write-locked" : "not read-locked");
            }
            if (holders.compareAndSet(h, h - 1)) {
                break;
            }
        }
        permits.release(1);
    }

    /**
     * Takes a read lock, runs {@code action} on {@code executor}, and unlocks exactly once when the
     * action's own future completes; cancelling the returned future behaves as in
     * {@link AsyncSemaphore#withPermit(EventExecutor, Supplier)}.
     */
    public <T> Future<T> withRead(EventExecutor executor, Supplier<? extends Future<T>> action) {
        return withRead(executor, AsyncSemaphore.asFunction(action));
    }

    /** As {@link #withRead(EventExecutor, Supplier)}, the action receiving the caller's future. */
    public <T> Future<T> withRead(EventExecutor executor, Function<? super Future<T>, ? extends Future<T>> action) {
        return permits.holding(executor, 1, action, this::unlockRead);
    }

    /**
     * As {@link #withRead(EventExecutor, Supplier)}, but gives up waiting for the read lock after
     * {@code timeout}: the returned future then fails with a {@link WaitTimeoutException} and the
     * action never runs. The timeout bounds the wait only, not the action.
     */
    public <T> Future<T> withRead(EventExecutor executor, long timeout, TimeUnit unit,
                                  Supplier<? extends Future<T>> action) {
        return withRead(executor, timeout, unit, AsyncSemaphore.asFunction(action));
    }

    /** As {@link #withRead(EventExecutor, long, TimeUnit, Supplier)}, the action receiving the caller's future. */
    public <T> Future<T> withRead(EventExecutor executor, long timeout, TimeUnit unit,
                                  Function<? super Future<T>, ? extends Future<T>> action) {
        return permits.holding(executor, 1, WaitQueue.toNanos(timeout, unit), action, this::unlockRead);
    }

    // ---------------------------------------------------------------- writing

    /** Takes the write lock if nobody holds the lock or waits for it; never once closed. */
    public boolean tryWriteLock() {
        return permits.tryAcquire(maxReaders);          // granted() records the writer
    }

    /** Takes the write lock, waiting in FIFO order. */
    public Future<Void> writeLock(EventExecutor executor) {
        return permits.acquire(executor, maxReaders);   // granted() records the writer
    }

    /** As {@link #writeLock(EventExecutor)}, giving up after {@code timeout} ({@link WaitTimeoutException}). */
    public Future<Void> writeLock(EventExecutor executor, long timeout, TimeUnit unit) {
        return permits.acquire(executor, maxReaders, timeout, unit);
    }

    /**
     * Ends the write lock, letting in the next writer or the run of readers queued before it.
     *
     * @throws IllegalStateException if the write lock is not held (nothing changes)
     */
    public void unlockWrite() {
        if (!holders.compareAndSet(WRITER, 0)) {
            throw permits.misuse("unlockWrite()", "not write-locked");
        }
        permits.release(maxReaders);
    }

    /**
     * Turns the held write lock into a read lock, atomically: no writer gets in between, and the
     * readers queued up to the next writer are admitted at once. End it with {@link #unlockRead()}.
     *
     * @throws IllegalStateException if the write lock is not held (nothing changes)
     */
    public void downgrade() {
        if (!holders.compareAndSet(WRITER, 1)) {
            throw permits.misuse("downgrade()", "not write-locked");
        }
        if (maxReaders > 1) {
            permits.release(maxReaders - 1);
        }
    }

    /**
     * Takes the write lock, runs {@code action} on {@code executor}, and unlocks exactly once when
     * the action's own future completes (or the action throws or returns {@code null}). Cancelling
     * the returned future while queued leaves the queue; while the action runs, it completes the
     * returned future at once but the lock is held until the action's own future completes, so
     * no reader or writer ever overlaps a running writer. The action must not unlock or
     * {@link #downgrade()} the write lock itself: the unlock at its end then fails, and the
     * returned future fails with that {@link IllegalStateException} (a read lock taken by a
     * downgrade stays held until {@link #unlockRead()}).
     */
    public <T> Future<T> withWrite(EventExecutor executor, Supplier<? extends Future<T>> action) {
        return withWrite(executor, AsyncSemaphore.asFunction(action));
    }

    /**
     * As {@link #withWrite(EventExecutor, Supplier)}, the action receiving the caller's future so
     * that it can observe a cancellation (see {@link AsyncSemaphore#withPermit(EventExecutor, Function)}).
     */
    public <T> Future<T> withWrite(EventExecutor executor, Function<? super Future<T>, ? extends Future<T>> action) {
        return permits.holding(executor, maxReaders, action, this::unlockWrite);
    }

    /**
     * As {@link #withWrite(EventExecutor, Supplier)}, but gives up waiting for the write lock
     * after {@code timeout}: the returned future then fails with a {@link WaitTimeoutException}
     * and the action never runs (the readers queued behind the writer that gave up are let in
     * if the lock allows). The timeout bounds the wait only, not the action.
     */
    public <T> Future<T> withWrite(EventExecutor executor, long timeout, TimeUnit unit,
                                   Supplier<? extends Future<T>> action) {
        return withWrite(executor, timeout, unit, AsyncSemaphore.asFunction(action));
    }

    /** As {@link #withWrite(EventExecutor, long, TimeUnit, Supplier)}, the action receiving the caller's future. */
    public <T> Future<T> withWrite(EventExecutor executor, long timeout, TimeUnit unit,
                                   Function<? super Future<T>, ? extends Future<T>> action) {
        return permits.holding(executor, maxReaders, WaitQueue.toNanos(timeout, unit), action, this::unlockWrite);
    }

    // ---------------------------------------------------------------- closing and monitoring

    /** Fails every queued request and every later lock with a {@link ClosedException}; holders may still unlock. */
    public void close() {
        permits.close();
    }

    /**
     * A snapshot of the lock (trio's {@code statistics()}), for monitoring; O(1). The readers
     * holding, whether the write lock is held, the queued requests and whether the lock is closed
     * are read together under the semaphore's monitor, where every grant to a queued request is
     * recorded (its holder counted as it leaves the queue), so those agree at one instant: a
     * writer waiting behind two readers is {@code (2, false, 1, false)}, never a moment in which
     * a granted request is neither queued nor counted.
     *
     * <p>What may lag, as in {@link #isWriteLocked()}: a call in progress on another thread, and
     * only towards "less held" (never a grant its caller has seen). An uncontended lock
     * ({@code tryReadLock}, or a lock with nobody queued) takes its permits a moment before it
     * counts its holder; an unlock or {@link #downgrade()} counts first and gives back its
     * permits after. So a snapshot of a free lock with requests waiting is one of those calls
     * in progress (an unlock about to serve them). Making them exact would put the monitor on
     * the uncontended path.
     */
    public Statistics statistics() {
        return permits.statistics(s -> {
            int h = holders.get();
            return new Statistics(Math.max(0, h), h == WRITER, s.waiters(), s.closed());
        });
    }

    /**
     * A snapshot of an {@link AsyncReadWriteLock}; see {@link AsyncReadWriteLock#statistics()}.
     *
     * @param readers     the read locks held (0 while the write lock is)
     * @param writeLocked whether the write lock is held
     * @param waiters     the requests queued, reads and writes
     * @param closed      whether {@code close()} was called
     */
    public record Statistics(int readers, boolean writeLocked, int waiters, boolean closed) {
    }

    /**
     * Whether the write lock is held now, for monitoring: a snapshot that may lag a grant in
     * progress by an instant (never the grant its caller has seen).
     */
    public boolean isWriteLocked() {
        return holders.get() == WRITER;
    }

    /** The number of read locks held now (0 while the write lock is held); a snapshot, as {@link #isWriteLocked()}. */
    public int readers() {
        return Math.max(0, holders.get());
    }

    /** The most readers admitted at once. */
    public int maxReaders() {
        return maxReaders;
    }

    /** The number of queued requests now. */
    public int queueLength() {
        return permits.queueLength();
    }

    /**
     * For tests: the first broken invariant, or {@code null}: the semaphore's own (nobody waits
     * who could be served), and, at rest, the recorded holders match the permits taken (a writer
     * holds all maxReaders, each reader one).
     */
    String brokenInvariant() {
        String broken = permits.brokenInvariant();
        if (broken != null) {
            return broken;
        }
        int h = holders.get();
        int taken = maxReaders - permits.availablePermits();
        int expected = h == WRITER ? maxReaders : h;
        return taken == expected ? null
                : "holders records " + (h == WRITER ? "a writer" : h + " reader(s)") + " but " + taken + " permit(s) are taken";
    }

    @Override
    public String toString() {
        return "AsyncReadWriteLock@" + Integer.toHexString(System.identityHashCode(this))
                + (isWriteLocked() ? "{write-locked" : "{readers=" + readers()) + ", queued=" + queueLength() + '}';
    }
}
