/**
 * Admission limits in one shape: {@link dev.nettysync.limit.AsyncLimiter} admits work with a FIFO,
 * cancellable, timed, non-blocking wait and hands out {@link dev.nettysync.limit.Permit} handles
 * that end exactly once and are tracked for leaks.
 *
 * <p>This package builds on the primitives of {@code dev.nettysync}; nothing there depends on it.
 */
package dev.nettysync.limit;
