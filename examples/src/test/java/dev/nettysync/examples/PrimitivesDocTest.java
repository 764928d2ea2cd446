package dev.nettysync.examples;

import dev.nettysync.AsyncBarrier;
import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.AsyncCondition;
import dev.nettysync.AsyncEvent;
import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncReadWriteLock;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.ClosedException;
import dev.nettysync.LockGivenUpException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.examples.support.ExampleLoops;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static dev.nettysync.examples.support.ExampleLoops.done;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The snippets and the stated behaviour of docs/primitives.md, as written there (with
 * {@code ctx.executor()} replaced by a loop of the test): each snippet compiles and does what the
 * page says it does; each message, default and order of events the page quotes is the code's.
 */
class PrimitivesDocTest {

    @RegisterExtension
    static final ExampleLoops loops = new ExampleLoops();
    private static final EventExecutor ex = loops.loop(0);

    // ------------------------------------------------------------------ common semantics

    @Test
    void errorsSayWhatWasWrongInTheQuotedWords() {
        AsyncSemaphore sem = new AsyncSemaphore(4);
        assertThatThrownBy(() -> sem.acquire(ex, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("permits must be >= 1, was 0");
        AsyncLock lock = new AsyncLock();
        assertThatThrownBy(lock::unlock)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageMatching("unlock\\(\\) of AsyncLock@[0-9a-f]+\\{unlocked}, which is not locked");
        assertThat(lock.isLocked()).isFalse();                     // changing nothing
    }

    @Test
    void theRefusalsCarryNoStackTrace() {
        AsyncSemaphore sem = new AsyncSemaphore(0, 0);
        Throwable full = done(sem.acquire(ex)).cause();
        Throwable timedOut = done(new AsyncSemaphore(0).acquire(ex, 1, MILLISECONDS)).cause();
        sem.close();
        Throwable closed = done(sem.acquire(ex)).cause();
        assertThat(full).isInstanceOf(QueueFullException.class);
        assertThat(timedOut).isInstanceOf(WaitTimeoutException.class);
        assertThat(closed).isInstanceOf(ClosedException.class);
        assertThat(full.getStackTrace()).isEmpty();
        assertThat(timedOut.getStackTrace()).isEmpty();
        assertThat(closed.getStackTrace()).isEmpty();
    }

    @Test
    void aTimedWaitOnAnExecutorThatCannotScheduleFailsWithWhatTheExecutorThrew() {
        AsyncSemaphore sem = new AsyncSemaphore(0);
        Future<Void> f = sem.acquire(ImmediateEventExecutor.INSTANCE, 1, SECONDS);
        assertThat(f.isDone()).isTrue();
        assertThat(f.cause()).isInstanceOf(UnsupportedOperationException.class);
        assertThat(sem.queueLength()).isZero();                    // holds nothing, left nothing queued
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void aTimeoutOfZeroMeansOnlyIfAvailableNow() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        assertThat(done(sem.acquire(ex, 0, SECONDS)).isSuccess()).isTrue();
        Future<Void> refused = done(sem.acquire(ex, 0, SECONDS));
        assertThat(refused.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(sem.queueLength()).isZero();
    }

    // ------------------------------------------------------------------ AsyncSemaphore

    private static Future<String> call() {
        return ex.newSucceededFuture("called");
    }

    @Test
    void theSemaphoreSnippetRunsAsCommented() {
        AsyncSemaphore sem = new AsyncSemaphore(4);              // or new AsyncSemaphore(4, maxPending)

        boolean got = sem.tryAcquire();                          // now or never; false while anyone waits
        Future<Void> f = sem.acquire(ex);                        // 1 permit, FIFO
        Future<Void> g = sem.acquire(ex, 2, 100, MILLISECONDS);  // 2 permits, timed
        assertThat(got).isTrue();
        assertThat(done(f).isSuccess()).isTrue();
        assertThat(done(g).isSuccess()).isTrue();
        assertThat(sem.availablePermits()).isZero();
        sem.release();                                           // or release(n): hands over to the head waiter
        Future<String> r = sem.withPermit(ex, () -> call());                 // acquire, run, release exactly once
        Future<String> s = sem.withPermit(ex, 50, MILLISECONDS, () -> call());  // timed wait, then run
        assertThat(done(r).getNow()).isEqualTo("called");
        assertThat(done(s).getNow()).isEqualTo("called");
        sem.availablePermits(); sem.totalPermits(); sem.queueLength(); sem.locked(); sem.statistics();
        assertThat(sem.statistics().held()).isEqualTo(3);
        sem.reducePermits(2); sem.release(2);                    // change the limit live (adaptive limits)
        // 3 held, 1 available: the release that raised the limit back is counted as a return
        // (a semaphore cannot tell them apart), so the total only rises once the available
        // count passes it, and held() undercounts, as the page says of such releases.
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(sem.totalPermits()).isEqualTo(2);
        sem.release(3);                                          // the 3 holders give their permits back
        assertThat(sem.availablePermits()).isEqualTo(4);
        assertThat(sem.totalPermits()).isEqualTo(4);             // at rest the total equals the available count
        assertThat(sem.tryAcquire(4)).isTrue();
        Future<Void> queued = sem.acquire(ex, 2);
        assertThat(sem.tryAcquire()).as("false while anyone waits").isFalse();
        RuntimeException cause = new RuntimeException("shutting down");
        sem.close(cause);                                        // fail all waiters and later acquires
        assertThat(done(queued).cause()).isInstanceOf(ClosedException.class).hasCause(cause);
        assertThat(done(sem.acquire(ex)).cause()).isInstanceOf(ClosedException.class).hasCause(cause);
        assertThat(sem.tryAcquire()).isFalse();
        sem.release(4);                                          // holders may still release (harmless)
    }

    @Test
    void permitsReleasedMeanwhileAreReservedForAMultiPermitHead() {
        AsyncSemaphore sem = new AsyncSemaphore(2);
        assertThat(sem.tryAcquire(2)).isTrue();
        Future<Void> big = sem.acquire(ex, 2);
        sem.release();
        assertThat(sem.availablePermits()).isEqualTo(1);        // counts in availablePermits()
        assertThat(sem.tryAcquire()).isFalse();                  // but tryAcquire fails
        Future<Void> small = sem.acquire(ex);
        assertThat(big.cancel(false)).isTrue();
        assertThat(done(small).isSuccess()).as("the reserved permit goes on to the next waiter").isTrue();
    }

    @Test
    void withPermitReleasesWhenTheActionThrowsOrReturnsNull() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        Future<Object> threw = sem.withPermit(ex, () -> {
            throw new IllegalStateException("boom");
        });
        assertThat(done(threw).cause()).hasMessage("boom");
        Future<Object> nullFuture = sem.withPermit(ex, () -> null);
        assertThat(done(nullFuture).isSuccess()).isFalse();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void reducePermitsMayTakeTheAvailableCountNegativeAndLowersABoundedSemaphoresBound() {
        AsyncSemaphore sem = new AsyncSemaphore(2);
        assertThat(sem.tryAcquire(2)).isTrue();
        sem.reducePermits(1);
        assertThat(sem.availablePermits()).isEqualTo(-1);
        assertThat(sem.totalPermits()).isEqualTo(1);

        AsyncBoundedSemaphore bounded = new AsyncBoundedSemaphore(2);
        bounded.reducePermits(1);
        assertThatThrownBy(bounded::release).isInstanceOf(IllegalStateException.class);
        assertThat(bounded.availablePermits()).isEqualTo(1);
    }

    @Test
    void aPlainSemaphoreReleasedMoreOftenThanAcquiredRaisesItsTotal() {
        AsyncSemaphore sem = new AsyncSemaphore(2);
        sem.release();
        assertThat(sem.totalPermits()).isEqualTo(3);
        assertThat(sem.statistics().held()).isZero();            // at rest the total equals the available count
    }

    @Test
    void aBoundedSemaphoreRefusesTheSecondReleaseAndChangesNothing() {
        AsyncBoundedSemaphore sem = new AsyncBoundedSemaphore(2);
        assertThat(sem.tryAcquire()).isTrue();
        sem.release();
        assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class);
        assertThat(sem.availablePermits()).isEqualTo(2);
        assertThat(sem.totalPermits()).isEqualTo(2);
    }

    // ------------------------------------------------------------------ AsyncLock

    private final StringBuilder sharedState = new StringBuilder();

    private Future<String> updateSharedState() {
        sharedState.append("updated;");
        return ex.newSucceededFuture("ok");
    }

    @Test
    void theLockSnippetRunsAsCommented() {
        List<String> order = new CopyOnWriteArrayList<>();
        AsyncLock lock = new AsyncLock();
        Future<String> w = lock.withLock(ex, () -> updateSharedState());      // Future<T>; unlocks exactly once
        w.addListener(f -> order.add("rendered " + sharedState));
        assertThat(done(w).getNow()).isEqualTo("ok");
        Future<Void> l = lock.lock(ex);
        l.addListener(f -> {
            if (!f.isSuccess()) return;                               // not held (closed, queue full...): nothing to unlock
            try { order.add("mutated"); } finally { lock.unlock(); }
        });
        done(l);
        done(ex.submit(() -> null));                             // l's listener (queued before) has unlocked
        assertThat(order).containsExactly("rendered updated;", "mutated");
        assertThat(lock.tryLock()).isTrue();
        Future<Void> again = lock.lock(ex, 50, MILLISECONDS);    // locking again while holding it waits
        assertThat(done(again).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(lock.isLocked()).isTrue();
        assertThat(lock.queueLength()).isZero();
        lock.unlock();
        lock.close();
        assertThat(done(lock.lock(ex)).cause()).isInstanceOf(ClosedException.class);
    }

    // ------------------------------------------------------------------ AsyncEvent

    @Test
    void theEventSnippetRunsAsCommented() {
        List<String> seen = new CopyOnWriteArrayList<>();
        AsyncEvent dbReady = new AsyncEvent();
        Future<Void> w = dbReady.await(ex, 5, SECONDS);            // completes at once while set
        w.addListener(f -> { if (f.isSuccess()) seen.add("serve"); else seen.add("refuse"); });
        dbReady.set();      // wakes every current waiter, each on its own executor
        dbReady.clear();    // later waits queue again
        assertThat(done(w).isSuccess()).as("a clear() that follows does not un-wake").isTrue();
        assertThat(dbReady.isSet()).isFalse();
        Future<Void> later = dbReady.await(ex);
        assertThat(later.isDone()).isFalse();
        assertThat(dbReady.queueLength()).isEqualTo(1);
        dbReady.set();
        assertThat(done(dbReady.await(ex, 5, SECONDS)).isSuccess()).isTrue();
        done(later);
    }

    // ------------------------------------------------------------------ AsyncCondition

    @Test
    void theConditionSnippetHandsTheItemToTheConsumerWithTheLockHeld() {
        Queue<String> queue = new ArrayDeque<>();               // guarded by the condition's lock
        List<String> written = new CopyOnWriteArrayList<>();
        AtomicReference<Boolean> heldInListener = new AtomicReference<>();
        AsyncCondition nonEmpty = new AsyncCondition();          // or new AsyncCondition(existingLock)
        AsyncLock lock = nonEmpty.lock();

        // consumer: the predicate runs on ex with the lock held
        Future<Void> locked0 = lock.lock(ex);
        locked0.addListener(locked -> {
            if (!locked.isSuccess()) return;                          // not held: no wait, nothing to unlock
            nonEmpty.awaitUntil(ex, () -> !queue.isEmpty()).addListener(w -> {
                if (w.cause() instanceof LockGivenUpException) return;    // the one end without the lock
                try {
                    heldInListener.set(lock.isLocked());
                    if (w.isSuccess()) written.add(queue.poll());    // still holding the lock
                } finally {
                    lock.unlock();                                        // held however else the wait ended
                }
            });
        });
        done(locked0);

        // producer, on any thread or loop
        EventExecutor executor = loops.loop(1);
        String item = "item";
        Future<Object> produced =
                lock.withLock(executor, () -> { queue.add(item); nonEmpty.signal(); return executor.newSucceededFuture(null); });
        done(produced);
        for (int i = 0; i < 100 && lock.isLocked(); i++) {
            done(ex.schedule(() -> null, 10, MILLISECONDS));
        }
        assertThat(written).containsExactly("item");
        assertThat(heldInListener.get()).isTrue();
        assertThat(lock.isLocked()).isFalse();
    }

    /**
     * The lock and condition snippets when the lock future fails: the lock is ownerless, so a
     * listener that went on regardless would mutate without holding and unlock another task's
     * hold (the condition's "held" check passes: the lock is locked, by that other task).
     */
    @Test
    void theLockAndConditionSnippetsTouchNothingWhenTheirLockFutureFails() {
        AsyncCondition nonEmpty = new AsyncCondition();
        AsyncLock lock = nonEmpty.lock();
        Queue<String> queue = new ArrayDeque<>(List.of("item"));
        List<String> order = new CopyOnWriteArrayList<>();
        assertThat(lock.tryLock()).as("another task holds the lock").isTrue();
        Future<Void> l = lock.lock(ex);
        l.addListener(f -> {
            if (!f.isSuccess()) return;                               // not held (closed, queue full...): nothing to unlock
            try { order.add("mutated"); } finally { lock.unlock(); }
        });
        Future<Void> locked0 = lock.lock(ex);
        locked0.addListener(locked -> {
            if (!locked.isSuccess()) return;                          // not held: no wait, nothing to unlock
            nonEmpty.awaitUntil(ex, () -> !queue.isEmpty()).addListener(w -> {
                if (w.cause() instanceof LockGivenUpException) return;    // the one end without the lock
                try {
                    if (w.isSuccess()) order.add("wrote " + queue.poll());    // still holding the lock
                } finally {
                    lock.unlock();                                        // held however else the wait ended
                }
            });
        });
        lock.close();                                             // both waits fail
        assertThat(done(l).cause()).isInstanceOf(ClosedException.class);
        assertThat(done(locked0).cause()).isInstanceOf(ClosedException.class);
        done(ex.submit(() -> null));                              // their listeners have run
        assertThat(order).isEmpty();
        assertThat(queue).containsExactly("item");
        assertThat(lock.isLocked()).as("the other task's hold is untouched").isTrue();
        lock.unlock();
    }

    @Test
    void conditionCallsWithoutTheLockThrowIllegalState() {
        AsyncCondition cond = new AsyncCondition();
        assertThatThrownBy(() -> cond.await(ex)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cond.awaitUntil(ex, () -> true)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cond.awaitValue(ex, () -> "v")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(cond::signal).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(cond::signalAll).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aTimedOutConditionWaitEndsHoldingTheLock() {
        AsyncCondition cond = new AsyncCondition();
        Future<Void> w = cond.lock().withLock(ex, () -> cond.await(ex, 20, MILLISECONDS));
        assertThat(done(w).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(cond.lock().isLocked()).as("withLock unlocked exactly once").isFalse();
    }

    @Test
    void cancellingAConditionWaitIsARequestThatEndsOnceTheLockIsHeldAgain() {
        AsyncCondition cond = new AsyncCondition();
        AsyncLock lock = cond.lock();
        assertThat(lock.tryLock()).isTrue();
        Future<Void> w = cond.await(ex);                         // the lock is released to wait
        assertThat(lock.tryLock()).as("someone else takes the lock").isTrue();
        assertThat(w.cancel(false)).isTrue();
        assertThat(w.isDone()).as("not done while the lock is held by another").isFalse();
        lock.unlock();
        assertThat(done(w).isCancelled()).isTrue();
        assertThat(lock.isLocked()).as("the waiter holds the lock again").isTrue();
        lock.unlock();
    }

    @Test
    void awaitValueCompletesWithTheFirstNonNullValue() {
        AsyncCondition cond = new AsyncCondition();
        AtomicReference<String> box = new AtomicReference<>();
        Future<String> v = cond.lock().withLock(ex, () -> cond.awaitValue(ex, box::get));
        done(cond.lock().withLock(ex, () -> {
            box.set("value");
            cond.signalAll();
            return ex.newSucceededFuture(null);
        }));
        assertThat(done(v).getNow()).isEqualTo("value");
    }

    // ------------------------------------------------------------------ AsyncBarrier

    @Test
    void theBarrierSnippetGivesArrivalIndexesInArrivalOrderAndRunsTheActionFirst() {
        List<String> log = new CopyOnWriteArrayList<>();
        AsyncBarrier barrier = new AsyncBarrier(3, () -> log.add("all three arrived"));
        Future<Integer> first = barrier.await(ex);
        Future<Integer> second = barrier.await(loops.loop(1));
        assertThat(barrier.waiting()).isEqualTo(2);
        Future<Integer> third = barrier.await(ex);
        third.addListener(f -> log.add("proceed " + f.getNow()));
        assertThat(done(first).getNow()).isZero();
        assertThat(done(second).getNow()).isEqualTo(1);
        assertThat(done(third).getNow()).isEqualTo(2);            // the last party gets parties-1
        done(ex.submit(() -> null));                               // third's listener has run
        assertThat(log).containsExactly("all three arrived", "proceed 2");
        barrier.parties(); barrier.waiting(); barrier.isBroken(); barrier.reset(); barrier.abort();
        assertThat(barrier.isBroken()).isTrue();
        assertThat(done(barrier.await(ex)).cause()).isInstanceOf(BrokenBarrierException.class);
        barrier.reset();
        assertThat(barrier.isBroken()).isFalse();
    }

    @Test
    void aPartyThatTimesOutLeavesWithoutBreakingTheBarrier() {
        AsyncBarrier barrier = new AsyncBarrier(2);
        Future<Integer> gaveUp = barrier.await(ex, 20, MILLISECONDS);
        assertThat(done(gaveUp).cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(barrier.isBroken()).isFalse();
        assertThat(barrier.waiting()).isZero();
        Future<Integer> a = barrier.await(ex);
        Future<Integer> b = barrier.await(ex);                    // the second of a full set trips it
        assertThat(done(a).isSuccess()).isTrue();
        assertThat(done(b).getNow()).isEqualTo(1);
    }

    @Test
    void aThrowingActionBreaksTheBarrierWithItAsTheCause() {
        RuntimeException boom = new RuntimeException("boom");
        AsyncBarrier barrier = new AsyncBarrier(2, () -> {
            throw boom;
        });
        Future<Integer> a = barrier.await(ex);
        Future<Integer> b = barrier.await(ex);
        assertThat(done(a).cause()).isInstanceOf(BrokenBarrierException.class).hasCause(boom);
        assertThat(done(b).cause()).isInstanceOf(BrokenBarrierException.class);
        assertThat(barrier.isBroken()).isTrue();
    }

    @Test
    void resetFailsTheWaitersAndLeavesTheBarrierUsable() {
        AsyncBarrier barrier = new AsyncBarrier(2);
        Future<Integer> a = barrier.await(ex);
        barrier.reset();
        assertThat(done(a).cause()).isInstanceOf(BrokenBarrierException.class);
        assertThat(barrier.isBroken()).isFalse();
    }

    // ------------------------------------------------------------------ AsyncReadWriteLock

    @Test
    void theReadWriteLockSnippetRunsAsCommented() {
        List<String> seen = new CopyOnWriteArrayList<>();
        AsyncReadWriteLock routes = new AsyncReadWriteLock();         // or (maxReaders, maxPending)
        assertThat(routes.maxReaders()).isEqualTo((1 << 28) - 1);     // default 2^28 - 1
        Future<String> read = routes.withRead(ex, () -> ex.newSucceededFuture("route"));
        read.addListener(f -> seen.add("forward " + f.getNow()));
        done(read);
        Future<Object> write = routes.withWrite(loops.loop(1), () -> loops.loop(1).newSucceededFuture(null));
        done(write);
        Future<Void> r = routes.readLock(ex);
        r.addListener(f -> { if (f.isSuccess()) { try { seen.add("read"); } finally { routes.unlockRead(); } } });
        done(r);
        assertThat(done(routes.writeLock(ex, 1, SECONDS)).isSuccess()).isTrue();
        assertThat(routes.tryReadLock()).isFalse();
        routes.downgrade();                                           // write -> read, atomically
        assertThat(routes.isWriteLocked()).isFalse();
        assertThat(routes.readers()).isEqualTo(1);
        assertThat(routes.tryReadLock()).isTrue();
        assertThat(routes.tryWriteLock()).isFalse();
        Future<Void> writer = routes.writeLock(ex);
        assertThat(routes.tryReadLock()).as("a queued writer holds back later readers").isFalse();
        routes.unlockRead();
        routes.unlockRead();
        done(writer);
        routes.unlockWrite();
        routes.queueLength(); routes.close();
        assertThat(seen).containsExactly("forward route", "read");
    }

    @Test
    void readWriteMisuseThrowsIllegalStateAndChangesNothing() {
        AsyncReadWriteLock rw = new AsyncReadWriteLock();
        assertThatThrownBy(rw::unlockRead).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(rw::unlockWrite).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(rw::downgrade).isInstanceOf(IllegalStateException.class);
        assertThat(rw.tryWriteLock()).isTrue();
        rw.unlockWrite();
        assertThatThrownBy(() -> new AsyncReadWriteLock(1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unlockReadTheTakeTheWriteAndCheckAgain() {
        java.util.Map<String, String> table = new java.util.concurrent.ConcurrentHashMap<>();
        String path = "/a";
        AsyncReadWriteLock routes = new AsyncReadWriteLock();
        assertThat(routes.tryReadLock()).isTrue();
        routes.unlockRead();                                  // the read found no route for `path`
        Future<Object> w = routes.withWrite(ex, () -> {
            table.computeIfAbsent(path, p -> "resolved " + p);  // another writer may have added it meanwhile
            return ex.newSucceededFuture(null);
        });
        done(w);
        assertThat(table).containsEntry("/a", "resolved /a");
        assertThat(routes.isWriteLocked()).isFalse();
    }

    @Test
    void cancelledWaitsCompleteWithCancellationException() {
        AsyncSemaphore sem = new AsyncSemaphore(0);
        Future<Void> f = sem.acquire(ex);
        assertThat(f.cancel(false)).isTrue();
        assertThat(f.cause()).isInstanceOf(CancellationException.class);
        assertThat(sem.queueLength()).isZero();
        done(ex.schedule(() -> null, 1, TimeUnit.MILLISECONDS));
    }

    // ------------------------------------------------------------------ the README's handler

    /** The handler of the README's first screen, as written there; backend.call answers when the test says. */
    private static final class ReadmeHandler extends ChannelInboundHandlerAdapter {
        // One instance, shared by every event loop of the server.
        final AsyncSemaphore BACKEND_SLOTS = new AsyncSemaphore(32, /* maxPending */ 1024);
        final AsyncEvent DB_READY = new AsyncEvent();            // DB_READY.set() at startup
        final List<Promise<String>> calls = new CopyOnWriteArrayList<>();
        EventExecutor loop;
        final Backend backend = new Backend();

        final class Backend {
            Future<String> call(Object msg) {
                Promise<String> p = loop.newPromise();
                calls.add(p);
                return p;
            }
        }

        static Object serviceUnavailable() {
            return "503";
        }

        static Object ok(Object body) {
            return "200 " + body;
        }

        static Object error(Throwable cause) {
            return "502 " + cause.getMessage();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            loop = ctx.executor();
            DB_READY.await(ctx.executor(), 5, SECONDS).addListener(ready -> {
                if (!ready.isSuccess()) { ctx.writeAndFlush(serviceUnavailable()); return; }
                BACKEND_SLOTS.withPermit(ctx.executor(), () -> backend.call(msg))   // released exactly once
                             .addListener(r -> ctx.writeAndFlush(r.isSuccess() ? ok(r.getNow()) : error(r.cause())));
            });
        }
    }

    @Test
    void theReadmeHandlerWaitsForTheDatabaseThenCallsTheBackendHoldingAPermit() {
        ReadmeHandler h = new ReadmeHandler();
        EmbeddedChannel ch = new EmbeddedChannel(h);

        ch.writeInbound("too early");                            // the database never gets ready in 5 s
        ch.advanceTimeBy(5, SECONDS);
        ch.runPendingTasks();
        assertThat((Object) ch.readOutbound()).isEqualTo("503");
        assertThat(h.calls).isEmpty();

        ch.writeInbound("request");
        assertThat(h.calls).isEmpty();                           // waits for the database
        h.DB_READY.set();
        ch.runPendingTasks();
        assertThat(h.calls).hasSize(1);
        assertThat(h.BACKEND_SLOTS.availablePermits()).isEqualTo(31);
        h.calls.get(0).setSuccess("item");
        ch.runPendingTasks();
        assertThat((Object) ch.readOutbound()).isEqualTo("200 item");
        assertThat(h.BACKEND_SLOTS.availablePermits()).as("released exactly once").isEqualTo(32);

        ch.writeInbound("failing");
        h.calls.get(1).setFailure(new IllegalStateException("backend down"));
        ch.runPendingTasks();
        assertThat((Object) ch.readOutbound()).isEqualTo("502 backend down");
        assertThat(h.BACKEND_SLOTS.availablePermits()).isEqualTo(32);
        ch.finishAndReleaseAll();
    }
}
