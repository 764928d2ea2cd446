package dev.nettysync.limit;

import dev.nettysync.AsyncReadWriteLock;
import dev.nettysync.ClosedException;
import dev.nettysync.WaitTimeoutException;
import io.netty.channel.DefaultEventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link AsyncLimiter#ofRead(AsyncReadWriteLock)} and {@link AsyncLimiter#ofWrite(AsyncReadWriteLock)}. */
class PrimitiveLimiterReadWriteTest {
    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;
    private static DefaultEventLoop loop;

    @BeforeAll
    static void startLoop() {
        loop = new DefaultEventLoop();
    }

    @AfterAll
    static void stopLoop() {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void aReadPermitUnlocksOneReadExactlyOnceHoweverOftenItIsReleased() {
        AsyncReadWriteLock rw = new AsyncReadWriteLock(4);
        AsyncLimiter reads = AsyncLimiter.ofRead(rw);
        Permit a = reads.tryAcquire();
        Permit b = reads.tryAcquire();
        assertThat(rw.readers()).isEqualTo(2);
        assertThat(reads.statistics()).isEqualTo(new LimiterStatistics(4, 2, 2, 0));

        assertThat(a.release()).isTrue();
        assertThat(a.release()).isFalse();
        assertThat(a.releaseDropped()).isFalse();
        a.close();
        assertThat(rw.readers()).as("a second raw unlockRead() would have ended b's read").isEqualTo(1);
        b.releaseIgnored();
        assertThat(rw.readers()).isZero();
        assertThat(reads.statistics()).isEqualTo(new LimiterStatistics(4, 0, 4, 0));
    }

    @Test
    void aWritePermitExcludesEveryoneAndUnlocksExactlyOnce() {
        AsyncReadWriteLock rw = new AsyncReadWriteLock();
        AsyncLimiter reads = AsyncLimiter.ofRead(rw);
        AsyncLimiter writes = AsyncLimiter.ofWrite(rw);
        Permit w = writes.tryAcquire();
        assertThat(rw.isWriteLocked()).isTrue();
        assertThat(writes.tryAcquire()).isNull();
        assertThat(reads.tryAcquire()).isNull();
        assertThat(writes.statistics()).isEqualTo(new LimiterStatistics(1, 1, 0, 0));
        assertThat(reads.statistics().available()).isZero();

        assertThat(w.release()).isTrue();
        assertThat(w.release()).as("a raw second unlockWrite() would throw").isFalse();
        assertThat(rw.isWriteLocked()).isFalse();
        Permit r = reads.tryAcquire();
        assertThat(writes.statistics()).as("a reader holds: no write possible")
                .isEqualTo(new LimiterStatistics(1, 0, 0, 0));
        r.release();
        assertThat(writes.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void aQueuedWriterBlocksLaterReadersThroughTheLimiterView() {
        AsyncReadWriteLock rw = new AsyncReadWriteLock();
        AsyncLimiter reads = AsyncLimiter.ofRead(rw);
        AsyncLimiter writes = AsyncLimiter.ofWrite(rw);
        Permit first = reads.tryAcquire();
        Future<Permit> writer = writes.acquire(NOW);
        assertThat(writer.isDone()).isFalse();

        assertThat(reads.tryAcquire()).as("a queued writer refuses later readers").isNull();
        Future<Permit> later = reads.acquire(NOW);
        assertThat(later.isDone()).as("queued behind the writer").isFalse();
        assertThat(reads.statistics().queued()).isEqualTo(2);

        first.release();
        assertThat(writer.isSuccess()).isTrue();
        assertThat(later.isDone()).isFalse();
        writer.getNow().release();
        assertThat(later.isSuccess()).isTrue();
        assertThat(rw.readers()).isEqualTo(1);
        later.getNow().release();
        assertThat(rw.readers()).isZero();
        assertThat(rw.queueLength()).isZero();
    }

    @Test
    void cancellingAQueuedWriterHoldsNothingAndLetsTheReadersBehindItIn() {
        AsyncReadWriteLock rw = new AsyncReadWriteLock();
        AsyncLimiter reads = AsyncLimiter.ofRead(rw);
        AsyncLimiter writes = AsyncLimiter.ofWrite(rw);
        Permit first = reads.tryAcquire();
        Future<Permit> writer = writes.acquire(NOW);
        Future<Permit> behind = reads.acquire(NOW);

        assertThat(writer.cancel(false)).isTrue();
        assertThat(writer.isCancelled()).isTrue();
        assertThat(behind.isSuccess()).as("the reader behind the gone writer is in at once").isTrue();
        assertThat(rw.readers()).isEqualTo(2);
        assertThat(behind.cancel(false)).as("a grant is final").isFalse();
        first.release();
        behind.getNow().release();
        assertThat(rw.readers()).isZero();
        assertThat(rw.tryWriteLock()).as("nothing was lost or kept").isTrue();
        rw.unlockWrite();
    }

    @Test
    void timeoutsAndCloseFailWithTheLocksExceptionsAndHoldNothing() throws Exception {
        AsyncReadWriteLock rw = new AsyncReadWriteLock();
        AsyncLimiter reads = AsyncLimiter.ofRead(rw);
        AsyncLimiter writes = AsyncLimiter.ofWrite(rw);
        Permit r = reads.tryAcquire();

        Future<Permit> timed = writes.acquire(loop, 20, TimeUnit.MILLISECONDS);
        assertThat(timed.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(timed.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(writes.acquire(NOW, 0, TimeUnit.SECONDS).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(rw.queueLength()).isZero();
        Permit second = reads.acquire(NOW, 0, TimeUnit.SECONDS).getNow();
        assertThat(second).as("the timed-out writer left: readers are not blocked").isNotNull();

        Future<Permit> queued = writes.acquire(NOW);
        rw.close();
        assertThat(queued.cause()).isInstanceOf(ClosedException.class);
        assertThat(reads.acquire(NOW).cause()).isInstanceOf(ClosedException.class);
        r.release();
        second.release();
        assertThat(rw.readers()).isZero();
        assertThat(rw.isWriteLocked()).isFalse();
    }

    @Test
    void theViewsNameTheirLock() {
        AsyncReadWriteLock rw = new AsyncReadWriteLock();
        assertThat(AsyncLimiter.ofRead(rw).toString()).startsWith("AsyncLimiter.ofRead(AsyncReadWriteLock@");
        assertThat(AsyncLimiter.ofWrite(rw).toString()).startsWith("AsyncLimiter.ofWrite(AsyncReadWriteLock@");
    }
}
