package dev.nettysync.limit;

import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncReadWriteLock;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.testing.ClassEventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link AsyncLimiter#of(AsyncSemaphore)}, {@link AsyncLimiter#of(AsyncLock)} and the read and write
 * views of an {@link AsyncReadWriteLock}: the primitives as limiters.
 */
class PrimitiveLimiterTest {
    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;
    @RegisterExtension
    static final ClassEventLoop loop = new ClassEventLoop();

    @Test
    void aPrimitivesViewPassesTheGrantOfAWaiterWhoseExecutorShutDownOn() {
        dev.nettysync.AsyncSemaphore sem = new dev.nettysync.AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        Permit held = limiter.tryAcquire();
        assertThat(held).isNotNull();
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        io.netty.util.concurrent.Future<Permit> dead = limiter.acquire(dying);
        io.netty.util.concurrent.Future<Permit> next = limiter.acquire(io.netty.util.concurrent.ImmediateEventExecutor.INSTANCE);
        dying.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        held.release();
        assertThat(next.isSuccess()).as("the permit went on to the next waiter").isTrue();
        assertThat(dead.isSuccess()).as("nothing granted to the dead waiter").isFalse();
        assertThat(limiter.statistics().inUse()).isEqualTo(1);
        next.getNow().release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void aGrantToAWaitCompletedBehindTheLimitersBackIsGivenBack() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        Permit held = limiter.tryAcquire();
        Future<Permit> wait = limiter.acquire(NOW);
        assertThat(((io.netty.util.concurrent.Promise<Permit>) wait).tryFailure(new IllegalStateException("a caller who cast it")))
                .isTrue();
        held.release();                                  // the semaphore grants the queued raw wait
        assertThat(wait.cause()).hasMessage("a caller who cast it");
        assertThat(sem.availablePermits()).as("the permit nobody can hold went back").isEqualTo(1);
        assertThat(limiter.statistics().inUse()).isZero();
    }

    @Test
    void aPermitGivesBackExactlyOneSemaphorePermitHoweverOftenItIsReleased() {
        AsyncSemaphore sem = new AsyncSemaphore(2);
        AsyncLimiter limiter = AsyncLimiter.of(sem);

        Permit p = limiter.tryAcquire();
        assertThat(p).isNotNull();
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(2, 1, 1, 0));

        assertThat(p.release()).isTrue();
        assertThat(p.release()).isFalse();
        assertThat(p.releaseDropped()).isFalse();
        assertThat(p.releaseIgnored()).isFalse();
        p.close();
        assertThat(p.isReleased()).isTrue();
        assertThat(sem.availablePermits()).as("a double release cannot inflate the limit").isEqualTo(2);
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(2, 0, 2, 0));

        assertThat(limiter.tryAcquire().releaseDropped()).isTrue();
        assertThat(limiter.tryAcquire().releaseIgnored()).isTrue();
        assertThat(sem.availablePermits()).as("every ending gives the permit back").isEqualTo(2);
    }

    @Test
    void aSemaphoreAtItsMaximumIsUnlimited() {
        AsyncLimiter limiter = AsyncLimiter.of(new AsyncSemaphore(Integer.MAX_VALUE));
        Permit p = limiter.tryAcquire();
        assertThat(limiter.statistics()).isEqualTo(
                new LimiterStatistics(LimiterStatistics.UNLIMITED, 1, LimiterStatistics.UNLIMITED, 0));
        assertThat(limiter.statistics().unlimited()).isTrue();
        p.release();
    }

    @Test
    void aSemaphoreViewCountsEveryHolderRawOrThroughAnyView() {
        AsyncSemaphore sem = new AsyncSemaphore(3);
        AsyncLimiter view = AsyncLimiter.of(sem);
        AsyncLimiter other = AsyncLimiter.of(sem);
        assertThat(sem.tryAcquire()).as("raw holder").isTrue();
        Permit p = view.tryAcquire();
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(3, 2, 1, 0));
        assertThat(other.statistics()).as("the semaphore's state, whichever view asks").isEqualTo(view.statistics());
        Permit q = other.tryAcquire();
        Future<Permit> waiting = view.acquire(NOW);
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(3, 3, 0, 1));
        sem.release();                                    // the raw holder hands over to the view's waiter
        assertThat(waiting.isSuccess()).isTrue();
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(3, 3, 0, 0));
        p.release();
        q.release();
        waiting.getNow().release();
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(3, 0, 3, 0));
    }

    @Test
    void aSemaphoreViewFollowsReductionsAndGrowthWithoutLosingItsHolders() {
        AsyncSemaphore sem = new AsyncSemaphore(2);
        AsyncLimiter view = AsyncLimiter.of(sem);
        Permit a = view.tryAcquire();
        Permit b = view.tryAcquire();
        sem.reducePermits(1);                             // 2 held, limit 2 -> 1: available -1
        assertThat(view.statistics()).as("available never below 0; both holders still counted")
                .isEqualTo(new LimiterStatistics(1, 2, 0, 0));
        sem.reducePermits(2);                             // total -1
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(0, 2, 0, 0));
        a.release();
        b.release();
        assertThat(view.statistics()).as("two releases pay part of the reduction back")
                .isEqualTo(new LimiterStatistics(0, 0, 0, 0));
        sem.release(4);                                   // limit -1 -> 3
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(3, 0, 3, 0));
    }

    @Test
    void aBoundedSemaphoreNeverSeesTheSecondReleaseOfAPermit() {
        AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(1);
        Permit p = AsyncLimiter.of(sem).tryAcquire();
        p.releaseDropped();
        p.release();                                      // the raw API would throw here
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThatThrownBy(sem::release).as("the raw API is unchanged").isInstanceOf(IllegalStateException.class);
    }

    @Test
    void waitersAreGrantedInFifoOrderAndTheRawApiSharesThePermits() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        assertThat(sem.tryAcquire()).as("raw acquire").isTrue();
        assertThat(limiter.tryAcquire()).as("refused while the raw holder has it").isNull();

        List<Integer> order = new ArrayList<>();
        List<Future<Permit>> waits = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int n = i;
            Future<Permit> f = limiter.acquire(NOW);
            f.addListener(x -> order.add(n));
            waits.add(f);
        }
        assertThat(limiter.statistics().queued()).isEqualTo(3);
        sem.release();                                    // raw release hands over to the head
        assertThat(order).containsExactly(0);
        waits.get(0).getNow().release();
        waits.get(1).getNow().releaseIgnored();
        assertThat(order).containsExactly(0, 1, 2);
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 1, 0, 0));
        waits.get(2).getNow().close();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void cancellingAQueuedWaitFreesItsSlotAtOnceAndHoldsNothing() {
        AsyncSemaphore sem = new AsyncSemaphore(1, 1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        Permit held = limiter.tryAcquire();
        Future<Permit> queued = limiter.acquire(NOW);
        assertThat(limiter.acquire(NOW).cause()).isInstanceOf(QueueFullException.class);

        assertThat(queued.cancel(false)).isTrue();
        assertThat(queued.isCancelled()).isTrue();
        assertThat(sem.queueLength()).as("slot freed at once").isZero();
        Future<Permit> next = limiter.acquire(NOW);
        assertThat(next.isDone()).isFalse();

        held.release();
        assertThat(next.isSuccess()).isTrue();
        assertThat(next.cancel(false)).as("a grant is final").isFalse();
        next.getNow().release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void aCancelAfterTheSemaphoreGrantedReturnsFalseAndTheCallerGetsThePermit() throws Exception {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        Permit held = limiter.tryAcquire();
        Future<Permit> wait = limiter.acquire(loop);
        // Keep the loop busy so that the mapped future's completion (a listener on the loop)
        // waits while the test stands between the grant and it. Spinning is not blocking.
        java.util.concurrent.atomic.AtomicBoolean go = new java.util.concurrent.atomic.AtomicBoolean();
        Future<?> busy = loop.submit(() -> {
            while (!go.get()) {
                // spin (BlockHound counts even Thread.onSpinWait as blocking)
            }
        });
        try {
            held.release();                               // the semaphore grants `wait` now
            assertThat(wait.isDone()).as("completion still queued on the loop").isFalse();
            assertThat(wait.cancel(false)).as("granted: the cancel loses").isFalse();
        } finally {
            go.set(true);                                 // never leave the loop spinning
        }
        busy.get(5, TimeUnit.SECONDS);
        assertThat(wait.get(5, TimeUnit.SECONDS).isReleased()).isFalse();
        assertThat(sem.availablePermits()).isZero();
        wait.getNow().release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void timeoutsAndCloseFailWithThePrimitivesExceptionsAndHoldNothing() throws Exception {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        Permit held = limiter.tryAcquire();

        Future<Permit> timed = limiter.acquire(loop, 20, TimeUnit.MILLISECONDS);
        assertThat(timed.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(timed.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(limiter.acquire(NOW, 0, TimeUnit.SECONDS).cause()).isInstanceOf(WaitTimeoutException.class);

        Future<Permit> queued = limiter.acquire(NOW);
        sem.close();
        assertThat(queued.cause()).isInstanceOf(ClosedException.class);
        assertThat(limiter.acquire(NOW).cause()).isInstanceOf(ClosedException.class);
        assertThat(limiter.tryAcquire()).isNull();
        held.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(sem.queueLength()).isZero();
    }

    @Test
    void aLockIsALimiterOfOne() {
        AsyncLock lock = new AsyncLock();
        AsyncLimiter limiter = AsyncLimiter.of(lock);
        Permit p = limiter.tryAcquire();
        assertThat(lock.isLocked()).isTrue();
        Future<Permit> next = limiter.acquire(NOW);
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 1, 0, 1));

        p.release();
        p.release();                                      // a raw second unlock() would throw
        assertThat(next.isSuccess()).isTrue();
        assertThat(lock.isLocked()).isTrue();
        next.getNow().releaseDropped();
        assertThat(lock.isLocked()).isFalse();
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void withPermitEndsThePermitWhenTheActionsFutureCompletes() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        io.netty.util.concurrent.Promise<String> work = NOW.newPromise();
        Future<String> result = limiter.withPermit(NOW, () -> work);
        assertThat(sem.availablePermits()).isZero();
        work.setSuccess("done");
        assertThat(result.getNow()).isEqualTo("done");
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    /** {@link AsyncLimiter#ofRead(AsyncReadWriteLock)} and {@link AsyncLimiter#ofWrite(AsyncReadWriteLock)}. */
    @Nested
    class ReadWriteLockViews {
        private final AsyncReadWriteLock rw = new AsyncReadWriteLock(4);
        private final AsyncLimiter reads = AsyncLimiter.ofRead(rw);
        private final AsyncLimiter writes = AsyncLimiter.ofWrite(rw);
        @Test
        void aReadPermitUnlocksOneReadExactlyOnceHoweverOftenItIsReleased() {
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
            assertThat(reads.toString()).startsWith("AsyncLimiter.ofRead(AsyncReadWriteLock@");
            assertThat(writes.toString()).startsWith("AsyncLimiter.ofWrite(AsyncReadWriteLock@");
        }
    }
}
