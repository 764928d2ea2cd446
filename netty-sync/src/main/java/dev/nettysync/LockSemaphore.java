package dev.nettysync;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.Objects;
import java.util.function.Function;

/**
 * The semaphore under a lock: {@link AsyncLock} (one permit) and {@link AsyncReadWriteLock}
 * (a read takes one permit, a write all of them), as tokio builds its {@code Mutex} and
 * {@code RwLock} on one batch semaphore. Each lock then only decides how many permits an
 * operation takes; what they share is here:
 * <ul>
 *   <li>bounded at its initial permits, so an unlock with nothing held for it is refused
 *       ({@link #overRelease}) instead of raising the count;</li>
 *   <li>named after its lock, so every message of the semaphore (queue full, closed, over-release)
 *       names the lock the caller used, in the lock's own terms ({@link #misuse});</li>
 *   <li>{@link #holding}: take {@code n} permits, run the action, end the hold with the lock's own
 *       unlock (withLock, withRead, withWrite).</li>
 * </ul>
 * Package-private: the locks are the API. Not final: AsyncReadWriteLock overrides the
 * {@link #granted} hook to record who holds.
 */
class LockSemaphore extends AsyncSemaphore {

    private final Object lock;              // the lock built on this semaphore, named in messages; final

    /**
     * @param lock       the lock built on this semaphore (only its {@code toString} is used, and
     *                   only after construction)
     * @param permits    all the permits, which is also the bound
     * @param maxPending the bound on queued requests
     */
    LockSemaphore(Object lock, int permits, int maxPending) {
        super(permits, maxPending, true);
        this.lock = Objects.requireNonNull(lock, "lock");
    }

    /**
     * The error for a misused lock, naming it: {@code "unlock() of AsyncLock@1b{unlocked}, which is
     * not locked"} from {@code misuse("unlock()", "not locked")}.
     */
    final IllegalStateException misuse(String operation, String state) {
        return new IllegalStateException(operation + " of " + lock + ", which is " + state);
    }

    /** An unlock that nobody holds permits for: the lock's misuse error, not the semaphore's. */
    @Override
    IllegalStateException overRelease(int n, int available) {
        return misuse("unlock()", "not locked");
    }

    /**
     * A condition wait of this lock that gave the lock up ({@link LockGivenUpException}) ended
     * holding nothing, so {@code withLock} around it must not unlock: the lock may be the next
     * holder's already.
     */
    @Override
    boolean gaveUpHold(Throwable cause) {
        return cause instanceof LockGivenUpException givenUp && givenUp.gaveUp(lock);
    }

    /**
     * Takes {@code n} permits on {@code executor}, runs {@code action} there, and calls
     * {@code unlock} exactly once when the action's own future completes; the contract of
     * {@link AsyncSemaphore#withPermit(EventExecutor, Function)}, with the lock's unlock (which
     * may keep books of its own) in place of a bare release.
     */
    final <T> Future<T> holding(EventExecutor executor, int n,
                                Function<? super Future<T>, ? extends Future<T>> action, Runnable unlock) {
        return holding(executor, n, UNTIMED, action, unlock);
    }

    /**
     * As {@link #holding(EventExecutor, int, Function, Runnable)}, giving up the wait for the
     * permits after {@code timeoutNanos} ({@link #UNTIMED}: never) with a
     * {@link WaitTimeoutException}; the action then never runs.
     */
    final <T> Future<T> holding(EventExecutor executor, int n, long timeoutNanos,
                                Function<? super Future<T>, ? extends Future<T>> action, Runnable unlock) {
        Objects.requireNonNull(action, "action");
        Future<T> refused = refuseIfShutDown(executor);
        if (refused != null) {
            return refused;
        }
        return runHolding(acquireNanos(executor, n, timeoutNanos), executor, action, unlock);
    }

    @Override
    public String toString() {               // the lock's, so that messages name what the caller used
        return lock.toString();
    }
}
