package dev.nettysync.limit;

import dev.nettysync.AsyncReadWriteLock;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress of the read and write views of one {@link AsyncReadWriteLock}: two event
 * loops take read and write permits (waiting, timed, {@code tryAcquire}), cancel random waits,
 * hold what they get for a random while and end it with a random outcome, some twice. Each
 * holder checks on entry that no writer overlaps a reader or another writer. At the end every
 * wait has completed, every permit granted has ended exactly once (each view's in-use count is
 * back to zero), the lock is free with nobody queued, and a write lock can be taken at once: no
 * read or write was lost or given back twice.
 *
 * <p>Size: a tenth of {@code -Dnettysync.stress.ops} (default 10^6).
 */
class PrimitiveLimiterReadWriteStressTest {
    private static final long OPS = Long.getLong("nettysync.stress.ops", 1_000_000) / 10;

    private static final int MAX_OUTSTANDING = 16;

    private final List<EventLoop> loops = List.of(new DefaultEventLoop(), new DefaultEventLoop());
    private final AsyncReadWriteLock rw = new AsyncReadWriteLock(3, 32);
    private final PrimitiveLimiter reads = (PrimitiveLimiter) AsyncLimiter.ofRead(rw);
    private final PrimitiveLimiter writes = (PrimitiveLimiter) AsyncLimiter.ofWrite(rw);

    private final AtomicInteger readersIn = new AtomicInteger();
    private final AtomicInteger writersIn = new AtomicInteger();
    private final AtomicLong readGrants = new AtomicLong();
    private final AtomicLong writeGrants = new AtomicLong();
    private final AtomicLong cancelsWon = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final ConcurrentLinkedQueue<Future<Permit>> waits = new ConcurrentLinkedQueue<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicInteger outstanding = new AtomicInteger();   // waits pending + permits held: paces the loops

    @AfterEach
    void shutdown() {
        for (EventLoop l : loops) {
            l.shutdownGracefully(0, 1, SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void aWriterNeverOverlapsAReaderAndEveryPermitComesBackOnce() throws Exception {
        CountDownLatch done = new CountDownLatch(loops.size());
        for (EventLoop loop : loops) {
            AtomicLong left = new AtomicLong(OPS / loops.size());
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
                    if (left.get() > 0) {
                        loop.execute(this);
                    } else {
                        done.countDown();
                    }
                }
            });
        }
        assertThat(done.await(120, SECONDS)).as("both loops finished their operations").isTrue();
        for (Future<Permit> w : waits) {
            assertThat(w.await(10, SECONDS)).as("every wait completes (granted, cancelled, timed out)").isTrue();
        }
        long deadline = System.nanoTime() + SECONDS.toNanos(10);
        while ((reads.inUse() > 0 || writes.inUse() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(10);                             // the last holds end
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertThat(reads.inUse()).as("read permits not ended").isZero();
        assertThat(writes.inUse()).as("write permits not ended").isZero();
        assertThat(rw.readers()).isZero();
        assertThat(rw.isWriteLocked()).isFalse();
        assertThat(rw.queueLength()).isZero();
        assertThat(rw.tryWriteLock()).as("every read and write came back: the lock is whole").isTrue();
        rw.unlockWrite();
        assertThat(readGrants.get()).isPositive();
        assertThat(writeGrants.get()).isPositive();
        assertThat(cancelsWon.get()).isPositive();
        System.out.printf("read-write limiter stress: %,d ops: %,d reads, %,d writes, %,d cancels won, %,d refused or timed out%n",
                OPS, readGrants.get(), writeGrants.get(), cancelsWon.get(), refused.get());
    }

    private void step(EventLoop loop) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        boolean write = rnd.nextInt(4) == 0;
        AsyncLimiter view = write ? writes : reads;
        switch (rnd.nextInt(3)) {
            case 0 -> {
                Permit p = view.tryAcquire();
                if (p == null) {
                    refused.incrementAndGet();
                } else {
                    outstanding.incrementAndGet();
                    hold(loop, p, write);
                }
            }
            case 1 -> track(loop, view.acquire(loop), write);
            default -> track(loop, view.acquire(loop, rnd.nextInt(200), TimeUnit.MICROSECONDS), write);
        }
    }

    private void track(EventLoop loop, Future<Permit> wait, boolean write) {
        waits.add(wait);
        outstanding.incrementAndGet();
        wait.addListener(f -> {
            if (f.isSuccess()) {
                hold(loop, (Permit) f.getNow(), write);
            } else {
                outstanding.decrementAndGet();
            }
            if (!f.isSuccess() && !f.isCancelled()) {
                refused.incrementAndGet();                // timed out or queue full
            }
        });
        if (ThreadLocalRandom.current().nextInt(4) == 0 && wait.cancel(false)) {
            cancelsWon.incrementAndGet();
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
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        loop.schedule(() -> {
            (write ? writersIn : readersIn).decrementAndGet();   // leave before giving back
            switch (rnd.nextInt(3)) {
                case 0 -> p.release();
                case 1 -> p.releaseDropped();
                default -> p.releaseIgnored();
            }
            outstanding.decrementAndGet();
            if (rnd.nextInt(8) == 0 && p.release()) {
                failure.compareAndSet(null, new AssertionError("a permit ended twice: " + p));
            }
        }, rnd.nextInt(100), TimeUnit.MICROSECONDS);
    }
}
