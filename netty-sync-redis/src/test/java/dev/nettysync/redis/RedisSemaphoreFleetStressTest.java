package dev.nettysync.redis;

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
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fleet invariant under random use: three replicas (each its own Lettuce client and
 * {@link RedisLimiters}) share one semaphore from several event loops, with random acquire,
 * multi-permit acquire, cancel, timeout, now-or-never and release. At every sample the permits
 * held fleet-wide (counted by the holders themselves, and by Redis) are at most N; at the end
 * every permit is back.
 */
@ExtendWith(RedisServerExtension.class)
class RedisSemaphoreFleetStressTest {

    private static final int N = 4;
    private static final long RUN_MILLIS = Long.getLong("nettysync.redis.stress.millis", 8_000);

    @Test
    void holdersNeverExceedTheLimitAndEveryPermitComesBack(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 4)) {
            String name = "stress-" + System.nanoTime();
            List<RedisSemaphore> replicas = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                replicas.add(fleet.limiters().semaphore(name, N, Duration.ofSeconds(5)));
            }
            AtomicInteger held = new AtomicInteger();           // permits held, fleet-wide
            AtomicInteger maxHeld = new AtomicInteger();
            Queue<String> failures = new ConcurrentLinkedQueue<>();
            LongAdder grants = new LongAdder();
            LongAdder cancels = new LongAdder();
            LongAdder timeouts = new LongAdder();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RUN_MILLIS);
            List<Actor> actors = new ArrayList<>();
            for (RedisSemaphore s : replicas) {
                for (int l = 0; l < 4; l++) {
                    actors.add(new Actor(s, fleet.loops.next(), deadline, held, maxHeld, failures, grants, cancels, timeouts));
                }
            }
            actors.forEach(Actor::next);

            long samples = 0;
            long maxUsed = 0;
            while (System.nanoTime() < deadline) {
                int h = held.get();
                assertThat(h).as("holders at a sample").isBetween(0, N);
                if (samples++ % 20 == 0) {
                    String used = fleet.admin().get(replicas.get(0).keys()[2]);
                    long u = used == null ? 0 : Long.parseLong(used);
                    maxUsed = Math.max(maxUsed, u);
                    assertThat(u).as("permits in use per Redis").isBetween(0L, (long) N);
                }
                Thread.sleep(2);
            }
            for (Actor a : actors) {
                assertThat(a.done.await(30, TimeUnit.SECONDS)).as("actor finished").isTrue();
            }
            assertThat(failures).as("failures").isEmpty();
            assertThat(maxHeld.get()).isLessThanOrEqualTo(N);
            assertThat(held.get()).isZero();
            assertThat(grants.sum()).as("grants").isGreaterThan(50);
            assertThat(cancels.sum()).as("cancels").isGreaterThan(0);
            assertThat(timeouts.sum()).as("timeouts").isGreaterThan(0);

            // every permit is back, by release, not by expiry: a grant that met a cancel or a
            // timeout is released by id at once, well within the 5 s lease
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (fleet.used(replicas.get(0)) != 0 && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertThat(fleet.used(replicas.get(0))).as("permits in use at the end").isZero();
            assertThat(fleet.leases(replicas.get(0))).isZero();
            RedisPermit all = replicas.get(1).acquire(fleet.loops.next(), N, 0, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
            all.release();
            for (RedisSemaphore s : replicas) {
                assertThat(s.statistics().inUse()).isZero();
                assertThat(s.statistics().queued()).isZero();
            }
            System.out.printf("fleet stress: %d grants, %d cancels, %d timeouts, max held %d, max used %d, %d samples%n",
                    grants.sum(), cancels.sum(), timeouts.sum(), maxHeld.get(), maxUsed, samples);
        }
    }

    /** One replica's event loop doing random operations until the deadline, one at a time. */
    private static final class Actor {
        final RedisSemaphore s;
        final EventLoop loop;
        final long deadline;
        final AtomicInteger held;
        final AtomicInteger maxHeld;
        final Queue<String> failures;
        final LongAdder grants;
        final LongAdder cancels;
        final LongAdder timeouts;
        final CountDownLatch done = new CountDownLatch(1);

        Actor(RedisSemaphore s, EventLoop loop, long deadline, AtomicInteger held, AtomicInteger maxHeld,
              Queue<String> failures, LongAdder grants, LongAdder cancels, LongAdder timeouts) {
            this.s = s;
            this.loop = loop;
            this.deadline = deadline;
            this.held = held;
            this.maxHeld = maxHeld;
            this.failures = failures;
            this.grants = grants;
            this.cancels = cancels;
            this.timeouts = timeouts;
        }

        void next() {
            loop.execute(this::step);
        }

        private void step() {
            if (System.nanoTime() > deadline) {
                done.countDown();
                return;
            }
            ThreadLocalRandom r = ThreadLocalRandom.current();
            int permits = r.nextInt(10) == 0 ? 2 : 1;
            int op = r.nextInt(4);
            Future<RedisPermit> f;
            if (op == 0) {
                f = s.acquire(loop, permits);
                loop.schedule(() -> {
                    if (f.cancel(false)) {
                        cancels.increment();
                    }
                }, r.nextInt(1, 30), TimeUnit.MILLISECONDS);
            } else if (op == 1) {
                f = s.acquire(loop, permits, r.nextInt(1, 40), TimeUnit.MILLISECONDS);
            } else if (op == 2) {
                f = s.acquire(loop, permits, 0, TimeUnit.MILLISECONDS);
            } else {
                f = s.acquire(loop, permits);
            }
            f.addListener(done -> {
                if (!loop.inEventLoop()) {
                    failures.add("completion off its executor: " + Thread.currentThread().getName());
                }
                if (done.isSuccess()) {
                    RedisPermit p = (RedisPermit) done.getNow();
                    grants.increment();
                    int h = held.addAndGet(p.permits());
                    maxHeld.accumulateAndGet(h, Math::max);
                    if (h > N) {
                        failures.add("held " + h + " > " + N);
                    }
                    p.lease().addListener(l -> {
                        if (!l.isSuccess()) {
                            failures.add("lease ended badly: " + l.cause());
                        }
                    });
                    loop.schedule(() -> {
                        held.addAndGet(-p.permits());
                        p.release();
                        next();
                    }, r.nextInt(0, 5), TimeUnit.MILLISECONDS);
                } else {
                    if (done.cause() instanceof dev.nettysync.WaitTimeoutException) {
                        timeouts.increment();
                    } else if (!done.isCancelled()) {
                        failures.add("unexpected failure: " + done.cause());
                    }
                    next();
                }
            });
        }
    }
}
