package dev.nettysync.adaptive;

import com.netflix.concurrency.limits.limit.AbstractLimit;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress with live resizes: two event loops and two plain threads acquire (plain,
 * timed with timeouts around the hold time, try), cancel random queued waits, and end their
 * permits with release, releaseDropped or releaseIgnored, inline or hopped to another loop,
 * while the algorithm moves the limit between 1 and {@value #MAX_LIMIT} on every sample and a
 * fifth actor moves it by itself. While running it checks that the permits held never exceed
 * {@value #MAX_LIMIT}; at the end that every future completed, nothing is held or queued, and
 * the free permits equal the limit in force (nothing lost or duplicated by any resize, cancel,
 * timeout or ending) — then that the limiter still admits exactly its limit.
 *
 * <p>Size: {@code -Dnettysync.stress.ops=N} operations in all (default 10^6, as in CI).
 */
class AdaptiveLimiterStressTest {
    private static final long OPS = Long.getLong("nettysync.stress.ops", 1_000_000);
    private static final int MAX_LIMIT = 8;
    private static final int MAX_PENDING_PER_ACTOR = 4;

    /** Moves the limit to a random value in [1, MAX_LIMIT] on every sample, as a worst-case algorithm. */
    private static final class ChaosLimit extends AbstractLimit {
        ChaosLimit() {
            super(3);
        }

        @Override
        protected int _update(long startTime, long rtt, int inflight, boolean didDrop) {
            return ThreadLocalRandom.current().nextInt(1, MAX_LIMIT + 1);
        }

        void set(int limit) {
            setLimit(limit);
        }
    }

    private final ChaosLimit algorithm = new ChaosLimit();
    private final AdaptiveLimiter limiter = AdaptiveLimiter.builder().limit(algorithm)
            .minLimit(1).maxLimit(MAX_LIMIT).sampleWindow(Duration.ZERO).build();
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicInteger maxHeld = new AtomicInteger();
    private final AtomicLong unfinished = new AtomicLong();   // futures + deferred endings not done
    private final AtomicLong grants = new AtomicLong();
    private final AtomicLong cancels = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong tries = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicInteger resizes = new AtomicInteger();
    private EventLoop[] loops;

    @Test
    void permitsAreConservedUnderResizesCancelsTimeoutsAndAllThreeEndings() throws Exception {
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        loops = new EventLoop[] {group.next(), group.next()};
        try {
            int actors = 4;
            long perActor = OPS / actors;
            CountDownLatch done = new CountDownLatch(actors);
            long start = System.nanoTime();
            for (int i = 0; i < loops.length; i++) {
                EventLoop loop = loops[i];
                Actor a = new Actor(loop, perActor, done);
                loop.execute(a::slice);
            }
            Thread[] threads = new Thread[actors - loops.length];
            for (int i = 0; i < threads.length; i++) {
                // A plain thread's futures belong to a loop (their listeners and timers run there).
                Actor a = new Actor(loops[i % loops.length], perActor, done);
                threads[i] = new Thread(a::runAll, "stress-thread-" + i);
                threads[i].start();
            }
            Thread resizer = new Thread(() -> {
                while (done.getCount() > 0) {
                    algorithm.set(ThreadLocalRandom.current().nextInt(1, MAX_LIMIT + 1));
                    resizes.incrementAndGet();
                    Thread.yield();
                }
            }, "stress-resizer");
            resizer.start();

            assertThat(done.await(300, SECONDS)).as("actors finished").isTrue();
            resizer.join();
            for (Thread t : threads) {
                t.join();
            }
            long deadline = System.nanoTime() + SECONDS.toNanos(60);
            while (unfinished.get() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            System.out.printf("AdaptiveLimiterStressTest: %,d ops in %,d ms: %,d grants, %,d tries ok, %,d cancels won,"
                            + " %,d timeouts, %,d resizes by the resizer, max held %d of %d%n",
                    actors * perActor, millis, grants.get(), tries.get(), cancels.get(), timeouts.get(),
                    resizes.get(), maxHeld.get(), MAX_LIMIT);

            assertThat(failure.get()).as("failure seen while running").isNull();
            assertThat(unfinished.get()).as("every future completed and every ending ran").isZero();
            assertThat(maxHeld.get()).isLessThanOrEqualTo(MAX_LIMIT);
            assertThat(held.get()).isZero();

            // Conservation, with the limit wherever the last sample or resize left it.
            limiter.tryAcquire().releaseIgnored();          // applies a pending change, samples nothing
            LimiterStatistics s = limiter.statistics();
            assertThat(s.inUse()).isZero();
            assertThat(s.queued()).isZero();
            assertThat(s.available()).as("permits conserved: %s", limiter).isEqualTo(s.limit());
            // And it admits exactly its limit, then the same after one more resize.
            assertAdmitsExactly((int) s.limit());
            algorithm.set(MAX_LIMIT);
            assertThat(limiter.tryAcquire()).isNotNull().satisfies(Permit::releaseIgnored);
            assertAdmitsExactly(MAX_LIMIT);

            assertThat(grants.get()).as("the test did grant through the queue").isPositive();
            assertThat(cancels.get()).as("the test did cancel queued waiters").isPositive();
            assertThat(timeouts.get()).as("the test did time out waiters").isPositive();
        } finally {
            group.shutdownGracefully(0, 1, SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void racingResizesNeverAdmitMoreThanTheLargestLimit() throws Exception {
        // Four threads swing the limit between 1 and MAX_LIMIT and grab what they can at once:
        // if concurrent resizes could land grow, grow before shrink, the semaphore would
        // briefly hold 2 x MAX_LIMIT - 1 permits and the grabs would see it.
        int threads = 4;
        long perThread = Math.max(20_000, OPS / 20);
        CountDownLatch done = new CountDownLatch(threads);
        for (int i = 0; i < threads; i++) {
            new Thread(() -> {
                try {
                    ThreadLocalRandom r = ThreadLocalRandom.current();
                    Permit[] mine = new Permit[MAX_LIMIT];
                    for (long op = 0; op < perThread; op++) {
                        algorithm.set(r.nextBoolean() ? 1 : MAX_LIMIT);
                        int n = 0;
                        Permit p;
                        while (n < mine.length && (p = limiter.tryAcquire()) != null) {
                            mine[n++] = p;
                            int now = held.incrementAndGet();
                            maxHeld.accumulateAndGet(now, Math::max);
                        }
                        for (int k = 0; k < n; k++) {
                            held.decrementAndGet();
                            mine[k].release();   // a sample: the chaos limit moves again
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
            }, "resize-race-" + i).start();
        }
        assertThat(done.await(300, SECONDS)).isTrue();
        System.out.printf("AdaptiveLimiterStressTest (racing resizes): %,d rounds, max held %d of %d%n",
                threads * perThread, maxHeld.get(), MAX_LIMIT);
        assertThat(failure.get()).isNull();
        assertThat(maxHeld.get()).as("permits held at once").isLessThanOrEqualTo(MAX_LIMIT);
        limiter.tryAcquire().releaseIgnored();
        LimiterStatistics s = limiter.statistics();
        assertThat(s.available()).as("permits conserved: %s", limiter).isEqualTo(s.limit());
    }

    private void assertAdmitsExactly(int n) {
        Permit[] ps = new Permit[n];
        for (int i = 0; i < n; i++) {
            ps[i] = limiter.tryAcquire();
            assertThat(ps[i]).as("permit %d of %d", i + 1, n).isNotNull();
        }
        assertThat(limiter.tryAcquire()).as("one more than %d", n).isNull();
        for (Permit p : ps) {
            p.releaseIgnored();
        }
    }

    /** One actor: on an event loop it runs in slices (never blocking it), on a thread in one go. */
    private final class Actor {
        private final EventExecutor executor;
        private long remaining;
        private final CountDownLatch done;
        private final ArrayDeque<Future<Permit>> pending = new ArrayDeque<>();   // this actor's thread only

        Actor(EventExecutor executor, long ops, CountDownLatch done) {
            this.executor = executor;
            this.remaining = ops;
            this.done = done;
        }

        void slice() {
            try {
                for (int i = 0; i < 200 && remaining > 0; i++, remaining--) {
                    step();
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                remaining = 0;
            }
            if (remaining > 0) {
                executor.execute(this::slice);
            } else {
                done.countDown();
            }
        }

        void runAll() {
            try {
                for (; remaining > 0; remaining--) {
                    step();
                    if ((remaining & 63) == 0) {
                        Thread.yield();
                    }
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
            done.countDown();
        }

        private void step() {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            int op = r.nextInt(10);
            if (op < 4 && pending.size() < MAX_PENDING_PER_ACTOR) {
                Future<Permit> f = op < 2
                        ? limiter.acquire(executor)
                        : limiter.acquire(executor, r.nextLong(1, 200), TimeUnit.MICROSECONDS);
                track(f);
                pending.add(f);
            } else if (op < 6) {
                Permit p = limiter.tryAcquire();
                if (p != null) {
                    tries.incrementAndGet();
                    holding(p);
                }
            } else if (op < 8) {
                Future<Permit> f = pending.poll();
                if (f != null && f.cancel(false)) {
                    cancels.incrementAndGet();
                    assertThat(f.isCancelled()).as("cancel returned true").isTrue();
                }
            } else {
                pending.removeIf(Future::isDone);
            }
        }

        private void track(Future<Permit> f) {
            unfinished.incrementAndGet();
            f.addListener(x -> {
                try {
                    if (f.isSuccess()) {
                        grants.incrementAndGet();
                        holding(f.getNow());
                    } else if (f.cause() instanceof WaitTimeoutException) {
                        timeouts.incrementAndGet();
                    } else if (!f.isCancelled()) {
                        failure.compareAndSet(null, f.cause());
                    }
                } finally {
                    unfinished.decrementAndGet();
                }
            });
        }

        private void holding(Permit p) {
            int now = held.incrementAndGet();
            maxHeld.accumulateAndGet(now, Math::max);
            if (now > MAX_LIMIT) {
                failure.compareAndSet(null, new AssertionError(now + " permits held, max limit " + MAX_LIMIT));
            }
            ThreadLocalRandom r = ThreadLocalRandom.current();
            if (r.nextBoolean()) {
                end(p, r.nextInt(3));
            } else {
                unfinished.incrementAndGet();
                int how = r.nextInt(3);
                loops[r.nextInt(loops.length)].execute(() -> {
                    try {
                        end(p, how);
                    } finally {
                        unfinished.decrementAndGet();
                    }
                });
            }
        }

        private void end(Permit p, int how) {
            held.decrementAndGet();          // before the permit goes back, so maxHeld never over-counts
            boolean ended = switch (how) {
                case 0 -> p.release();
                case 1 -> p.releaseDropped();
                default -> p.releaseIgnored();
            };
            if (!ended) {
                failure.compareAndSet(null, new AssertionError("a permit ended twice: " + p));
            }
        }
    }
}
