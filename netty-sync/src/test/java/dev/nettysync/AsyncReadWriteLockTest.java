package dev.nettysync;

import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Scenarios for {@link AsyncReadWriteLock}. The first block ports tokio's
 * {@code tests/sync_rwlock.rs} (same names, snake case to camel case); the rest covers what
 * tokio's guards make impossible and an ownerless lock must check (misuse), cancellation,
 * timeouts, downgrade and {@code withRead}/{@code withWrite}.
 */
class AsyncReadWriteLockTest extends ScenarioTest {
    private AsyncReadWriteLock newLock() {
        return invariants.check(new AsyncReadWriteLock());
    }

    // ------------------------------------------------------------ tokio's sync_rwlock.rs

    @Test
    void readShared() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.readers()).isEqualTo(2);
    }

    @Test
    void writeSharedPending() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.writeLock(IMMEDIATE).isDone()).isFalse();
    }

    @Test
    void readExclusivePending() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.writeLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.readLock(IMMEDIATE).isDone()).isFalse();
    }

    @Test
    void requestsWhoseExecutorShutsDownWhileQueuedPassTheLockOn() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryWriteLock()).isTrue();
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Void> deadWriter = lock.writeLock(dying);
        Future<Void> reader = lock.readLock(IMMEDIATE);
        Future<Void> deadReader = lock.readLock(dying);
        Future<Void> writer = lock.writeLock(IMMEDIATE);
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        lock.unlockWrite();
        assertThat(deadWriter.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(deadReader.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(reader.isSuccess()).as("the write lock taken back from the dead writer went on").isTrue();
        assertThat(lock.readers()).as("the dead reader's share was taken back").isEqualTo(1);
        assertThat(writer.isDone()).isFalse();
        lock.unlockRead();
        assertThat(writer.isSuccess()).isTrue();
        assertThat(lock.isWriteLocked()).isTrue();
        lock.unlockWrite();
        assertThat(lock.isWriteLocked()).isFalse();
        assertThat(lock.readers()).isZero();
        assertThat(lock.tryWriteLock()).as("every permit came back").isTrue();
    }

    @Test
    void aTimedWriterWhoseExecutorShutsDownWhileQueuedLeavesAndTheReadersBehindItEnter() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryReadLock()).isTrue();
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Void> deadWriter = lock.writeLock(dying, 1, TimeUnit.HOURS);
        Future<Void> reader = lock.readLock(IMMEDIATE);
        assertThat(reader.isDone()).as("FIFO: behind the queued writer").isFalse();
        dying.shutdownGracefully(0, 0, SECONDS).syncUninterruptibly();
        assertThat(deadWriter.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(reader.isSuccess()).as("the writer's leaving let the reader in, without any unlock").isTrue();
        assertThat(lock.readers()).isEqualTo(2);
        assertThat(lock.queueLength()).isZero();
        lock.unlockRead();
        lock.unlockRead();
        assertThat(lock.tryWriteLock()).as("every permit came back").isTrue();
        lock.unlockWrite();
    }

    @Test
    void exhaustReading() {
        AsyncReadWriteLock lock = invariants.check(new AsyncReadWriteLock(1024, Integer.MAX_VALUE));
        int held = 0;
        while (lock.tryReadLock()) {
            held++;
        }
        assertThat(held).isEqualTo(1024);
        Future<Void> t1 = lock.readLock(IMMEDIATE);
        assertThat(t1.isDone()).isFalse();
        lock.unlockRead();
        assertThat(t1.isSuccess()).isTrue();
    }

    @Test
    void writeExclusivePending() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.writeLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.writeLock(IMMEDIATE).isDone()).isFalse();
    }

    @Test
    void writeSharedDrop() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        Future<Void> t2 = lock.writeLock(IMMEDIATE);
        assertThat(t2.isDone()).isFalse();
        lock.unlockRead();
        assertThat(t2.isSuccess()).isTrue();
        assertThat(lock.isWriteLocked()).isTrue();
    }

    @Test
    void writeReadSharedPending() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        Future<Void> t3 = lock.writeLock(IMMEDIATE);
        assertThat(t3.isDone()).isFalse();
        Future<Void> t4 = lock.readLock(IMMEDIATE);
        assertThat(t4.isDone()).as("a queued writer holds back later readers").isFalse();
    }

    @Test
    void writeReadSharedDropPending() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        Future<Void> t2 = lock.writeLock(IMMEDIATE);
        Future<Void> t3 = lock.readLock(IMMEDIATE);
        assertThat(t3.isDone()).isFalse();
        assertThat(t2.cancel(false)).isTrue();
        assertThat(t3.isSuccess()).as("the reader behind a cancelled writer gets in at once").isTrue();
        assertThat(lock.readers()).isEqualTo(2);
        assertThat(lock.queueLength()).isZero();
    }

    @Test
    void readUncontested() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
    }

    @Test
    void writeUncontested() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.writeLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.isWriteLocked()).isTrue();
    }

    @Test
    void writeOrder() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryWriteLock()).isTrue();
        List<Integer> order = new ArrayList<>();
        lock.writeLock(IMMEDIATE).addListener(f -> { order.add(1); lock.unlockWrite(); });
        lock.writeLock(IMMEDIATE).addListener(f -> { order.add(2); lock.unlockWrite(); });
        lock.unlockWrite();
        assertThat(order).containsExactly(1, 2);
        assertThat(lock.tryReadLock()).isTrue();
    }

    @Test
    void multithreaded() throws Exception {
        // tokio: 4 tasks x 1,000 writes adding 2, 3, 5, 7 must sum to 17,000. Here on 2 event
        // loops and 2 plain threads, through withWrite, so a lost or overlapping write shows.
        AsyncReadWriteLock lock = newLock();
        EventLoop[] group = {loops.newLoop(), loops.newLoop()};
        try {
            int[] counter = {0};
            AtomicInteger inside = new AtomicInteger();
            List<Future<Integer>> all = new ArrayList<>();
            int[] adds = {2, 3, 5, 7};
            List<Thread> threads = new ArrayList<>();
            List<Future<Integer>> sync = java.util.Collections.synchronizedList(all);
            for (int t = 0; t < 4; t++) {
                int add = adds[t];
                EventExecutor ex = group[t % 2];
                Thread th = new Thread(() -> {
                    for (int i = 0; i < 1000; i++) {
                        sync.add(lock.withWrite(ex, () -> {
                            if (inside.incrementAndGet() != 1) {
                                throw new AssertionError("two writers at once");
                            }
                            counter[0] += add;
                            inside.decrementAndGet();
                            return ex.newSucceededFuture(add);
                        }));
                    }
                });
                threads.add(th);
                th.start();
            }
            for (Thread th : threads) {
                th.join();
            }
            for (Future<Integer> f : all) {
                assertThat(f.await(10, SECONDS)).isTrue();
                assertThat(f.isSuccess()).as("%s", f.cause()).isTrue();
            }
            Future<Void> read = lock.readLock(group[0]);
            assertThat(read.await(10, SECONDS)).isTrue();
            assertThat(counter[0]).isEqualTo(17_000);
            lock.unlockRead();
        } finally {
            assertThat(lock.queueLength()).isZero();
        }
    }

    @Test
    void tryWrite() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.tryWriteLock()).isFalse();
        lock.unlockRead();
        assertThat(lock.tryWriteLock()).isTrue();
    }

    @Test
    void tryReadTryWrite() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryReadLock()).isTrue();
        assertThat(lock.tryWriteLock()).isFalse();
        assertThat(lock.tryReadLock()).isTrue();
        lock.unlockRead();
        lock.unlockRead();
        assertThat(lock.tryWriteLock()).isTrue();
        assertThat(lock.tryReadLock()).isFalse();
        lock.unlockWrite();
        assertThat(lock.tryReadLock()).isTrue();
    }

    // ------------------------------------------------------------ phases and fairness

    @Test
    void consecutiveQueuedReadersAreAdmittedTogetherUpToTheNextWriter() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryWriteLock()).isTrue();
        Future<Void> r1 = lock.readLock(IMMEDIATE);
        Future<Void> r2 = lock.readLock(IMMEDIATE);
        Future<Void> w = lock.writeLock(IMMEDIATE);
        Future<Void> r3 = lock.readLock(IMMEDIATE);
        lock.unlockWrite();
        assertThat(r1.isSuccess() && r2.isSuccess()).as("the run of readers before the writer").isTrue();
        assertThat(w.isDone()).isFalse();
        assertThat(r3.isDone()).as("the reader after the writer waits for it").isFalse();
        lock.unlockRead();
        assertThat(w.isDone()).isFalse();
        lock.unlockRead();
        assertThat(w.isSuccess()).isTrue();
        assertThat(r3.isDone()).isFalse();
        lock.unlockWrite();
        assertThat(r3.isSuccess()).isTrue();
    }

    @Test
    void maxReadersBoundsReadersAndTheNextOneWaitsInOrder() {
        AsyncReadWriteLock lock = invariants.check(new AsyncReadWriteLock(2, Integer.MAX_VALUE));
        assertThat(lock.tryReadLock()).isTrue();
        assertThat(lock.tryReadLock()).isTrue();
        Future<Void> third = lock.readLock(IMMEDIATE);
        Future<Void> writer = lock.writeLock(IMMEDIATE);
        assertThat(third.isDone()).isFalse();
        lock.unlockRead();
        assertThat(third.isSuccess()).isTrue();
        assertThat(writer.isDone()).isFalse();
        lock.unlockRead();
        lock.unlockRead();
        assertThat(writer.isSuccess()).isTrue();
    }

    @Test
    void aTimedOutWriterLetsTheReadersBehindItIn() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryReadLock()).isTrue();
        EventLoop loop = loops.newLoop();
        try {
            Future<Void> w = lock.writeLock(loop, 50, MILLISECONDS);
            Future<Void> r = lock.readLock(loop);
            assertThat(r.isDone()).isFalse();
            assertThat(w.awaitUninterruptibly(5, SECONDS)).isTrue();
            assertThat(w.cause()).isInstanceOf(WaitTimeoutException.class);
            assertThat(r.awaitUninterruptibly(5, SECONDS)).isTrue();
            assertThat(r.isSuccess()).isTrue();
            assertThat(lock.readers()).isEqualTo(2);
        } finally {
            assertThat(lock.queueLength()).isZero();
        }
    }

    @Test
    void aGrantIsFinalSoCancelAfterItReturnsFalseAndTheCallerHoldsTheLock() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryReadLock()).isTrue();
        Future<Void> w = lock.writeLock(IMMEDIATE);
        lock.unlockRead();
        assertThat(w.cancel(false)).isFalse();
        assertThat(lock.isWriteLocked()).isTrue();
        lock.unlockWrite();
        assertThat(lock.tryWriteLock()).isTrue();
    }

    @Test
    void theWriterIsKnownBeforeItsFutureIsSeenDoneOnAnotherThread() throws Exception {
        // A plain thread that waits with get() and then unlocks must not race the bookkeeping.
        AsyncReadWriteLock lock = newLock();
        EventLoop loop = loops.newLoop();
        try {
            for (int i = 0; i < 2_000; i++) {
                assertThat(lock.tryReadLock()).isTrue();
                Future<Void> w = lock.writeLock(loop);
                Thread releaser = new Thread(lock::unlockRead);
                releaser.start();
                w.get(5, TimeUnit.SECONDS);
                lock.unlockWrite();                 // would throw if the writer were recorded late
                releaser.join();
            }
        } finally {
            assertThat(lock.queueLength()).isZero();
        }
    }

    // ------------------------------------------------------------ downgrade

    @Test
    void downgradeKeepsWritersOutAndLetsQueuedReadersIn() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryWriteLock()).isTrue();
        Future<Void> r = lock.readLock(IMMEDIATE);
        Future<Void> w = lock.writeLock(IMMEDIATE);
        Future<Void> r2 = lock.readLock(IMMEDIATE);
        lock.downgrade();
        assertThat(lock.isWriteLocked()).isFalse();
        assertThat(r.isSuccess()).isTrue();
        assertThat(lock.readers()).isEqualTo(2);
        assertThat(w.isDone()).as("no writer between the write and the read").isFalse();
        assertThat(r2.isDone()).as("FIFO: behind the writer").isFalse();
        lock.unlockRead();
        lock.unlockRead();
        assertThat(w.isSuccess()).isTrue();
    }

    // ------------------------------------------------------------ no upgrade, no recursive read

    @Test
    void thereIsNoUpgradeAWriteAskedForWhileReadingWaitsForThatReadToEnd() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryReadLock()).isTrue();
        Future<Void> upgrade = lock.writeLock(IMMEDIATE);
        assertThat(upgrade.isDone()).as("waits for the read its own caller holds").isFalse();
        assertThat(lock.readers()).isEqualTo(1);
        // The documented pattern: leave the read, then the write gets in (and checks again).
        lock.unlockRead();
        assertThat(upgrade.isSuccess()).isTrue();
        assertThat(lock.isWriteLocked()).isTrue();
        lock.unlockWrite();
    }

    @Test
    void aRecursiveReadQueuesBehindAQueuedWriterWhichWaitsForTheFirstReadTokio2849() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryReadLock()).isTrue();                  // a task's first read
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).as("no writer queued: a second read gets in").isTrue();
        lock.unlockRead();
        Future<Void> writer = lock.writeLock(IMMEDIATE);          // another task wants to write
        Future<Void> again = lock.readLock(IMMEDIATE);            // the first task reads again
        assertThat(again.isDone()).as("the recursive read queues behind the writer").isFalse();
        assertThat(writer.isDone()).as("which waits for the first read: a task that waits for its"
                + " second read before ending the first never ends either").isFalse();
        lock.unlockRead();                                        // only ending the first read breaks it
        assertThat(writer.isSuccess()).isTrue();
        assertThat(again.isDone()).isFalse();
        lock.unlockWrite();
        assertThat(again.isSuccess()).isTrue();
        lock.unlockRead();
    }

    // ------------------------------------------------------------ misuse

    @Test
    void misuseThrowsAndChangesNothing() {
        AsyncReadWriteLock lock = newLock();
        assertThatThrownBy(lock::unlockRead).isInstanceOf(IllegalStateException.class).hasMessageContaining("not read-locked");
        assertThatThrownBy(lock::unlockWrite).isInstanceOf(IllegalStateException.class).hasMessageContaining("not write-locked");
        assertThatThrownBy(lock::downgrade).isInstanceOf(IllegalStateException.class);
        assertThat(lock.tryReadLock()).isTrue();
        assertThatThrownBy(lock::unlockWrite).isInstanceOf(IllegalStateException.class);
        lock.unlockRead();
        assertThat(lock.tryWriteLock()).isTrue();
        assertThatThrownBy(lock::unlockRead).isInstanceOf(IllegalStateException.class).hasMessageContaining("write-locked");
        lock.unlockWrite();
        assertThatThrownBy(lock::unlockWrite).isInstanceOf(IllegalStateException.class);
        assertThat(lock.tryWriteLock()).as("nothing changed").isTrue();
        assertThatThrownBy(() -> new AsyncReadWriteLock(1, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("AsyncLock");
    }

    // ------------------------------------------------------------ withRead / withWrite

    @Test
    void withWriteHoldsUntilTheActionsOwnFutureCompletesEvenIfTheCallerCancels() {
        AsyncReadWriteLock lock = newLock();
        Promise<String> action = IMMEDIATE.newPromise();
        Future<String> result = lock.withWrite(IMMEDIATE, () -> action);
        assertThat(lock.isWriteLocked()).isTrue();
        assertThat(result.cancel(false)).isTrue();
        assertThat(lock.isWriteLocked()).as("the action may still run: nobody else may get in").isTrue();
        assertThat(lock.tryReadLock()).isFalse();
        action.setSuccess("done");
        assertThat(lock.isWriteLocked()).isFalse();
        assertThat(lock.tryReadLock()).isTrue();
    }

    @Test
    void withReadAndWithWriteEndEveryWay() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.withRead(IMMEDIATE, () -> IMMEDIATE.newSucceededFuture(1)).getNow()).isEqualTo(1);
        assertThat(lock.withWrite(IMMEDIATE, () -> { throw new IllegalStateException("boom"); }).cause())
                .hasMessage("boom");
        assertThat(lock.withWrite(IMMEDIATE, () -> IMMEDIATE.newFailedFuture(new RuntimeException("x"))).cause())
                .hasMessage("x");
        assertThat(lock.isWriteLocked()).isFalse();
        assertThat(lock.readers()).isZero();
        assertThat(lock.tryWriteLock()).isTrue();
        Future<Integer> queued = lock.withRead(IMMEDIATE, () -> IMMEDIATE.newSucceededFuture(2));
        assertThat(queued.cancel(false)).isTrue();
        assertThat(queued.cause()).isInstanceOf(CancellationException.class);
        assertThat(lock.queueLength()).isZero();
        lock.unlockWrite();
        assertThat(lock.readers()).isZero();
    }

    @Test
    void timedWithReadAndWithWriteGiveUpWaitingWithoutRunningTheActionAndLetTheQueueBehindIn() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        AsyncReadWriteLock lock = newLock();
        AtomicInteger runs = new AtomicInteger();
        assertThat(lock.tryReadLock()).isTrue();
        Future<String> writer = lock.withWrite(ch.eventLoop(), 50, MILLISECONDS, () -> {
            runs.incrementAndGet();
            return ch.eventLoop().newSucceededFuture("w");
        });
        Future<String> reader = lock.withRead(ch.eventLoop(), 1, SECONDS, (Future<String> caller) -> {
            runs.incrementAndGet();
            return ch.eventLoop().newSucceededFuture("r");
        });
        assertThat(reader.isDone()).as("FIFO: behind the queued writer").isFalse();
        ch.advanceTimeBy(50, MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
        assertThat(writer.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(reader.getNow()).as("the reader behind the writer that gave up got in").isEqualTo("r");
        assertThat(runs.get()).as("only the reader's action ran").isEqualTo(1);
        assertThat(lock.readers()).as("its read lock ended with its action").isEqualTo(1);

        assertThat(lock.tryWriteLock()).isFalse();
        lock.unlockRead();
        assertThat(lock.tryWriteLock()).isTrue();
        Future<String> timedRead = lock.withRead(ch.eventLoop(), 10, MILLISECONDS, () -> {
            runs.incrementAndGet();
            return ch.eventLoop().newSucceededFuture("never");
        });
        ch.advanceTimeBy(10, MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
        assertThat(timedRead.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(runs.get()).isEqualTo(1);
        lock.unlockWrite();
        assertThat(lock.withWrite(IMMEDIATE, 1, SECONDS, () -> IMMEDIATE.newSucceededFuture(3)).getNow()).isEqualTo(3);
        assertThat(lock.isWriteLocked()).isFalse();
        assertThat(lock.queueLength()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void withWriteWhoseActionDowngradesStillCompletesItsFuture() {
        AsyncReadWriteLock lock = newLock();
        Promise<String> action = IMMEDIATE.newPromise();
        Future<String> result = lock.withWrite(IMMEDIATE, () -> {
            lock.downgrade();               // misuse: withWrite unlocks the write lock itself
            return action;
        });
        action.setSuccess("done");
        assertThat(result.isDone()).as("the returned future must complete, not hang").isTrue();
        assertThat(result.cause()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("unlockWrite()").hasMessageContaining("not write-locked");
        lock.unlockRead();                  // the read lock the action downgraded to is the caller's
        assertThat(lock.tryWriteLock()).isTrue();
        lock.unlockWrite();
    }

    @Test
    void closeFailsQueuedRequestsAndHoldersMayStillUnlock() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.tryWriteLock()).isTrue();
        Future<Void> r = lock.readLock(IMMEDIATE);
        lock.close();
        assertThat(r.cause()).isInstanceOf(ClosedException.class);
        lock.unlockWrite();
        assertThat(lock.readLock(IMMEDIATE).cause()).isInstanceOf(ClosedException.class);
    }

    // ------------------------------------------------------------ statistics

    private static AsyncReadWriteLock.Statistics stats(int readers, boolean writeLocked, int waiters, boolean closed) {
        return new AsyncReadWriteLock.Statistics(readers, writeLocked, waiters, closed);
    }

    @Test
    void statisticsFollowReadersAWriterWaitingBehindThemADowngradeAndClose() {
        AsyncReadWriteLock lock = newLock();
        assertThat(lock.statistics()).isEqualTo(stats(0, false, 0, false));
        assertThat(lock.tryReadLock()).isTrue();
        assertThat(lock.readLock(IMMEDIATE).isSuccess()).isTrue();
        assertThat(lock.statistics()).isEqualTo(stats(2, false, 0, false));

        Future<Void> writer = lock.writeLock(IMMEDIATE);
        Future<Void> laterReader = lock.readLock(IMMEDIATE);
        assertThat(lock.statistics()).as("a writer waits behind two readers, a reader behind it")
                .isEqualTo(stats(2, false, 2, false));
        lock.unlockRead();
        assertThat(lock.statistics()).isEqualTo(stats(1, false, 2, false));
        lock.unlockRead();
        assertThat(writer.isSuccess()).isTrue();
        assertThat(lock.statistics()).isEqualTo(stats(0, true, 1, false));
        lock.downgrade();
        assertThat(laterReader.isSuccess()).isTrue();
        assertThat(lock.statistics()).as("the downgraded writer and the reader it let in")
                .isEqualTo(stats(2, false, 0, false));
        lock.unlockRead();
        lock.unlockRead();

        assertThat(lock.tryWriteLock()).isTrue();
        Future<Void> queuedReader = lock.readLock(IMMEDIATE);
        Future<Void> queuedWriter = lock.writeLock(IMMEDIATE);
        assertThat(lock.statistics()).isEqualTo(stats(0, true, 2, false));
        assertThat(queuedReader.cancel(false)).isTrue();
        assertThat(lock.statistics()).as("a cancelled request leaves the queue at once").isEqualTo(stats(0, true, 1, false));
        lock.close();
        assertThat(queuedWriter.cause()).isInstanceOf(ClosedException.class);
        assertThat(lock.statistics()).as("closed: the queue failed, the writer still holds")
                .isEqualTo(stats(0, true, 0, true));
        lock.unlockWrite();
        assertThat(lock.statistics()).isEqualTo(stats(0, false, 0, true));
    }

    /**
     * The snapshot is taken under the semaphore's monitor, where a queued reader leaves the queue
     * and is counted as a holder in one step: while a writer's unlock on another thread lets 8
     * queued readers in, every snapshot counts each of them once, as queued or as reading.
     */
    @Test
    void statisticsCountEachQueuedReaderOnceWhileAnUnlockOnAnotherThreadLetsThemIn() throws Exception {
        EventLoop loop = loops.newLoop();
        AsyncReadWriteLock lock = newLock();
        int readers = 8;
        for (int round = 0; round < 2_000; round++) {
            assertThat(lock.tryWriteLock()).isTrue();
            for (int i = 0; i < readers; i++) {
                lock.readLock(IMMEDIATE);
            }
            Future<?> unlocked = loop.submit(lock::unlockWrite);
            AsyncReadWriteLock.Statistics s;
            do {
                s = lock.statistics();
                if (s.readers() + s.waiters() != readers || (s.writeLocked() && s.waiters() != readers)) {
                    throw new AssertionError("round " + round + ": " + s + " does not account for the "
                            + readers + " readers once each");
                }
            } while (s.readers() < readers);
            unlocked.sync();
            for (int i = 0; i < readers; i++) {
                lock.unlockRead();
            }
        }
    }
}
