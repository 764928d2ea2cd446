package dev.nettysync.redis;

import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisLoadingException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.netty.util.Timeout;
import io.netty.util.concurrent.EventExecutor;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The entry point of fleet-wide limits: one connection for the scripts, one pub/sub connection
 * for release notices, and the {@link RedisSemaphore}s and {@link RedisRateLimiter}s made on
 * them. Every replica of a service creates one at start-up and asks it for limiters by name;
 * replicas that use the same name (and the same limit) share the limit.
 *
 * <pre>{@code
 * RedisClient client = RedisClient.create("redis://redis:6379");
 * RedisLimiters fleet = RedisLimiters.builder(client).connect();      // at start-up: blocks
 * RedisSemaphore backend = fleet.semaphore("backend", 64, Duration.ofSeconds(10));
 * RedisRateLimiter perClient = fleet.rateLimiter("api", 100, 20);      // 100/s, bursts of 20
 * ...
 * fleet.close();                                                       // on shutdown
 * }</pre>
 *
 * <p>Thread-safe. {@link Builder#connect()} blocks while the two connections open, so call it at
 * start-up, never on an event loop; everything else is non-blocking. The Lettuce client and its
 * {@code ClientResources} stay the caller's: configure reconnection there. Lettuce's default
 * {@code reconnectDelay} backs off exponentially up to 30 s, so after a long outage the limits
 * may come back up to 30 s after Redis does; a capped delay (e.g.
 * {@code Delay.exponential(Duration.ZERO, Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS)})
 * bounds that.
 *
 * <h2>When Redis is down</h2>
 * While the command connection is down ({@link #isConnected()} is false), every acquire fails at
 * once with a {@link RedisUnavailableException} and sends nothing; when it drops, the waiters
 * queued in this JVM fail with it too; a call that was out fails when its command timeout
 * expires. Nothing is held by a failed acquire. Releases are still sent: Lettuce keeps them
 * until it has reconnected, and a release of a lease the server no longer knows (an empty,
 * restarted server) changes nothing. Once Lettuce has reconnected, acquires work again; the
 * scripts are loaded again on first use ({@code NOSCRIPT} → {@code EVAL}).
 */
public final class RedisLimiters implements AutoCloseable {

    static final Script ACQUIRE = Script.load("semaphore-acquire", "semaphore-common.lua", "semaphore-acquire.lua");
    static final Script RELEASE = Script.load("semaphore-release", "semaphore-common.lua", "semaphore-release.lua");
    static final Script RENEW = Script.load("semaphore-renew", "semaphore-common.lua", "semaphore-renew.lua");
    static final Script GCRA = Script.load("rate-gcra", "rate-gcra.lua");

    private final StatefulRedisConnection<String, String> connection;
    private final StatefulRedisPubSubConnection<String, String> pubSub;
    private final RedisAsyncCommands<String, String> redis;
    private final EventExecutor scheduler;        // Lettuce's computation executor: fallback and renewal timers
    private final io.netty.util.Timer timer;      // Lettuce's wheel timer: command timeouts
    private final String keyPrefix;
    private final long commandTimeoutNanos;
    private final long maxPollNanos;
    private final int maxPending;
    private final String instanceId;              // random per instance: the head of every lease id
    private final AtomicLong leaseCounter = new AtomicLong();
    private final Map<String, RedisSemaphore> semaphores = new ConcurrentHashMap<>();    // by name
    private final Map<String, RedisSemaphore> byChannel = new ConcurrentHashMap<>();     // by notice channel
    private final RedisConnectionStateListener connectionListener;   // fails local waiters when the connection drops
    private volatile boolean closed;              // written once by close()

    private RedisLimiters(Builder b) {
        this.keyPrefix = b.keyPrefix;
        this.commandTimeoutNanos = b.commandTimeout.toNanos();
        this.maxPollNanos = b.maxPoll.toNanos();
        this.maxPending = b.maxPending;
        byte[] id = new byte[8];
        new SecureRandom().nextBytes(id);
        this.instanceId = java.util.HexFormat.of().formatHex(id);
        this.scheduler = b.client.getResources().eventExecutorGroup().next();
        this.timer = b.client.getResources().timer();
        this.connection = b.client.connect(StringCodec.UTF8);
        try {
            this.pubSub = b.client.connectPubSub(StringCodec.UTF8);
        } catch (RuntimeException e) {
            connection.close();
            throw e;
        }
        this.redis = connection.async();
        this.connectionListener = new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> c) {
                // on a Lettuce I/O thread: each semaphore fails its waiters (their listeners run
                // on their own executors)
                for (RedisSemaphore s : semaphores.values()) {
                    s.onDisconnected();
                }
            }
        };
        connection.addListener(connectionListener);
        pubSub.addListener(new RedisPubSubAdapter<>() {
            @Override
            public void message(String channel, String message) {
                RedisSemaphore s = byChannel.get(channel);
                if (s != null) {
                    s.onNotice();
                }
            }

            @Override
            public void subscribed(String channel, long count) {
                // also after every reconnection: notices sent meanwhile were lost, so look again
                RedisSemaphore s = byChannel.get(channel);
                if (s != null) {
                    s.onNotice();
                }
            }
        });
    }

    /** Starts configuring limiters on {@code client} (a client of one Redis primary). */
    public static Builder builder(RedisClient client) {
        return new Builder(client);
    }

    /**
     * The semaphore {@code name} with {@code permits} permits across the fleet, each lease
     * lasting {@code lease} unless renewed (it is renewed every third of it while held). Asking
     * twice for one name returns the same semaphore; asking with another limit or lease fails.
     * Every replica must use the same {@code permits} for a name: the limit travels with each
     * request and is not stored in Redis.
     *
     * @throws IllegalArgumentException if {@code permits < 1}, the lease is under 100 ms, or
     *                                  {@code name} is in use with another limit or lease
     */
    public RedisSemaphore semaphore(String name, int permits, Duration lease) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(lease, "lease");
        if (permits < 1) {
            throw new IllegalArgumentException("permits: " + permits + " (expected >= 1)");
        }
        if (lease.toMillis() < 100) {
            throw new IllegalArgumentException("lease: " + lease + " (expected >= 100 ms)");
        }
        checkOpen();
        RedisSemaphore s = semaphores.computeIfAbsent(name, n -> {
            RedisSemaphore created = new RedisSemaphore(this, n, permits, lease.toMillis());
            byChannel.put(created.channel(), created);
            pubSub.async().subscribe(created.channel());
            return created;
        });
        if (s.limit() != permits || s.leaseMillis() != lease.toMillis()) {
            throw new IllegalArgumentException("semaphore " + name + " exists with " + s.limit()
                    + " permits and a " + s.leaseMillis() + " ms lease, not " + permits + " and " + lease.toMillis());
        }
        return s;
    }

    /** {@link #semaphore(String, int, Duration)} with a 30 s lease. */
    public RedisSemaphore semaphore(String name, int permits) {
        return semaphore(name, permits, Duration.ofSeconds(30));
    }

    /**
     * The rate limiter {@code name}: {@code permitsPerSecond} on average, up to {@code burst} at
     * once, shared by the fleet. Use {@link RedisRateLimiter#forKey(String)} for one limit per
     * client, tenant or API key under the same configuration.
     *
     * @throws IllegalArgumentException if the rate is not positive and finite or {@code burst < 1}
     */
    public RedisRateLimiter rateLimiter(String name, double permitsPerSecond, int burst) {
        checkOpen();
        return new RedisRateLimiter(this, name, null, permitsPerSecond, burst);
    }

    /**
     * Stops the limiters: local waiters fail with a {@link dev.nettysync.ClosedException}, lease
     * renewal stops and both connections close. Held permits are <em>not</em> released: their
     * leases expire (like those of a replica that died). Non-blocking.
     */
    @Override
    public void close() {
        closeAsync();
    }

    /** As {@link #close()}; the stage completes when both connections are closed. */
    public CompletionStage<Void> closeAsync() {
        closed = true;
        connection.removeListener(connectionListener);
        for (RedisSemaphore s : semaphores.values()) {
            s.close();
        }
        return CompletableFuture.allOf(connection.closeAsync(), pubSub.closeAsync());
    }

    /**
     * This instance's random id, the head of every lease id it takes ({@code <id>-<n>-<random>}):
     * log it at start-up to find a replica's leases in Redis
     * ({@code ZRANGE nsync:sem:{name}:leases 0 -1}).
     */
    public String instanceId() {
        return instanceId;
    }

    /**
     * Whether the connection that runs the scripts is up now. While it is not, every acquire
     * fails at once with a {@link RedisUnavailableException}; Lettuce reconnects by itself (on
     * the schedule of its {@code ClientResources.reconnectDelay}). Suits a health gauge.
     */
    public boolean isConnected() {
        return !closed && connection.isOpen();
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("RedisLimiters closed");
        }
    }

    // --- shared by the limiters -------------------------------------------------------------

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
     */
    private static Throwable unavailable(Script script, Throwable error) {
        Throwable e = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                ? error.getCause() : error;
        if (e instanceof RedisUnavailableException
                || (e instanceof RedisCommandExecutionException && !(e instanceof RedisLoadingException))) {
            return e;
        }
        return new RedisUnavailableException("Redis unreachable: " + script.name() + " failed: " + e, e);
    }

    private io.netty.util.Timer timer() {
        return timer;
    }

    void unsubscribe(RedisSemaphore s) {
        semaphores.remove(s.name(), s);
        byChannel.remove(s.channel(), s);
        if (pubSub.isOpen()) {
            pubSub.async().unsubscribe(s.channel());
        }
    }

    /** Options of {@link RedisLimiters}; every one has a default. */
    public static final class Builder {
        private final RedisClient client;
        private String keyPrefix = "nsync";
        private Duration commandTimeout = Duration.ofSeconds(2);
        private Duration maxPoll = Duration.ofSeconds(1);
        private int maxPending = Integer.MAX_VALUE;

        private Builder(RedisClient client) {
            this.client = Objects.requireNonNull(client, "client");
        }

        /** The first part of every key and channel (default {@code nsync}). */
        public Builder keyPrefix(String prefix) {
            Objects.requireNonNull(prefix, "prefix");
            if (prefix.isEmpty() || prefix.contains("{") || prefix.contains("}")) {
                throw new IllegalArgumentException("keyPrefix: '" + prefix + "' (non-empty, no braces)");
            }
            this.keyPrefix = prefix;
            return this;
        }

        /**
         * How long one script call may take before its outcome is treated as unknown (default
         * 2 s): the acquire then fails with a {@link RedisUnavailableException} (a semaphore's
         * local queue with it), and a lease the call may have taken is released by id. It is
         * also the longest an acquire takes to fail when the connection drops while it is out.
         */
        public Builder commandTimeout(Duration timeout) {
            this.commandTimeout = positive(timeout, "commandTimeout");
            return this;
        }

        /**
         * The longest a waiting semaphore goes without asking Redis again when no release notice
         * arrives (default 1 s). Notices normally wake waiters at once; this bounds the delay
         * when one is lost (pub/sub is at-most-once).
         */
        public Builder maxPoll(Duration maxPoll) {
            this.maxPoll = positive(maxPoll, "maxPoll");
            return this;
        }

        /** The most waiters one semaphore queues in this JVM (default unbounded). */
        public Builder maxPending(int maxPending) {
            if (maxPending < 1) {
                throw new IllegalArgumentException("maxPending: " + maxPending + " (expected >= 1)");
            }
            this.maxPending = maxPending;
            return this;
        }

        /** Opens the two connections (blocking: call at start-up) and returns the limiters. */
        public RedisLimiters connect() {
            return new RedisLimiters(this);
        }

        private static Duration positive(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + ": " + d + " (expected > 0)");
            }
            return d;
        }
    }
}
