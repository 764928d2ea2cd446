package dev.nettysync;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;

import java.util.ArrayList;
import java.util.List;

/**
 * Lincheck for {@link AsyncReadWriteLock} (2 readers at most). A "waiter" thread queues read and
 * write requests and cancels them in queue order; it keeps what it is granted (a grant is final
 * at its claim, before the future completes, so "seen granted" is not an atomic event a test
 * could act on). A "trier" thread try-locks and unlocks or downgrades only the locks it took, as
 * a correct caller does: an unlock by a party that has not seen the grant it would end races
 * that grant, and no ownerless lock can order the two (misuse is covered by
 * {@link AsyncReadWriteLockTest}); its unlocks and downgrades hand the lock to queued requests. After every scenario the holders
 * the history says exist are exactly those the lock reports, a writer never coexists with
 * readers, and no request waits while it could be served. See {@link SemaphoreLincheckTest}
 * for the harness design.
 */
public class ReadWriteLockLincheckTest extends AbstractLincheckTest {
    private final AsyncReadWriteLock lock = new AsyncReadWriteLock(2, Integer.MAX_VALUE);
    private final Party trier = new Party();
    private final List<Future<Void>> reads = new ArrayList<>();      // waiter thread only
    private final List<Future<Void>> writes = new ArrayList<>();     // waiter thread only
    private final List<Future<Void>> queue = new ArrayList<>();      // waiter thread only, request order
    private int cancelled;                                           // waiter thread only

    /** The locks one party holds and knows of; used by that party's thread only. */
    private final class Party {
        int reads;
        int writes;

        boolean unlockRead() {
            if (reads == 0) {
                return false;
            }
            reads--;
            lock.unlockRead();          // a held read lock: must not throw
            return true;
        }

        boolean unlockWrite() {
            if (writes == 0) {
                return false;
            }
            writes--;
            lock.unlockWrite();
            return true;
        }

        boolean downgrade() {
            if (writes == 0) {
                return false;
            }
            writes--;
            lock.downgrade();
            reads++;
            return true;
        }
    }

    @Operation(nonParallelGroup = "trier")
    public boolean tryReadLock() {
        if (lock.tryReadLock()) {
            trier.reads++;
            return true;
        }
        return false;
    }

    @Operation(nonParallelGroup = "trier")
    public boolean tryWriteLock() {
        if (lock.tryWriteLock()) {
            trier.writes++;
            return true;
        }
        return false;
    }

    @Operation(nonParallelGroup = "trier")
    public boolean trierUnlockRead() {
        return trier.unlockRead();
    }

    @Operation(nonParallelGroup = "trier")
    public boolean trierUnlockWrite() {
        return trier.unlockWrite();
    }

    @Operation(nonParallelGroup = "trier")
    public boolean trierDowngrade() {
        return trier.downgrade();
    }

    @Operation(nonParallelGroup = "waiter")
    public void readLock() {
        Future<Void> f = lock.readLock(ImmediateEventExecutor.INSTANCE);
        reads.add(f);
        queue.add(f);
    }

    @Operation(nonParallelGroup = "waiter")
    public void writeLock() {
        Future<Void> f = lock.writeLock(ImmediateEventExecutor.INSTANCE);
        writes.add(f);
        queue.add(f);
    }

    @Operation(nonParallelGroup = "waiter")
    public boolean cancelOldest() {
        return cancelled < queue.size() && queue.get(cancelled++).cancel(false);
    }

    // isWriteLocked() and readers() are monitoring snapshots: they may lag a grant in progress
    // (its CAS done, its bookkeeping not yet), so they are not operations here; the validation
    // checks them exactly, at rest.

    @Validate
    public void holdersMatchTheHistory() {
        long readers = trier.reads + reads.stream().filter(Future::isSuccess).count();
        long writers = trier.writes + writes.stream().filter(Future::isSuccess).count();
        long pending = queue.stream().filter(f -> !f.isDone()).count();
        if (writers != (lock.isWriteLocked() ? 1 : 0)) {
            throw new AssertionError(writers + " writers but isWriteLocked=" + lock.isWriteLocked());
        }
        if (writers > 0 && readers > 0 || readers > 2 || readers != lock.readers()) {
            throw new AssertionError(readers + " readers (lock says " + lock.readers() + "), " + writers + " writers");
        }
        checkInvariants(lock);
        if (lock.queueLength() != pending) {
            throw new AssertionError("queue " + lock.queueLength() + ", pending " + pending);
        }
        Future<Void> head = queue.stream().filter(f -> !f.isDone()).findFirst().orElse(null);
        if (head != null) {
            boolean headIsWriter = writes.contains(head);
            boolean servable = headIsWriter ? writers == 0 && readers == 0 : writers == 0 && readers < 2;
            if (servable) {
                throw new AssertionError("the head " + (headIsWriter ? "writer" : "reader") + " waits though it could be served");
            }
        }
    }

    @Override
    protected int modelCheckingThreads() {
        return 2;                       // one thread per holding party
    }

    @Override
    protected int modelCheckingActorsPerThread() {
        return 4;
    }

    @Override
    protected int modelCheckingIterations() {
        return 15;
    }

    @Override
    protected int stressActorsPerThread() {
        return 4;
    }
}
