/**
 * Machinery shared by the public packages: {@link dev.nettysync.internal.WaitQueue}, the one
 * FIFO wait queue under every primitive of {@code dev.nettysync} and under
 * {@code dev.nettysync.limit.AsyncRateLimiter} (its monitor, granting, completion outside the
 * monitor, cancellation and timeouts); {@link dev.nettysync.internal.Waiter}, the queue node
 * that is also the promise handed to the caller; and small helpers the limiters and the
 * channel bindings use (argument checks, a wait mapped to another type, promise utilities, a
 * per-executor cache of shared values, the timer protocol).
 *
 * <p><b>Not API.</b> Nothing in this package is covered by compatibility promises; it is public
 * only so that the public packages and the project's own modules ({@code netty-sync-*}, released
 * together with this one) can use it. Do not depend on it.
 */
package dev.nettysync.internal;
