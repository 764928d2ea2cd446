/**
 * Machinery shared by the primitives of {@code dev.nettysync}: the waiter node (which is also
 * the promise handed to the caller) and the intrusive FIFO queue waiters stand in.
 *
 * <p><b>Not API.</b> Nothing in this package is covered by compatibility promises; it is public
 * only so that the public package can use it. Do not depend on it.
 */
package dev.nettysync.internal;
