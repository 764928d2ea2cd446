package dev.nettysync;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lincheck for {@link AsyncLock}: lock/cancel by one thread (in queue order), tryLock and
 * unlock by others. An unlock of an unlocked lock must throw and change nothing; after every
 * scenario the lock is held by exactly as many parties as the history says (0 or 1), and no
 * waiter is queued while the lock is free. See {@link SemaphoreLincheckTest} for the harness
 * design.
 */
public class LockLincheckTest extends AbstractLincheckTest {
    private final AsyncLock lock = new AsyncLock();
    private final AtomicInteger tryLocked = new AtomicInteger();
    private final AtomicInteger unlocked = new AtomicInteger();
    private final List<Future<Void>> locks = new ArrayList<>();     // waiter thread only
    private int cancelled;

    @Operation
    public boolean tryLock() {
        if (lock.tryLock()) {
            tryLocked.incrementAndGet();
            return true;
        }
        return false;
    }

    @Operation
    public boolean unlock() {
        try {
            lock.unlock();
            unlocked.incrementAndGet();
            return true;
        } catch (IllegalStateException notLocked) {
            return false;
        }
    }

    @Operation(nonParallelGroup = "waiter")
    public void lock() {
        locks.add(lock.lock(ImmediateEventExecutor.INSTANCE));
    }

    @Operation(nonParallelGroup = "waiter")
    public boolean cancelOldest() {
        return cancelled < locks.size() && locks.get(cancelled++).cancel(false);
    }

    @Operation
    public boolean isLocked() {
        return lock.isLocked();
    }

    @Validate
    public void heldByAtMostOne() {
        checkInvariants(lock);
        int granted = (int) locks.stream().filter(Future::isSuccess).count();
        long pending = locks.stream().filter(f -> !f.isDone()).count();
        int holders = tryLocked.get() + granted - unlocked.get();
        if (holders != (lock.isLocked() ? 1 : 0)) {
            throw new AssertionError(holders + " holders but isLocked=" + lock.isLocked());
        }
        if (lock.queueLength() != pending || (pending > 0 && !lock.isLocked())) {
            throw new AssertionError("queue " + lock.queueLength() + ", pending " + pending
                    + ", locked " + lock.isLocked());
        }
    }

    @Override
    protected int modelCheckingIterations() {
        return 20;
    }

    @Override
    protected int modelCheckingInvocations() {
        return 500;
    }

    @Override
    protected int stressActorsPerThread() {
        return 4;
    }
}
