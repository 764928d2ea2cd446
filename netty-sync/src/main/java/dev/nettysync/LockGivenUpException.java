package dev.nettysync;

import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;

/**
 * An {@link AsyncCondition} wait ended <em>without</em> the lock: its executor refused the task
 * that would resume it with the lock (it has shut down, or its task queue is full), so the wait
 * gave the lock and any signal it held to the next waiters rather than keep them where no code
 * of its caller could run. This is the one way a condition wait ends with the caller not
 * holding the lock: every other end, failures included, re-acquires it first, so a listener
 * unlocks unless the wait failed with this exception:
 * <pre>{@code
 * condition.await(ex).addListener(w -> {
 *     if (w.cause() instanceof LockGivenUpException) return;   // not held: do not unlock
 *     try { ... } finally { lock.unlock(); }
 * });
 * }</pre>
 * {@code withLock(ex, () -> condition.await(ex))} knows it and does not unlock then, nor does
 * {@code withPermit} of a limiter view of the lock ({@code AsyncLimiter.of(lock)}, also as a part
 * of a composite). {@code lock.isGivenUpBy(cause)} tells whether a failure gave up a given
 * lock, for a listener that may see waits of several locks fail. A wait refused at once, before
 * it let the lock go (its executor already shut down), fails with a plain
 * {@link RejectedExecutionException} and the caller still holds the lock.
 *
 * <p>The cause is the executor's refusal.
 */
public final class LockGivenUpException extends RejectedExecutionException {
    private static final long serialVersionUID = 1L;

    // The lock given up, for withLock's test "given up by a wait of my own lock" (a with-block of
    // another lock around it still unlocks). Typed Object so that this class, below the lock,
    // does not depend on it.
    private final transient Object lock;

    LockGivenUpException(Object lock, String message, Throwable refusal) {
        super(message, refusal);
        this.lock = Objects.requireNonNull(lock, "lock");
    }

    /** Whether the lock given up is {@code lock}. */
    boolean gaveUp(Object lock) {
        return this.lock == lock;
    }
}
