/**
 * Adaptive concurrency limits: {@link dev.nettysync.adaptive.AdaptiveLimiter} is an
 * {@link dev.nettysync.limit.AsyncLimiter} whose limit is found and moved by one of Netflix
 * concurrency-limits' algorithms ({@link dev.nettysync.adaptive.AdaptiveAlgorithm}) from the
 * latency and drops of the work it admits, in front of netty-sync's FIFO, cancellable,
 * non-blocking wait.
 */
package dev.nettysync.adaptive;
