package dev.nettysync.redis;

import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

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
 * bounds that. Close this before shutting the client (or its {@code ClientResources}) down:
 * Lettuce's computation executor times the semaphores' polls and lease renewals, and once it
 * shuts down the semaphores refuse acquires and fail their waiters with a
 * {@link java.util.concurrent.RejectedExecutionException}, and held permits' leases are
 * reported lost ({@link RedisSemaphore}, "When Lettuce's computation executor shuts down").
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

    /** The longest lease: 2^60 ns, as the longest refill of a rate limiter. */
    private static final Duration MAX_LEASE = Duration.ofNanos(1L << 60);

    private final StatefulRedisConnection<String, String> connection;
    private final StatefulRedisPubSubConnection<String, String> pubSub;
    private final Fleet fleet;                    // what the limiters share (the connection, scripts, settings)
    private final Map<String, RedisSemaphore> semaphores = new ConcurrentHashMap<>();    // by name
    private final Map<String, RedisSemaphore> byChannel = new ConcurrentHashMap<>();     // by notice channel
    private final RedisConnectionStateListener connectionListener;   // fails local waiters when the connection drops
    private volatile boolean closed;              // written once by close()

    private RedisLimiters(Builder b) {
        this.connection = b.client.connect(StringCodec.UTF8);
        try {
            this.pubSub = b.client.connectPubSub(StringCodec.UTF8);
        } catch (RuntimeException e) {
            connection.close();
            throw e;
        }
        this.fleet = new Fleet(b.client, connection, b.keyPrefix, b.commandTimeout, b.maxPoll, b.maxPending);
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
     * @throws IllegalArgumentException if {@code name} is empty or contains a closing brace (the
     *                                  name is the hash tag of the semaphore's three keys, which
     *                                  one script touches together: an empty tag, or one a brace
     *                                  cuts short, would put them in different Redis Cluster
     *                                  slots), {@code permits < 1}, the lease is under 100 ms or
     *                                  over 2<sup>60</sup> ns (36 years), or {@code name} is in
     *                                  use with another limit or lease
     * @throws IllegalStateException    if these limiters are closed (also when the close comes
     *                                  while this call makes the semaphore: it is closed too)
     */
    public RedisSemaphore semaphore(String name, int permits, Duration lease) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(lease, "lease");
        if (name.isEmpty() || name.indexOf('}') >= 0) {
            throw new IllegalArgumentException("semaphore name: '" + name + "' (non-empty, without '}': it is the"
                    + " hash tag {name} of the semaphore's keys, which must share one cluster slot)");
        }
        if (permits < 1) {
            throw new IllegalArgumentException("permits: " + permits + " (expected >= 1)");
        }
        if (lease.compareTo(Duration.ofMillis(100)) < 0 || lease.compareTo(MAX_LEASE) > 0) {
            throw new IllegalArgumentException("lease: " + lease + " (expected 100 ms .. " + MAX_LEASE + ", 2^60 ns)");
        }
        checkOpen();
        RedisSemaphore s = semaphores.computeIfAbsent(name, n -> {
            RedisSemaphore created = new RedisSemaphore(fleet, n, permits, lease.toMillis(), this::unsubscribe);
            byChannel.put(created.channel(), created);
            pubSub.async().subscribe(created.channel());
            return created;
        });
        if (closed) {
            // closeAsync() sets `closed`, then closes the semaphores it finds; one published
            // after it looked was missed, so its maker, who sees `closed` now, closes it.
            s.close();
            checkOpen();
        }
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
     * @throws IllegalArgumentException if {@code name} is empty or contains {@code ':'} (the
     *         separator of {@link RedisRateLimiter#forKey keys}), if the rate is not positive, or above 10<sup>6</sup>/s (one
     *         per microsecond, the resolution of the script's clock), or {@code burst < 1}, or a
     *         whole burst takes more than 2<sup>60</sup> ns (36 years) to refill
     */
    public RedisRateLimiter rateLimiter(String name, double permitsPerSecond, int burst) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty() || name.indexOf(':') >= 0) {
            // the Redis key is {name} or {name:key}: a colon in a name would let one limiter's
            // key be another's name-wide key ("a" for key "b" and "a:b"), one bucket for both
            throw new IllegalArgumentException("rate limiter name: '" + name
                    + "' (non-empty, without ':'; use forKey for a limit per key)");
        }
        checkOpen();
        return new RedisRateLimiter(fleet, name, null, permitsPerSecond, burst);
    }

    /**
     * Stops the limiters: local waiters fail with a {@link dev.nettysync.ClosedException}, lease
     * renewal stops and both connections close. Held permits are <em>not</em> released: their
     * leases expire (like those of a replica that died), and each one's
     * {@link RedisPermit#lease()} fails with a {@link LeaseLostException} at its next renewal
     * time, within a third of a lease, so that work still running can stop. Non-blocking.
     */
    @Override
    public void close() {
        closeAsync();
    }

    /** As {@link #close()}; the stage completes when both connections are closed. */
    public CompletionStage<Void> closeAsync() {
        closed = true;
        fleet.markClosed();
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
        return fleet.instanceId();
    }

    /**
     * Whether the connection that runs the scripts is up now. While it is not, every acquire
     * fails at once with a {@link RedisUnavailableException}; Lettuce reconnects by itself (on
     * the schedule of its {@code ClientResources.reconnectDelay}). Suits a health gauge.
     */
    public boolean isConnected() {
        return fleet.isConnected();
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

    /** A semaphore closed: it no longer hears notices. */
    private void unsubscribe(RedisSemaphore s) {
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

        /**
         * Opens the two connections (blocking: call at start-up) and returns the limiters.
         *
         * @throws io.lettuce.core.RedisConnectionException if Redis cannot be reached now (after
         *         the client's connect timeout at most); nothing is left open, and a later call may
         *         succeed. Once connected, outages are handled as described in the class comment.
         */
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
