/**
 * Micrometer meters for netty-sync limiters: {@link dev.nettysync.micrometer.LimiterMetrics}
 * exports any {@link dev.nettysync.limit.AsyncLimiter}'s state as gauges, and
 * {@link dev.nettysync.micrometer.MeteredLimiter} wraps a limiter to time its waits and count its
 * refusals by reason.
 */
package dev.nettysync.micrometer;
