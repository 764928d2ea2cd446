package dev.nettysync;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress of {@link AsyncSemaphore#totalPermits()} on a plain semaphore: four threads
 * at once acquire (tryAcquire, and queued acquires, one in four cancelled), give back what was
 * acquired (any thread may give back any holder's permits), release with nothing held for it (the
 * total grows) and {@code reducePermits} (it shrinks), all racing, with the total kept between 1
 * and about 8 so that waiters are both queued and served. While running, {@code brokenInvariant()}
 * (I4 among them: total >= available, exact under the monitor) and every statistics snapshot
 * (held never negative) are checked; at the end, once every holder has given back and the queue
 * is drained, the total is exactly initial + over-releases - reductions and equals the available
 * permits.
 *
 * <p>Size: a tenth of {@code -Dnettysync.stress.ops} (default 10^6) steps in all.
 */
class SemaphoreTotalStressTest {
    private static final long OPS = Long.getLong("nettysync.stress.ops", 1_000_000) / 10;
    private static final int THREADS = 4;
    private static final int INITIAL = 4;
    private static final int MAX_WAITS = 8;          // per thread, not yet completed

    private final AsyncSemaphore sem = new AsyncSemaphore(INITIAL);
    private final ConcurrentLinkedQueue<Integer> held = new ConcurrentLinkedQueue<>();   // permits acquired, not given back
    private final ConcurrentLinkedQueue<Future<Void>> waits = new ConcurrentLinkedQueue<>();
    private final AtomicLong overReleased = new AtomicLong();
    private final AtomicLong reduced = new AtomicLong();
    private final AtomicLong grants = new AtomicLong();
    private final AtomicLong cancels = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    @Test
    void theTotalIsInitialPlusOverReleasesMinusReductionsAtRest() throws Exception {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) {
            Thread t = new Thread(this::run, "total-stress-" + i);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join(120_000);
            assertThat(t.isAlive()).as("%s finished", t.getName()).isFalse();
        }
        assertThat(failure.get()).as("failure seen while running").isNull();

        // Drain: give back every holder's permits; a queue left waiting on a reduced count gets
        // over-releases (counted) until it is served.
        for (;;) {
            Integer n;
            while ((n = held.poll()) != null) {
                sem.release(n);
            }
            if (sem.queueLength() == 0) {
                break;
            }
            overReleased.incrementAndGet();
            sem.release();
        }
        for (Future<Void> w : waits) {
            assertThat(w.isDone()).as("every wait completed: %s", w).isTrue();
        }
        assertThat(held).isEmpty();
        System.out.printf("SemaphoreTotalStressTest: %,d steps, %,d grants from the queue, %,d cancels won,"
                        + " %,d permits over-released, %,d reduced, total %d%n",
                OPS, grants.get(), cancels.get(), overReleased.get(), reduced.get(), sem.totalPermits());

        assertThat(sem.totalPermits()).as("total == initial + over-releases - reductions")
                .isEqualTo(INITIAL + overReleased.get() - reduced.get());
        assertThat(sem.statistics()).as("at rest: nothing held, all of the total available")
                .isEqualTo(new AsyncSemaphore.Statistics((int) (INITIAL + overReleased.get() - reduced.get()),
                        sem.totalPermits(), 0, false));
        assertThat(sem.brokenInvariant()).isNull();
        assertThat(overReleased.get()).as("the test did grow the total").isPositive();
        assertThat(reduced.get()).as("the test did shrink it").isPositive();
        assertThat(grants.get()).as("the test did serve queued waiters").isPositive();
        assertThat(cancels.get()).as("the test did cancel queued waiters").isPositive();
    }

    private void run() {
        try {
            List<Future<Void>> mine = new ArrayList<>();
            for (long i = 0; i < OPS / THREADS && failure.get() == null; i++) {
                mine.removeIf(Future::isDone);
                step(mine);
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    private void step(List<Future<Void>> mine) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        int n = rnd.nextInt(4) == 0 ? 2 : 1;
        int op = rnd.nextInt(100);
        if (op < 20) {
            if (sem.tryAcquire(n)) {
                held.add(n);
            }
        } else if (op < 35) {
            if (mine.size() < MAX_WAITS) {
                Future<Void> w = sem.acquire(ImmediateEventExecutor.INSTANCE, n);
                waits.add(w);
                mine.add(w);
                w.addListener(f -> {
                    if (f.isSuccess()) {
                        grants.incrementAndGet();
                        held.add(n);
                    }
                });
                if (rnd.nextInt(4) == 0 && w.cancel(false)) {
                    cancels.incrementAndGet();
                }
            }
        } else if (op < 65) {
            Integer h = held.poll();
            if (h != null) {
                sem.release(h);
            }
        } else if (op < 75) {
            if (sem.totalPermits() < 8) {             // racy on purpose: several may grow at once
                overReleased.addAndGet(n);
                sem.release(n);
            }
        } else if (op < 85) {
            if (sem.totalPermits() > 1) {
                reduced.addAndGet(n);
                sem.reducePermits(n);
            }
        } else {
            AsyncSemaphore.Statistics s = sem.statistics();
            if (s.held() < 0 || s.total() < s.available()) {
                failure.compareAndSet(null, new AssertionError("statistics " + s));
            }
            String broken = sem.brokenInvariant();
            if (broken != null) {
                failure.compareAndSet(null, new AssertionError(broken + " in " + sem));
            }
        }
    }
}
