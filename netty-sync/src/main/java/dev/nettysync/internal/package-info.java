/**
 * Machinery shared by the primitives of {@code dev.nettysync}: {@link
 * dev.nettysync.internal.WaitQueue}, the one FIFO wait queue they are all built on (its monitor,
 * granting, completion outside the monitor, cancellation and timeouts), and {@link
 * dev.nettysync.internal.Waiter}, the queue node that is also the promise handed to the caller.
 *
 * <p><b>Not API.</b> Nothing in this package is covered by compatibility promises; it is public
 * only so that the public packages and the project's own modules ({@code netty-sync-*}, released
 * together with this one) can use it. Do not depend on it.
 */
package dev.nettysync.internal;
