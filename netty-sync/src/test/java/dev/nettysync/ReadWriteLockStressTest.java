package dev.nettysync;

import dev.nettysync.testing.StressRun;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress for {@link AsyncReadWriteLock}: two event loops and two plain threads take
 * read and write locks (waiting, timed, try), cancel random pending requests, downgrade some
 * writes, and unlock inline or from another loop. Checked at every grant: a writer never
 * overlaps anyone, readers never exceed {@code maxReaders}; at the end: every future completed,
 * nobody holds, the queue is empty and both kinds of lock can be taken again.
 */
class ReadWriteLockStressTest {
    private static final long OPS = Long.getLong("nettysync.stress.ops", 1_000_000) / 2;
    private static final int MAX_READERS = 3;
    private static final int MAX_PENDING_PER_ACTOR = 4;

    @RegisterExtension final StressRun run = new StressRun();

    private final AsyncReadWriteLock lock = new AsyncReadWriteLock(MAX_READERS, Integer.MAX_VALUE);
    private final AtomicInteger readers = new AtomicInteger();
    private final AtomicInteger writers = new AtomicInteger();
    private final AtomicInteger maxReaders = new AtomicInteger();
    private final AtomicLong readGrants = new AtomicLong();
    private final AtomicLong writeGrants = new AtomicLong();
    private final AtomicLong downgrades = new AtomicLong();
    private final AtomicLong cancels = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();

    @Test
    void writersNeverOverlapAnyoneAndReadersStayWithinTheBound() throws Exception {
        run.actors(OPS, Actor::new);
        run.awaitUnfinished(Duration.ofSeconds(60), () -> { });
        System.out.printf("ReadWriteLockStressTest: %,d ops in %,d ms: %,d read grants, %,d write grants,"
                        + " %,d downgrades, %,d cancels won, %,d timeouts, max readers %d of %d%n",
                run.actorOps(OPS), run.elapsedMillis(), readGrants.get(), writeGrants.get(), downgrades.get(),
                cancels.get(), timeouts.get(), maxReaders.get(), MAX_READERS);

        run.assertNoFailure();
        assertThat(run.unfinished()).as("every future completed and every unlock ran").isZero();
        assertThat(readers.get()).isZero();
        assertThat(writers.get()).isZero();
        assertThat(lock.queueLength()).isZero();
        assertThat(lock.isWriteLocked()).isFalse();
        assertThat(lock.readers()).isZero();
        assertThat(lock.tryWriteLock()).as("nothing is held any more").isTrue();
        lock.unlockWrite();
        assertThat(writeGrants.get()).isPositive();
        assertThat(readGrants.get()).isPositive();
        assertThat(cancels.get()).isPositive();
        assertThat(timeouts.get()).isPositive();
        assertThat(downgrades.get()).isPositive();
    }

    private final class Actor extends StressRun.Actor {
        private final List<Future<Void>> pending = new ArrayList<>();   // confined to this actor

        @Override
        protected void step() {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            boolean write = rnd.nextInt(4) == 0;
            int op = rnd.nextInt(100);
            pending.removeIf(Future::isDone);
            if (pending.size() >= MAX_PENDING_PER_ACTOR && op < 50) {
                backOff();
            } else if (op < 30) {
                track(write ? lock.writeLock(run.randomLoop()) : lock.readLock(run.randomLoop()), write);
            } else if (op < 50) {
                int micros = rnd.nextInt(300);
                track(write ? lock.writeLock(run.randomLoop(), micros, TimeUnit.MICROSECONDS)
                        : lock.readLock(run.randomLoop(), micros, TimeUnit.MICROSECONDS), write);
            } else if (op < 70) {
                if (write ? lock.tryWriteLock() : lock.tryReadLock()) {
                    hold(write);
                }
            } else if (op < 85) {
                if (!pending.isEmpty() && pending.remove(rnd.nextInt(pending.size())).cancel(false)) {
                    cancels.incrementAndGet();
                }
            } else {
                int r = lock.readers();
                if (r < 0 || r > MAX_READERS) {
                    run.fail("readers() = " + r);
                }
            }
        }

        private void track(Future<Void> f, boolean write) {
            run.begin();
            pending.add(f);
            f.addListener(x -> {
                if (x.isSuccess()) {
                    hold(write);
                } else if (x.cause() instanceof WaitTimeoutException) {
                    timeouts.incrementAndGet();
                } else if (!x.isCancelled()) {
                    run.fail(x.cause());
                }
                run.end();
            });
        }
    }

    private void hold(boolean write) {
        if (write) {
            writeGrants.incrementAndGet();
            if (writers.incrementAndGet() != 1 || readers.get() != 0) {
                run.fail("writer overlaps: writers " + writers.get() + ", readers " + readers.get());
            }
        } else {
            readGrants.incrementAndGet();
            int now = readers.incrementAndGet();
            maxReaders.accumulateAndGet(now, Math::max);
            if (now > MAX_READERS || writers.get() != 0) {
                run.fail("reader overlaps: readers " + now + ", writers " + writers.get());
            }
        }
        Runnable end = () -> {
            if (!write) {
                readers.decrementAndGet();
                lock.unlockRead();
            } else if (ThreadLocalRandom.current().nextInt(4) == 0) {
                downgrades.incrementAndGet();
                readers.incrementAndGet();        // counted as a reader before the writer leaves
                writers.decrementAndGet();
                lock.downgrade();
                readers.decrementAndGet();
                lock.unlockRead();
            } else {
                writers.decrementAndGet();
                lock.unlockWrite();
            }
        };
        if (ThreadLocalRandom.current().nextBoolean()) {
            end.run();
        } else {
            run.begin();
            run.randomLoop().execute(() -> {
                end.run();
                run.end();
            });
        }
    }
}
