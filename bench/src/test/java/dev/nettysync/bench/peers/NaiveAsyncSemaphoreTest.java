package dev.nettysync.bench.peers;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The naive baseline must be a correct FIFO semaphore, or beating it proves nothing. */
class NaiveAsyncSemaphoreTest {

    @Test
    void servesWaitersInFifoOrderAndSkipsCancelledOnes() {
        NaiveAsyncSemaphore sem = new NaiveAsyncSemaphore(1);
        assertThat(sem.tryAcquire()).isTrue();
        Future<Void> a = sem.acquire(ImmediateEventExecutor.INSTANCE);
        Future<Void> b = sem.acquire(ImmediateEventExecutor.INSTANCE);
        Future<Void> c = sem.acquire(ImmediateEventExecutor.INSTANCE);
        assertThat(sem.tryAcquire()).as("no barging while queued").isFalse();
        b.cancel(false);                         // cancelled through the promise: skipped lazily
        sem.release();
        assertThat(a.isSuccess()).isTrue();
        assertThat(c.isDone()).isFalse();
        sem.release();
        assertThat(c.isSuccess()).as("b was skipped, its permit went on").isTrue();
        sem.release();
        assertThat(sem.tryAcquire()).isTrue();
    }

    @Test
    @SuppressWarnings("unchecked")
    void cancelRemovesTheWaiter() {
        NaiveAsyncSemaphore sem = new NaiveAsyncSemaphore(0);
        Future<Void> a = sem.acquire(ImmediateEventExecutor.INSTANCE);
        Future<Void> b = sem.acquire(ImmediateEventExecutor.INSTANCE);
        assertThat(sem.cancel((Promise<Void>) a)).isTrue();
        assertThat(sem.queueLength()).isEqualTo(1);
        sem.release();
        assertThat(b.isSuccess()).isTrue();
        assertThat(sem.queueLength()).isZero();
    }

    @Test
    void bulkReleaseGrantsInOrderAndPassesOnCancelledPermits() {
        NaiveAsyncSemaphore sem = new NaiveAsyncSemaphore(0);
        Future<Void> a = sem.acquire(ImmediateEventExecutor.INSTANCE);
        Future<Void> b = sem.acquire(ImmediateEventExecutor.INSTANCE);
        Future<Void> c = sem.acquire(ImmediateEventExecutor.INSTANCE);
        b.cancel(false);
        sem.release(2);
        assertThat(a.isSuccess()).isTrue();
        assertThat(c.isSuccess()).as("b's permit went on to c").isTrue();
        assertThat(sem.queueLength()).isZero();
        sem.release(3);
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.tryAcquire()).isTrue();
        assertThat(sem.tryAcquire()).as("exactly the released permits").isFalse();
    }

    @Test
    void fastPathReturnsOneCachedSucceededFuturePerExecutor() throws Exception {
        NaiveAsyncSemaphore sem = new NaiveAsyncSemaphore(1);
        Future<Void> first = sem.acquire(ImmediateEventExecutor.INSTANCE);
        sem.release();
        Future<Void> second = sem.acquire(ImmediateEventExecutor.INSTANCE);
        assertThat(first.isSuccess()).isTrue();
        assertThat(second).as("no allocation per uncontended acquire").isSameAs(first);
        io.netty.util.concurrent.DefaultEventExecutor other = new io.netty.util.concurrent.DefaultEventExecutor();
        try {
            sem.release();
            Future<Void> onOther = sem.acquire(other);
            assertThat(onOther.isSuccess()).isTrue();
            assertThat(onOther).as("listeners run on the caller's executor").isNotSameAs(first);
            java.util.concurrent.CompletableFuture<Boolean> ranOnOther = new java.util.concurrent.CompletableFuture<>();
            onOther.addListener(f -> ranOnOther.complete(other.inEventLoop()));
            assertThat(ranOnOther.get(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        } finally {
            other.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    @Test
    void eventWakesAllWaitersAndClears() {
        NaiveAsyncEvent ev = new NaiveAsyncEvent();
        Future<Void> a = ev.await(ImmediateEventExecutor.INSTANCE);
        Future<Void> b = ev.await(ImmediateEventExecutor.INSTANCE);
        ev.set();
        assertThat(a.isSuccess()).isTrue();
        assertThat(b.isSuccess()).isTrue();
        assertThat(ev.await(ImmediateEventExecutor.INSTANCE).isSuccess()).isTrue();
        ev.clear();
        assertThat(ev.await(ImmediateEventExecutor.INSTANCE).isDone()).isFalse();
    }
}
