package dev.nettysync.limit;

import dev.nettysync.testing.StressRun;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The driver of the randomized limiter stress tests: two event loops run a test's random
 * {@link #step} {@link #OPS} times in all, with at most {@value #MAX_OUTSTANDING} waits and holds
 * in flight (so that waits are granted, cancelled and timed out, not only refused by full
 * queues); waits are followed and one in four cancelled; permits are held for a random while and
 * ended with a random outcome, one in eight twice (the second must be refused).
 *
 * <p>Size: a tenth of {@code -Dnettysync.stress.ops} (default 10^6).
 */
abstract class LimiterStress {
    static final long OPS = Long.getLong("nettysync.stress.ops", 1_000_000) / 10;
    private static final int MAX_OUTSTANDING = 16;

    final List<EventLoop> loops = List.of(new DefaultEventLoop(), new DefaultEventLoop());
    final AtomicLong cancelsWon = new AtomicLong();
    final AtomicLong refused = new AtomicLong();            // tryAcquire refused, timed out, queue full
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicInteger outstanding = new AtomicInteger();   // waits pending + permits held
    private final ConcurrentLinkedQueue<Future<Permit>> waits = new ConcurrentLinkedQueue<>();

    @AfterEach
    void shutdownLoops() {
        for (EventLoop l : loops) {
            l.shutdownGracefully(0, 1, SECONDS).syncUninterruptibly();
        }
    }

    /** One random operation, on {@code loop}. */
    abstract void step(EventLoop loop);

    /**
     * Runs the steps, waits for every wait to complete and then for {@code settled} (the last
     * holds end), and throws the first failure a step or a holder recorded.
     */
    final void runAndSettle(BooleanSupplier settled) throws Exception {
        CountDownLatch done = new CountDownLatch(loops.size());
        List<AtomicLong> lefts = new ArrayList<>();
        for (EventLoop loop : loops) {
            AtomicLong left = new AtomicLong(OPS / loops.size());
            lefts.add(left);
            loop.execute(new Runnable() {
                @Override
                public void run() {
                    try {
                        for (int i = 0; i < 32 && outstanding.get() < MAX_OUTSTANDING && left.decrementAndGet() >= 0; i++) {
                            step(loop);
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                    if (left.get() > 0 && !loop.isShuttingDown()) {
                        // Not once the test gave up (a lost permit leaves steps waiting for room
                        // for ever): a task re-submitting itself would keep the loop from ever
                        // terminating, and the shutdown after the test would hang, not fail.
                        loop.execute(this);
                    } else {
                        done.countDown();
                    }
                }
            });
        }
        // A lost permit stops every step for ever (no room); 500,000 operations took 110 s at load
        // 40 on two cores, and more than 120 s on JDK 25, so no fixed bound.
        StressRun.awaitWhileProgressing(done, () -> lefts.stream().mapToLong(l -> Math.max(0, l.get())).sum(),
                left -> "both loops finished their operations, or ran one in the last 30 s (" + left + " left, "
                        + outstanding.get() + " waits and holds outstanding of at most " + MAX_OUTSTANDING + ")");
        long deadline = System.nanoTime() + SECONDS.toNanos(10);   // one deadline for all: a lost permit fails fast
        for (Future<Permit> w : waits) {
            assertThat(w.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS))
                    .as("every wait completes (granted, cancelled, timed out): %s", w).isTrue();
        }
        while (!settled.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }

    /** A {@code tryAcquire} result: held through {@code onGrant}, or counted as refused. */
    final void took(Permit p, Consumer<Permit> onGrant) {
        if (p == null) {
            refused.incrementAndGet();
        } else {
            outstanding.incrementAndGet();
            onGrant.accept(p);
        }
    }

    /** Follows a wait: a grant goes to {@code onGrant}; one wait in four is cancelled at once. */
    final void track(Future<Permit> wait, Consumer<Permit> onGrant) {
        waits.add(wait);
        outstanding.incrementAndGet();
        wait.addListener(f -> {
            if (f.isSuccess()) {
                onGrant.accept((Permit) f.getNow());
                return;
            }
            outstanding.decrementAndGet();
            if (!f.isCancelled()) {
                refused.incrementAndGet();
            }
        });
        if (ThreadLocalRandom.current().nextInt(4) == 0 && wait.cancel(false)) {
            cancelsWon.incrementAndGet();
        }
    }

    /**
     * Ends {@code p} on {@code loop} after a random while: runs {@code leave} first (the holder
     * leaves before giving back), then a random release method, and {@code ended} if it ended it.
     */
    final void endLater(EventLoop loop, Permit p, Runnable leave, Runnable ended) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        loop.schedule(() -> {
            leave.run();
            boolean first = switch (rnd.nextInt(3)) {
                case 0 -> p.release();
                case 1 -> p.releaseDropped();
                default -> p.releaseIgnored();
            };
            if (first) {
                ended.run();
            } else {
                failure.compareAndSet(null, new AssertionError("the first end of " + p + " was refused"));
            }
            outstanding.decrementAndGet();
            if (rnd.nextInt(8) == 0 && p.release()) {
                failure.compareAndSet(null, new AssertionError("a permit ended twice: " + p));
            }
        }, rnd.nextInt(100), TimeUnit.MICROSECONDS);
    }
}
