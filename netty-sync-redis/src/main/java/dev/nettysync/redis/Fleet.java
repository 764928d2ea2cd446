package dev.nettysync.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisLoadingException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.netty.util.Timeout;
import io.netty.util.concurrent.EventExecutor;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the limiters of one {@link RedisLimiters} share: the command connection and the scripts
 * run on it, the key names, the settings, the timers and this instance's lease ids. The
 * limiters depend on this, not on {@code RedisLimiters}, which owns it (and the pub/sub
 * connection, which only it reads) and hands it to each limiter it makes.
 *
 * <p>Thread-safe: immutable but for the lease counter and the closed flag.
 */
final class Fleet {

    static final Script ACQUIRE = Script.load("semaphore-acquire", "semaphore-common.lua", "semaphore-acquire.lua");
    static final Script RELEASE = Script.load("semaphore-release", "semaphore-common.lua", "semaphore-release.lua");
    static final Script RENEW = Script.load("semaphore-renew", "semaphore-common.lua", "semaphore-renew.lua");
    static final Script GCRA = Script.load("rate-gcra", "rate-gcra.lua");

    private final StatefulRedisConnection<String, String> connection;
    private final RedisAsyncCommands<String, String> redis;
    private final EventExecutor scheduler;        // Lettuce's computation executor: fallback and renewal timers
    private final io.netty.util.Timer timer;      // Lettuce's wheel timer: command timeouts
    private final String keyPrefix;
    private final long commandTimeoutNanos;
    private final long maxPollNanos;
    private final int maxPending;
    private final String instanceId;              // random per instance: the head of every lease id
    private final AtomicLong leaseCounter = new AtomicLong();
    private volatile boolean closed;              // written once, by RedisLimiters.closeAsync()

    Fleet(RedisClient client, StatefulRedisConnection<String, String> connection, String keyPrefix,
          Duration commandTimeout, Duration maxPoll, int maxPending) {
        this.connection = connection;
        this.redis = connection.async();
        this.scheduler = client.getResources().eventExecutorGroup().next();
        this.timer = client.getResources().timer();
        this.keyPrefix = keyPrefix;
        this.commandTimeoutNanos = commandTimeout.toNanos();
        this.maxPollNanos = maxPoll.toNanos();
        this.maxPending = maxPending;
        byte[] id = new byte[8];
        new SecureRandom().nextBytes(id);
        this.instanceId = java.util.HexFormat.of().formatHex(id);
    }

    String instanceId() {
        return instanceId;
    }

    /** Whether the command connection is up and the limiters are not closed. */
    boolean isConnected() {
        return !closed && connection.isOpen();
    }

    void markClosed() {
        closed = true;
    }

    String key(String kind, String name, String part) {
        return keyPrefix + ":" + kind + ":{" + name + "}:" + part;
    }

    String rateKey(String name, String key) {
        // one key per (name, key): its own hash tag, so the keys of one limiter spread over a cluster
        return keyPrefix + ":rate:{" + name + (key == null ? "" : ":" + key) + "}";
    }

    EventExecutor scheduler() {
        return scheduler;
    }

    /**
     * Whether Lettuce's computation executor, which runs the semaphores' fallback polls and the
     * lease renewals, is shutting down (the client's resources are being shut down): it cancels
     * every timer it holds, so no wait can be polled nor any lease renewed any more.
     */
    boolean schedulerShuttingDown() {
        return scheduler.isShuttingDown();
    }

    /** The refusal of {@code who}'s work once {@link #schedulerShuttingDown()}. */
    RejectedExecutionException schedulerDown(String who) {
        return new RejectedExecutionException("Lettuce's computation executor " + scheduler + " is shutting down: it"
                + " runs the polls and lease renewals of " + who + ", which can no longer wait nor hold a lease"
                + " (close RedisLimiters before shutting the client's resources down)");
    }

    long maxPollNanos() {
        return maxPollNanos;
    }

    int maxPending() {
        return maxPending;
    }

    boolean closed() {
        return closed;
    }

    /** A fresh lease id: this instance's random id, a counter, and 64 random bits. */
    String newLeaseId() {
        return instanceId + "-" + Long.toHexString(leaseCounter.incrementAndGet()) + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong());
    }

    /**
     * The failure of a call not sent because the connection is down, for {@code who}.
     */
    RedisUnavailableException notConnected(String who) {
        return new RedisUnavailableException(who + ": Redis unreachable (not connected; Lettuce is reconnecting)", null);
    }

    /**
     * Runs a script, bounded by the command timeout: past it the stage fails with a
     * {@link RedisUnavailableException} whose cause is a {@link TimeoutException} (the command
     * may still run later: Lettuce re-sends what was out when a connection drops, once it has
     * reconnected; callers treat the outcome as unknown). A failure of the connection fails it
     * with a {@code RedisUnavailableException} too; an error the server answered passes as
     * Lettuce's exception.
     */
    <T> CompletionStage<T> run(Script script, ScriptOutputType type, String[] keys, String... args) {
        CompletableFuture<T> result = new CompletableFuture<>();
        try {
            // Lettuce's wheel timer: lock-free to arm and cancel from an I/O thread (a JDK
            // ScheduledThreadPoolExecutor, as behind CompletableFuture.orTimeout, takes a lock)
            Timeout timer = timer().newTimeout(t -> result.completeExceptionally(noReply(script)),
                    commandTimeoutNanos, TimeUnit.NANOSECONDS);
            script.<T>run(redis, type, keys, args).whenComplete((value, error) -> {
                timer.cancel();
                if (error == null) {
                    result.complete(value);
                } else {
                    result.completeExceptionally(unavailable(script, error));
                }
            });
        } catch (Throwable t) {                   // e.g. rejected by a closed connection
            result.completeExceptionally(unavailable(script, t));
        }
        return result;
    }

    private RedisUnavailableException noReply(Script script) {
        long ms = TimeUnit.NANOSECONDS.toMillis(commandTimeoutNanos);
        String why = connection.isOpen() ? "(server slow, paused or unreachable)" : "(connection lost; Lettuce is reconnecting)";
        return new RedisUnavailableException("Redis unreachable: " + script.name() + " got no reply within " + ms
                + " ms " + why, new TimeoutException("command timeout " + ms + " ms"));
    }

    /**
     * {@code error} as the limiters report it: an answer of the server (a script error,
     * {@code OOM}, {@code READONLY}) as it is; anything else (the connection failed, closed,
     * or rejected the command while disconnected; the dataset is loading) as unavailable.
     * {@code error} is Lettuce's own exception: {@link Script#run} passes it on unwrapped, and
     * Lettuce completes its futures with it as it is.
     */
    private static Throwable unavailable(Script script, Throwable error) {
        if (error instanceof RedisCommandExecutionException && !(error instanceof RedisLoadingException)) {
            return error;
        }
        return new RedisUnavailableException("Redis unreachable: " + script.name() + " failed: " + error, error);
    }

    private io.netty.util.Timer timer() {
        return timer;
    }
}
