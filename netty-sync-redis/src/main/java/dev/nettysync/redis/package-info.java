/**
 * Fleet-wide admission limits on Redis, through Lettuce, in the
 * {@link dev.nettysync.limit.AsyncLimiter} shape: {@link dev.nettysync.redis.RedisSemaphore}
 * (leased permits, at most N held across every replica) and
 * {@link dev.nettysync.redis.RedisRateLimiter} (GCRA, per name or per key), both made by
 * {@link dev.nettysync.redis.RedisLimiters}.
 */
package dev.nettysync.redis;
