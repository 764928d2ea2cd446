package dev.nettysync.redis;

import dev.nettysync.WaitTimeoutException;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;

/** The server misbehaves: scripts flushed mid-run, clients paused. Nothing is lost, no loop blocks. */
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
                        .hasMessageContaining("no reply within 300 ms");
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
}
