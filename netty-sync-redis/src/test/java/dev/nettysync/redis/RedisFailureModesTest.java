package dev.nettysync.redis;

import dev.nettysync.WaitTimeoutException;
import dev.nettysync.testing.Poll;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisLoadingException;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server misbehaves: scripts flushed mid-run, clients paused, errors answered (OOM). Nothing
 * is lost, no loop blocks.
 */
@ExtendWith(RedisServerExtension.class)
class RedisFailureModesTest {

    @Test
    void scriptFlushMidRunCostsOneEvalAndLosesNothing(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 3)) {
            String name = "flush-" + System.nanoTime();
            List<RedisSemaphore> replicas = List.of(
                    fleet.limiters().semaphore(name, 3, Duration.ofSeconds(10)),
                    fleet.limiters().semaphore(name, 3, Duration.ofSeconds(10)));
            Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
            LongAdder pairs = new LongAdder();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            List<CountDownLatch> done = new ArrayList<>();
            for (RedisSemaphore s : replicas) {
                for (int i = 0; i < 3; i++) {
                    CountDownLatch d = new CountDownLatch(1);
                    done.add(d);
                    EventLoop loop = fleet.loops.next();
                    loop.execute(new Runnable() {
                        @Override
                        public void run() {
                            if (System.nanoTime() > deadline) {
                                d.countDown();
                                return;
                            }
                            Runnable again = this;
                            s.acquire(loop).addListener(f -> {
                                if (!f.isSuccess()) {
                                    failures.add(f.cause());
                                    d.countDown();
                                    return;
                                }
                                ((RedisPermit) f.getNow()).release();
                                ((RedisPermit) f.getNow()).lease().addListener(l -> {
                                    if (!l.isSuccess()) {
                                        failures.add(l.cause());
                                    }
                                    pairs.increment();
                                    loop.execute(again);
                                });
                            });
                        }
                    });
                }
            }
            int flushes = 0;
            while (System.nanoTime() < deadline) {
                Thread.sleep(150);
                assertThat(fleet.admin().scriptFlush()).isEqualTo("OK");
                flushes++;
            }
            for (CountDownLatch d : done) {
                assertThat(d.await(20, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(failures).isEmpty();
            assertThat(pairs.sum()).isGreaterThan(flushes);
            assertThat(fleet.used(replicas.get(0))).isZero();
            System.out.printf("script flush: %d acquire/release pairs across %d flushes%n", pairs.sum(), flushes);
        }
    }

    @Test
    void clientPauseMakesCallsFailOnTimeWithoutBlockingALoop(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 2)) {
            String name = "pause-" + System.nanoTime();
            RedisLimiters limiters = fleet.limiters(Duration.ofMillis(200), Duration.ofMillis(300));
            RedisSemaphore s = limiters.semaphore(name, 2, Duration.ofSeconds(10));
            EventLoop loop = fleet.loops.next();
            RedisPermit held = s.acquire(loop, 1).get(10, TimeUnit.SECONDS);

            // the pause is sent by a client of its own: CLIENT PAUSE stalls every client's commands
            RedisClient pauser = fleet.client();
            try (StatefulRedisConnection<String, String> c = pauser.connect()) {
                assertThat(c.sync().clientPause(2500)).isEqualTo("OK");
                long t0 = System.nanoTime();
                Future<RedisPermit> timed = s.acquire(loop, 1, 1500, TimeUnit.MILLISECONDS);
                Future<RedisPermit> nowOrNever = s.acquire(loop, 1, 0, TimeUnit.MILLISECONDS);
                // the loop stays free while calls are stuck in the paused server
                long lag = loop.submit(System::nanoTime).get(2, TimeUnit.SECONDS) - t0;
                assertThat(TimeUnit.NANOSECONDS.toMillis(lag)).as("loop lag").isLessThan(1000);
                // no reply within the command timeout (300 ms): Redis cannot decide, the wait fails
                // then, well before its own 1.5 s, and says why
                assertThat(timed.await(3, TimeUnit.SECONDS)).isTrue();
                assertThat(timed.cause()).isInstanceOf(RedisUnavailableException.class)
                        .hasMessageContaining("no reply within 300 ms")
                        .hasMessageContaining("(server slow, paused or unreachable)");   // the connection is open
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
                        .as("failed by the command timeout, not its own nor at the end of the pause").isLessThan(1400);
                assertThat(nowOrNever.await(3, TimeUnit.SECONDS)).isTrue();
                assertThat(nowOrNever.cause()).isInstanceOfAny(RedisUnavailableException.class, WaitTimeoutException.class);
            }
            // after the pause, every lease taken by a call that timed out is released by id
            held.release();
            assertThat(held.lease().await(10, TimeUnit.SECONDS)).isTrue();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (fleet.used(s) != 0 && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertThat(fleet.used(s)).isZero();
            RedisPermit both = s.acquire(loop, 2, 5, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
            both.release();
        }
    }

    /**
     * The head's attempt that gets no reply within the command timeout (held by
     * {@code CLIENT PAUSE WRITE}) may still run later and take a lease: its lease is released by
     * id behind it, so the permit is not held by nobody until the lease expires (30 s here). The
     * server runs the held attempt after the pause, when the permit taken elsewhere has expired:
     * it grants, and the release sent after it gives the permit back.
     */
    @Test
    void aHeadsAttemptWithoutAReplyHasItsLeaseReleasedBehindIt(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 1)) {
            RedisLimiters limiters = fleet.limiters(Duration.ofMillis(200), Duration.ofMillis(300));
            RedisSemaphore s = limiters.semaphore("head-noreply-" + System.nanoTime(), 1, Duration.ofSeconds(30));
            EventLoop loop = fleet.loops.next();
            long takenAt = System.nanoTime();
            fleet.takeAll(s, 1000);                                       // elsewhere, for 1 s, unheard
            Future<RedisPermit> waiting = s.acquire(loop, 1);             // refused: queued, polling every 200 ms
            Poll.assertEventually("queued: 1", Duration.ofSeconds(5), () -> s.statistics().queued() == 1);
            fleet.pauseWrites();
            try {
                Poll.assertEventually("the poll's attempt is held", Duration.ofSeconds(5), () -> fleet.blockedClients() == 1);
                assertThat(waiting.await(5, TimeUnit.SECONDS)).isTrue();
                assertThat(waiting.cause()).isInstanceOf(RedisUnavailableException.class)
                        .hasMessageContaining("no reply within 300 ms");
                long expired = takenAt + TimeUnit.MILLISECONDS.toNanos(1200) - System.nanoTime();
                if (expired > 0) {
                    Thread.sleep(TimeUnit.NANOSECONDS.toMillis(expired) + 1);   // the raw lease has expired
                }
            } finally {
                fleet.unpause();                                          // the held attempt grants, then the release
            }
            Poll.assertEventually("the attempt's lease released by id, not held by nobody for 30 s",
                    Duration.ofSeconds(5), () -> fleet.used(s) == 0 && fleet.leases(s) == 0);
            RedisPermit p = s.acquire(loop, 1, 5, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
            p.release();
        }
    }

    /**
     * An error the server answers (here OOM: {@code maxmemory} reached under the default
     * {@code noeviction}, so the grant's first write is refused) is Redis deciding, not Redis
     * unreachable: a call sent straight to Redis fails with Lettuce's exception as it is, leaves no
     * timer on its executor, holds nothing, and is no longer counted as out, so the next call,
     * once the server has memory again, is served.
     */
    @Test
    void anErrorTheServerAnswersFailsADirectCallAsItIsAndTheNextCallIsServed(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 1)) {
            RedisSemaphore s = fleet.limiters(Duration.ofSeconds(60), Duration.ofSeconds(2))
                    .semaphore("oom-direct-" + System.nanoTime(), 1, Duration.ofSeconds(10));
            TimerLoop caller = new TimerLoop();
            try {
                outOfMemory(fleet.admin(), true);
                Future<RedisPermit> failed = s.acquire(caller, 1, 1, TimeUnit.HOURS);   // nobody queued: straight to Redis
                assertThat(failed.await(5, TimeUnit.SECONDS)).isTrue();
                assertThat(failed.cause()).isInstanceOf(RedisCommandExecutionException.class)
                        .isNotInstanceOf(RedisUnavailableException.class).hasMessageContaining("OOM");
                assertThat(caller.holdsATimer()).as("the wait's timer is gone with it").isFalse();
            } finally {
                outOfMemory(fleet.admin(), false);
                caller.close();
            }
            assertThat(fleet.used(s)).isZero();
            assertThat(s.statistics().inUse()).isZero();
            RedisPermit p = s.acquire(fleet.loops.next(), 1, 5, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
            p.release();
            assertThat(p.lease().get(10, TimeUnit.SECONDS)).isNull();
            assertThat(fleet.used(s)).isZero();
        }
    }

    /**
     * The head's attempt fails with an error the server answered (OOM again): Redis could not
     * grant the waiters queued when it was sent, and they fail with that error as it is; a waiter
     * that arrived while it was out gets an attempt of its own, and the queue is served again
     * once the server is. The attempt is held in the server by {@code CLIENT PAUSE WRITE} while
     * the later waiter arrives.
     */
    @Test
    void anErrorTheServerAnswersTheHeadsAttemptFailsTheWaitersItWasSentForOnly(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 2)) {
            EventLoop loop = fleet.loops.next();
            RedisCommands<String, String> admin = fleet.admin();
            // a minute between polls and leases of a minute: only the calls below ask Redis
            RedisSemaphore s = fleet.limiters(Duration.ofSeconds(60), Duration.ofSeconds(10))
                    .semaphore("oom-head-" + System.nanoTime(), 2, Duration.ofSeconds(10));
            List<String> raw = fleet.takeAll(s, 60_000);
            TimerLoop caller = new TimerLoop();
            try {
                Future<RedisPermit> head = s.acquire(caller, 1, 1, TimeUnit.HOURS);   // refused straight away, then queued
                Poll.assertEventually("queued: 1", Duration.ofSeconds(5), () -> s.statistics().queued() == 1);
                outOfMemory(admin, true);
                fleet.release(s, raw.subList(0, 1), "nobody-listens-here");   // one permit free, unheard of
                fleet.pauseWrites();
                Future<RedisPermit> second = s.acquire(loop, 1);              // queued: the head's attempt goes out
                Poll.assertEventually("the head's attempt is held in the server", Duration.ofSeconds(5),
                        () -> fleet.blockedClients() == 1);
                Future<RedisPermit> later = s.acquire(loop, 2);               // arrives while it is out
                assertThat(s.statistics().queued()).isEqualTo(3);
                fleet.unpause();

                for (Future<RedisPermit> f : List.of(head, second)) {
                    assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
                    assertThat(f.cause()).isInstanceOf(RedisCommandExecutionException.class)
                            .isNotInstanceOf(RedisUnavailableException.class).hasMessageContaining("OOM");
                }
                assertThat(caller.holdsATimer()).as("the failed head's timer is gone").isFalse();
                Thread.sleep(300);          // its own attempt: refused (1 free of the 2 it asks), which writes nothing
                assertThat(later.isDone()).as("the later waiter is asked for, not failed").isFalse();
                assertThat(s.statistics().queued()).isEqualTo(1);

                outOfMemory(admin, false);
                fleet.release(s, raw.subList(1, 2), s.channel());             // heard: the queue asks again
                RedisPermit p = later.get(10, TimeUnit.SECONDS);
                assertThat(fleet.used(s)).isEqualTo(2);
                p.release();
                assertThat(p.lease().get(10, TimeUnit.SECONDS)).isNull();
                assertThat(fleet.used(s)).isZero();
            } finally {
                fleet.unpause();
                outOfMemory(admin, false);
                caller.close();
            }
        }
    }

    /**
     * A server loading its dataset answers {@code LOADING}: Redis cannot decide now, so a call
     * fails as unavailable ({@link RedisUnavailableException}, Lettuce's
     * {@link RedisLoadingException} as its cause), not as an answer of the server; once loaded,
     * it is served. The load is a {@code DEBUG RELOAD} of 100,000 keys slowed to 50 us a key, on a
     * server of the test's own that allows debug commands from local clients.
     */
    @Test
    void aServerLoadingItsDatasetIsUnavailableNotAnAnswer() throws Exception {
        Path dir = Files.createTempDirectory("redis-loading-");
        try (RedisServer loading = RedisServer.start(List.of("--enable-debug-command", "local", "--dir", dir.toString()));
             TestFleet fleet = new TestFleet(loading, 1)) {
            RedisSemaphore s = fleet.limiters(Duration.ofSeconds(60), Duration.ofSeconds(10))
                    .semaphore("loading-" + System.nanoTime(), 1, Duration.ofSeconds(10));
            RedisCommands<String, String> admin = fleet.admin();
            assertThat(admin.configSet("key-load-delay", "50")).isEqualTo("OK");
            assertThat(admin.configSet("loading-process-events-interval-bytes", "1024")).isEqualTo("OK");  // serve clients while loading
            assertThat(debug(admin, "POPULATE", 100_000)).isEqualTo("OK");   // 5 s to load
            RedisCommands<String, String> reloader = fleet.client().connect().sync();   // blocked until loaded
            CompletableFuture<String> reload = CompletableFuture.supplyAsync(() -> debug(reloader, "RELOAD"));
            Poll.assertEventually("the server is loading", Duration.ofSeconds(10),
                    () -> admin.info("persistence").contains("loading:1"));

            Future<RedisPermit> f = s.acquire(fleet.loops.next(), 1);
            assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(f.cause()).isInstanceOf(RedisUnavailableException.class)
                    .hasCauseInstanceOf(RedisLoadingException.class);

            assertThat(reload.get(60, TimeUnit.SECONDS)).isEqualTo("OK");
            RedisPermit p = s.acquire(fleet.loops.next(), 1, 5, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
            p.release();
            assertThat(p.lease().get(10, TimeUnit.SECONDS)).isNull();
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(dir);
        }
    }

    /** {@code DEBUG <args>}: the server must allow it ({@code --enable-debug-command local}). */
    private static String debug(RedisCommands<String, String> admin, Object... args) {
        CommandArgs<String, String> a = new CommandArgs<>(StringCodec.UTF8);
        for (Object arg : args) {
            if (arg instanceof Integer n) {
                a.add(n);
            } else {
                a.add((String) arg);
            }
        }
        return admin.dispatch(CommandType.DEBUG, new StatusOutput<>(StringCodec.UTF8), a);
    }

    /** {@code maxmemory} of 1 byte (every write that grows memory is refused with OOM), or none. */
    private static void outOfMemory(RedisCommands<String, String> admin, boolean on) {
        assertThat(admin.configSet("maxmemory", on ? "1" : "0")).isEqualTo("OK");
    }

}
