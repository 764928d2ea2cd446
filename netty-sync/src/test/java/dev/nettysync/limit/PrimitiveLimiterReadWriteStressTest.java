package dev.nettysync.limit;

import dev.nettysync.AsyncReadWriteLock;
import io.netty.channel.EventLoop;
import org.junit.jupiter.api.Test;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress of the read and write views of one {@link AsyncReadWriteLock}: two event
 * loops take read and write permits (waiting, timed, {@code tryAcquire}), cancel random waits,
 * hold what they get for a random while and end it with a random outcome, some twice (see
 * {@link LimiterStress}). Each holder checks on entry that no writer overlaps a reader or another
 * writer. At the end every wait has completed, every permit granted has ended exactly once (the
 * lock has no reader and no writer left, both views report nothing in use, and an end refused or
 * repeated is a failure), nobody is queued, and a write lock can be taken at once: no read or
 * write was lost or given back twice.
 */
class PrimitiveLimiterReadWriteStressTest extends LimiterStress {
    private final AsyncReadWriteLock rw = new AsyncReadWriteLock(3, 32);
    private final AsyncLimiter reads = AsyncLimiter.ofRead(rw);
    private final AsyncLimiter writes = AsyncLimiter.ofWrite(rw);

    private final AtomicInteger readersIn = new AtomicInteger();
    private final AtomicInteger writersIn = new AtomicInteger();
    private final AtomicLong readGrants = new AtomicLong();
    private final AtomicLong writeGrants = new AtomicLong();

    @Test
    void aWriterNeverOverlapsAReaderAndEveryPermitComesBackOnce() throws Exception {
        runAndSettle(() -> rw.readers() == 0 && !rw.isWriteLocked());
        assertThat(rw.readers()).as("read permits not ended").isZero();
        assertThat(rw.isWriteLocked()).as("a write permit not ended").isFalse();
        assertThat(reads.statistics().inUse()).isZero();
        assertThat(writes.statistics().inUse()).isZero();
        assertThat(rw.queueLength()).isZero();
        assertThat(rw.tryWriteLock()).as("every read and write came back: the lock is whole").isTrue();
        rw.unlockWrite();
        assertThat(readGrants.get()).isPositive();
        assertThat(writeGrants.get()).isPositive();
        assertThat(cancelsWon.get()).isPositive();
        System.out.printf("read-write limiter stress: %,d ops: %,d reads, %,d writes, %,d cancels won, %,d refused or timed out%n",
                OPS, readGrants.get(), writeGrants.get(), cancelsWon.get(), refused.get());
    }

    @Override
    void step(EventLoop loop) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        boolean write = rnd.nextInt(4) == 0;
        AsyncLimiter view = write ? writes : reads;
        switch (rnd.nextInt(3)) {
            case 0 -> took(view.tryAcquire(), p -> hold(loop, p, write));
            case 1 -> track(view.acquire(loop), p -> hold(loop, p, write));
            default -> track(view.acquire(loop, rnd.nextInt(200), TimeUnit.MICROSECONDS), p -> hold(loop, p, write));
        }
    }

    private void hold(EventLoop loop, Permit p, boolean write) {
        if (write) {
            writeGrants.incrementAndGet();
            int w = writersIn.incrementAndGet();
            int r = readersIn.get();
            if (w != 1 || r != 0) {
                failure.compareAndSet(null, new AssertionError("a writer entered with " + (w - 1) + " writer(s) and " + r + " reader(s)"));
            }
        } else {
            readGrants.incrementAndGet();
            int r = readersIn.incrementAndGet();
            int w = writersIn.get();
            if (w != 0 || r > rw.maxReaders()) {
                failure.compareAndSet(null, new AssertionError("a reader entered with " + w + " writer(s) and " + (r - 1) + " reader(s)"));
            }
        }
        endLater(loop, p, () -> (write ? writersIn : readersIn).decrementAndGet(), () -> { });
    }
}
