package dev.nettysync.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.resource.Delay;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What a test needs around a {@link RedisServer}: Lettuce clients configured like a production
 * replica would be (their own resources, a short reconnect delay), {@link RedisLimiters} on them,
 * caller event loops, and an admin connection for the test thread. Closes everything it made.
 */
final class TestFleet implements AutoCloseable {

    final RedisServer server;
    final EventLoopGroup loops;
    private final List<ClientResources> resources = new ArrayList<>();
    private final List<RedisClient> clients = new ArrayList<>();
    private final List<RedisLimiters> limiters = new ArrayList<>();
    private StatefulRedisConnection<String, String> adminConnection;

    TestFleet(RedisServer server, int loops) {
        this.server = server;
        this.loops = new DefaultEventLoopGroup(loops);
    }

    /** A new client (its own connections and threads), as another replica would have. */
    RedisClient client() {
        return client(server.uri());
    }

    /** A new client of {@code uri} (a proxy in front of the server), configured as {@link #client()}. */
    RedisClient client(String uri) {
        ClientResources r = ClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(1)
                .reconnectDelay(Delay.constant(Duration.ofMillis(50)))
                .build();
        resources.add(r);
        RedisClient c = RedisClient.create(r, RedisURI.create(uri));
        clients.add(c);
        return c;
    }

    /** Limiters on a new client. */
    RedisLimiters limiters(Duration maxPoll, Duration commandTimeout) {
        return limiters(client(), maxPoll, commandTimeout);
    }

    /** Limiters on {@code client}, closed with the fleet. */
    RedisLimiters limiters(RedisClient client, Duration maxPoll, Duration commandTimeout) {
        RedisLimiters l = RedisLimiters.builder(client).maxPoll(maxPoll).commandTimeout(commandTimeout).connect();
        limiters.add(l);
        return l;
    }

    RedisLimiters limiters() {
        return limiters(Duration.ofMillis(500), Duration.ofSeconds(2));
    }

    /** Synchronous commands for the test thread (never for a loop). */
    RedisCommands<String, String> admin() {
        if (adminConnection == null || !adminConnection.isOpen()) {
            adminConnection = client().connect();
        }
        return adminConnection.sync();
    }

    /** Permits in use fleet-wide, as Redis counts them (after reaping expired leases). */
    long used(RedisSemaphore s) {
        // the release script reaps, and a release of an unknown lease changes nothing else
        admin().eval(Fleet.RELEASE.text(), io.lettuce.core.ScriptOutputType.INTEGER, s.keys(), "-", "-");
        String v = admin().get(s.keys()[2]);
        return v == null ? 0 : Long.parseLong(v);
    }

    /** Leases live in Redis. */
    long leases(RedisSemaphore s) {
        return admin().zcard(s.keys()[0]);
    }

    /**
     * Takes all of {@code s}'s permits under leases of {@code leaseMillis} that no RedisPermit
     * knows of (nobody renews them; {@link #release} ends them); returns their ids.
     */
    List<String> takeAll(RedisSemaphore s, long leaseMillis) {
        List<String> leases = new ArrayList<>();
        for (int i = 0; i < s.limit(); i++) {
            String id = "holder-" + i + "-" + System.nanoTime();
            List<Object> r = admin().eval(Fleet.ACQUIRE.text(), io.lettuce.core.ScriptOutputType.MULTI, s.keys(),
                    Integer.toString(s.limit()), "1", id, Long.toString(leaseMillis), s.channel());
            if (!Long.valueOf(1).equals(r.get(0))) {
                throw new IllegalStateException("lease " + id + " of " + s + " refused: " + r);
            }
            leases.add(id);
        }
        return leases;
    }

    /**
     * Releases leases taken by {@link #takeAll}, publishing the freed permits on {@code channel}:
     * {@code s.channel()} to wake waiters, any other to lose the notice.
     */
    void release(RedisSemaphore s, List<String> leases, String channel) {
        for (String id : leases) {
            Object r = admin().eval(Fleet.RELEASE.text(), io.lettuce.core.ScriptOutputType.INTEGER, s.keys(), id, channel);
            if (!Long.valueOf(1).equals(r)) {
                throw new IllegalStateException("lease " + id + " of " + s + " not released: " + r);
            }
        }
    }

    /**
     * {@code CLIENT PAUSE 10000 WRITE}: the server holds every script call (and {@code PUBLISH})
     * until {@link #unpause()}, then runs them in the order they came; reads and admin commands
     * are answered meanwhile.
     */
    void pauseWrites() {
        String ok = admin().dispatch(CommandType.CLIENT, new StatusOutput<>(StringCodec.UTF8),
                new CommandArgs<>(StringCodec.UTF8).add("PAUSE").add(10_000).add("WRITE"));
        if (!"OK".equals(ok)) {
            throw new IllegalStateException("CLIENT PAUSE: " + ok);
        }
    }

    void unpause() {
        admin().dispatch(CommandType.CLIENT, new StatusOutput<>(StringCodec.UTF8),
                new CommandArgs<>(StringCodec.UTF8).add("UNPAUSE"));
    }

    /** Clients whose command the server holds: a pause's held clients count here. */
    long blockedClients() {
        for (String line : admin().info("clients").split("\\r?\\n")) {
            if (line.startsWith("blocked_clients:")) {
                return Long.parseLong(line.substring("blocked_clients:".length()).trim());
            }
        }
        throw new IllegalStateException("no blocked_clients in INFO clients");
    }

    /**
     * Shuts Lettuce's computation executor of {@code client} down (it runs the renewals, polls
     * and timers), as an application whose client resources shut down before its limiters.
     */
    static void shutDownComputationExecutor(RedisClient client) throws InterruptedException {
        client.getResources().eventExecutorGroup().shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
    }

    /** Closes limiters, waiting for them at most 10 s: for those a test made for itself. */
    static void close(RedisLimiters limiters) throws Exception {
        limiters.closeAsync().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
        for (RedisLimiters l : limiters) {
            close(l);
        }
        if (adminConnection != null) {
            adminConnection.close();
        }
        for (RedisClient c : clients) {
            c.shutdown(Duration.ZERO, Duration.ofSeconds(5));
        }
        for (ClientResources r : resources) {
            r.shutdown(0, 5, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
        }
        Future<?> f = loops.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        f.get(10, TimeUnit.SECONDS);
    }
}
