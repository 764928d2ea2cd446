package dev.nettysync;

import dev.nettysync.testing.AllocationMeter;
import dev.nettysync.testing.AllocationMeter.Round;
import dev.nettysync.testing.ManualExecutor;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The allocation guard of the primitives' hot paths: bytes allocated per operation by the
 * calling thread (JVM's thread allocation counter, {@link AllocationMeter}), asserted against
 * the figures bench/README.md reports, so that a change that makes a path allocate more fails
 * here instead of in a later benchmark run. Time is never asserted (it is measured in bench/);
 * allocation is deterministic, so it can be: a figure is the least of several rounds of 10,000
 * operations after a warm-up long enough for C2, and only code running on the test thread moves
 * it, whatever the machine's load.
 *
 * <p>Each bound is the value measured at the time the guard was written, so any growth fails.
 * A failure names the path, the bytes per operation of every round, the bound and why the bound
 * is what it is. If the growth is intended, change the bound here together with the figure in
 * bench/README.md.
 *
 * <p>The figures are for the JVM the tests run on (OpenJDK 17, 64-bit, compressed oops and
 * class pointers, the defaults below a 32 GB heap): a {@link io.netty.util.concurrent.DefaultPromise}
 * is 32 bytes there, a queued waiter 48 (see the "Size" paragraph of
 * {@code dev.nettysync.internal.Waiter}).
 *
 * <p>One class for every primitive (as {@link PrimitivesStressTest}): the same meter, the same
 * executors and one table of figures to compare with the benchmarks'; the limiters' figures are
 * in {@code dev.nettysync.limit.LimiterAllocationTest}.
 */
class AllocationTest {

    /** Operations per measured round: a constant cost of n bytes per round counts n / 10,000 B/op. */
    static final int OPS = 10_000;

    /** A queued acquire of one permit: the waiter, which is the promise (Waiter's size note). */
    static final int WAITER = 48;
    /** A queued acquire of several permits (a writer): the waiter and its count (PermitsWaiter). */
    static final int PERMITS_WAITER = 56;

    @RegisterExtension
    final EventLoops loops = new EventLoops();

    /** A real event loop: the futures of the acquires are bound to it. */
    private EventLoop loop;

    @BeforeEach
    void setUp() {
        loop = loops.newLoop();
    }

    // ---------------------------------------------------------------- semaphore, uncontended

    @Test
    void uncontendedSemaphoreTryAcquireAndReleaseAllocateNothing() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AllocationMeter.assertAtMost("AsyncSemaphore.tryAcquire() + release(), uncontended", 0,
                "one CAS each way, nothing to allocate", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        if (!sem.tryAcquire()) {
                            throw new AssertionError("uncontended tryAcquire failed");
                        }
                        sem.release();
                    }
                });
    }

    @Test
    void uncontendedSemaphoreAcquireAndReleaseAllocateNothing() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AllocationMeter.assertAtMost("AsyncSemaphore.acquire(loop) + release(), uncontended", 0,
                "the succeeded future is the executor's cached one (SucceededFutures)", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        checkGrantedAtOnce(sem.acquire(loop));
                        sem.release();
                    }
                });
    }

    @Test
    void uncontendedTimedAcquireAllocatesNothing() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AllocationMeter.assertAtMost("AsyncSemaphore.acquire(loop, 1, SECONDS) + release(), uncontended", 0,
                "granted at once: the cached succeeded future, and no timer is armed", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        checkGrantedAtOnce(sem.acquire(loop, 1, TimeUnit.SECONDS));
                        sem.release();
                    }
                });
    }

    @Test
    void uncontendedBoundedSemaphoreAcquireAndReleaseAllocateNothing() {
        AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(2);
        AllocationMeter.assertAtMost("AsyncBoundedSemaphore.acquire(loop, 2) + release(2), uncontended", 0,
                "the cached succeeded future; the bound check reads a field", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        checkGrantedAtOnce(sem.acquire(loop, 2));
                        sem.release(2);
                    }
                });
    }

    // ---------------------------------------------------------------- semaphore, queued

    @Test
    void aQueuedAcquireAllocatesOnlyItsWaiter() {
        AllocationMeter.assertAtMost("AsyncSemaphore.acquire(loop) that queues", WAITER,
                "the waiter is the returned promise and the queue's node: 32 B of DefaultPromise plus"
                        + " prev, next, queue and timer (Waiter's size note); nothing else, no message built",
                OPS, new Round() {
                    AsyncSemaphore sem;

                    @Override
                    public void setUp() {
                        sem = new AsyncSemaphore(0);
                    }

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            sem.acquire(loop);
                        }
                    }

                    @Override
                    public void tearDown() {
                        assertThat(sem.queueLength()).isEqualTo(OPS);
                        sem = null;
                    }
                });
    }

    @Test
    void aGrantAndARequeueAllocateOneWaiter() {
        // DeepQueueBenchmark.releaseAndRequeue: a release grants the head (its promise, bound to
        // a real loop, has no listener, so the completion hops nowhere), an acquire queues anew.
        int depth = 10;
        AsyncSemaphore sem = new AsyncSemaphore(0);
        for (int i = 0; i < depth; i++) {
            sem.acquire(loop);
        }
        AllocationMeter.assertAtMost("AsyncSemaphore.release() granting the head + acquire(loop) queueing, depth "
                        + depth, WAITER,
                "the new waiter; the grant itself (unlink, one CAS completing the promise) allocates nothing",
                OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        sem.release();
                        sem.acquire(loop);
                    }
                });
        assertThat(sem.queueLength()).isEqualTo(depth);
        assertThat(sem.availablePermits()).isZero();
    }

    @Test
    void aCancelAndARequeueAllocateOneWaiter() {
        // DeepQueueBenchmark.cancelAndRequeue, cancelling the head each time.
        int depth = 10;
        AsyncSemaphore sem = new AsyncSemaphore(0);
        Future<?>[] waiting = new Future<?>[depth];
        for (int i = 0; i < depth; i++) {
            waiting[i] = sem.acquire(loop);
        }
        AllocationMeter.assertAtMost("AsyncSemaphore: cancel() of a queued acquire + acquire(loop) queueing, depth "
                        + depth, WAITER,
                "the new waiter; the cancel unlinks the old one and completes it with Netty's shared"
                        + " cancellation cause", OPS, new Round() {
                    int next;

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            if (!waiting[next].cancel(false)) {
                                throw new AssertionError("a queued waiter could not be cancelled");
                            }
                            waiting[next] = sem.acquire(loop);
                            next = next + 1 == depth ? 0 : next + 1;
                        }
                    }
                });
        assertThat(sem.queueLength()).isEqualTo(depth);
    }

    @Test
    void aSameLoopHandoffAllocatesOneWaiterAndNettysDeferredNotifications() {
        // SameLoopHandoffBenchmark, on an executor whose "loop" is this thread: one permit,
        // 16 clients queued, each granted client queues again and then releases, which grants
        // the next one, whose listener runs inline (Netty nests same-loop notifications up to 8
        // deep, then defers one through execute()). Everything runs on this thread, measured.
        ManualExecutor executor = new ManualExecutor();
        SameLoopHandoff handoff = new SameLoopHandoff(executor, 16);
        AllocationMeter.assertAtMost("AsyncSemaphore same-loop handoff (16 clients, each granted one queues again"
                        + " and releases)", 49.8,
                "one waiter per handoff (48 B) and, once in 9 handoffs, the task of the notification Netty"
                        + " defers past its nesting limit of 8 (a Runnable, 16 B / 9 = 1.78 B);"
                        + " bench/README.md reports 49.8 B/op for SameLoopHandoffBenchmark on a real loop",
                OPS, handoff);
    }

    /** One round: {@code ops} handoffs among {@code clients} clients on {@code executor}. */
    private static final class SameLoopHandoff implements Round, GenericFutureListener<Future<Void>> {
        final ManualExecutor executor;
        final int clients;
        final AsyncSemaphore sem = new AsyncSemaphore(1);
        int requeues;           // re-queues left in the round
        int granted;            // grants in the round

        SameLoopHandoff(ManualExecutor executor, int clients) {
            this.executor = executor;
            this.clients = clients;
        }

        @Override
        public void run(int ops) {
            requeues = ops - clients;
            granted = 0;
            executor.execute(() -> {
                if (!sem.tryAcquire()) {
                    throw new AssertionError("the permit is not free at the start of a round");
                }
                for (int c = 0; c < clients; c++) {
                    sem.acquire(executor).addListener(this);
                }
                sem.release();
            });
            executor.runPending();
            if (granted != ops || !sem.tryAcquire()) {
                throw new AssertionError(granted + " grants of " + ops + ", permit free: " + sem);
            }
            sem.release();
        }

        @Override
        public void operationComplete(Future<Void> f) {    // holds the permit
            if (!f.isSuccess() || !executor.inEventLoop()) {
                throw new AssertionError("a grant failed or ran off its executor: " + f);
            }
            granted++;
            if (requeues-- > 0) {
                sem.acquire(executor).addListener(this);
            }
            sem.release();
        }
    }

    // ---------------------------------------------------------------- lock

    @Test
    void uncontendedLockAndUnlockAllocateNothing() {
        AsyncLock lock = new AsyncLock();
        AllocationMeter.assertAtMost("AsyncLock.tryLock() + unlock(), uncontended", 0,
                "the lock is a one-permit semaphore: one CAS each way", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        if (!lock.tryLock()) {
                            throw new AssertionError("uncontended tryLock failed");
                        }
                        lock.unlock();
                    }
                });
        AllocationMeter.assertAtMost("AsyncLock.lock(loop) + unlock(), uncontended", 0,
                "the cached succeeded future of the executor", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        checkGrantedAtOnce(lock.lock(loop));
                        lock.unlock();
                    }
                });
    }

    @Test
    void aQueuedLockAllocatesOnlyItsWaiter() {
        AllocationMeter.assertAtMost("AsyncLock.lock(loop) that queues", WAITER,
                "the semaphore's one-permit waiter", OPS, new Round() {
                    AsyncLock lock;

                    @Override
                    public void setUp() {
                        lock = new AsyncLock();
                        checkGrantedAtOnce(lock.lock(loop));
                    }

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            lock.lock(loop);
                        }
                    }
                });
    }

    // ---------------------------------------------------------------- read-write lock

    @Test
    void uncontendedReadAndWriteLocksAllocateNothing() {
        AsyncReadWriteLock rw = new AsyncReadWriteLock();
        AllocationMeter.assertAtMost("AsyncReadWriteLock.readLock(loop) + unlockRead(), uncontended", 0,
                "the cached succeeded future; the reader count is an atomic int", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        checkGrantedAtOnce(rw.readLock(loop));
                        rw.unlockRead();
                    }
                });
        AllocationMeter.assertAtMost("AsyncReadWriteLock.tryReadLock() + unlockRead(), uncontended", 0,
                "one CAS on the semaphore, one on the reader count, each way", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        if (!rw.tryReadLock()) {
                            throw new AssertionError("uncontended tryReadLock failed");
                        }
                        rw.unlockRead();
                    }
                });
        AllocationMeter.assertAtMost("AsyncReadWriteLock.writeLock(loop) + unlockWrite(), uncontended", 0,
                "the cached succeeded future (bench/README.md: 0 B)", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        checkGrantedAtOnce(rw.writeLock(loop));
                        rw.unlockWrite();
                    }
                });
    }

    @Test
    void aQueuedReaderAllocatesOnlyItsWaiter() {
        AllocationMeter.assertAtMost("AsyncReadWriteLock.readLock(loop) queued behind a writer", WAITER,
                "a reader waits for one permit: the 48-byte waiter", OPS, new Round() {
                    AsyncReadWriteLock rw;

                    @Override
                    public void setUp() {
                        rw = new AsyncReadWriteLock();
                        checkGrantedAtOnce(rw.writeLock(loop));
                    }

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            rw.readLock(loop);
                        }
                    }
                });
    }

    @Test
    void aQueuedWriterAllocatesOnlyItsWaiter() {
        AllocationMeter.assertAtMost("AsyncReadWriteLock.writeLock(loop) queued behind a reader", PERMITS_WAITER,
                "a writer waits for maxReaders permits: the waiter with its count (PermitsWaiter, 56 B)", OPS,
                new Round() {
                    AsyncReadWriteLock rw;

                    @Override
                    public void setUp() {
                        rw = new AsyncReadWriteLock();
                        checkGrantedAtOnce(rw.readLock(loop));
                    }

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            rw.writeLock(loop);
                        }
                    }
                });
    }

    // ---------------------------------------------------------------- event

    @Test
    void awaitingASetEventAllocatesNothingAndAQueuedWaitOnlyItsWaiter() {
        AsyncEvent set = new AsyncEvent();
        set.set();
        AllocationMeter.assertAtMost("AsyncEvent.await(loop) of a set event", 0,
                "the cached succeeded future of the executor", OPS, ops -> {
                    for (int i = 0; i < ops; i++) {
                        checkGrantedAtOnce(set.await(loop));
                    }
                });
        AllocationMeter.assertAtMost("AsyncEvent.await(loop) that queues", WAITER,
                "the waiter, nothing else", OPS, new Round() {
                    AsyncEvent event;

                    @Override
                    public void setUp() {
                        event = new AsyncEvent();
                    }

                    @Override
                    public void run(int ops) {
                        for (int i = 0; i < ops; i++) {
                            event.await(loop);
                        }
                    }
                });
    }

    private static void checkGrantedAtOnce(Future<?> f) {
        if (!f.isSuccess()) {
            throw new AssertionError("an uncontended wait did not succeed at once: " + f);
        }
    }
}
