package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.testing.AnsweringLimiter;
import dev.nettysync.testing.ClassEventLoop;
import dev.nettysync.testing.LogCapture;
import dev.nettysync.testing.Poll;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link AsyncLimiter#all}: order, giving back, one deadline, outcomes passed on. */
class CompositeLimiterTest {
    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;
    @RegisterExtension
    static final ClassEventLoop loop = new ClassEventLoop();

    private final List<String> log = new ArrayList<>();
    private final RecordingLimiter a = new RecordingLimiter("a", new AsyncSemaphore(1, 10), log);
    private final RecordingLimiter b = new RecordingLimiter("b", new AsyncSemaphore(1, 10), log);
    private final RecordingLimiter c = new RecordingLimiter("c", new AsyncSemaphore(1, 10), log);
    private final AsyncLimiter all = AsyncLimiter.all(a, b, c);

    private void assertAllFull() {
        for (RecordingLimiter l : List.of(a, b, c)) {
            assertThat(l.semaphore.availablePermits()).as(l.name + " permits").isEqualTo(1);
            assertThat(l.semaphore.queueLength()).as(l.name + " queue").isZero();
        }
    }

    @Test
    void acquiresInOrderAndReleasesInReverseWithTheSameOutcome() {
        Future<Permit> f = all.acquire(NOW);
        assertThat(f.isSuccess()).isTrue();
        assertThat(log).containsExactly("a+", "b+", "c+");
        assertThat(all.statistics()).isEqualTo(new LimiterStatistics(1, 1, 0, 0));

        assertThat(f.getNow().releaseDropped()).isTrue();
        assertThat(f.getNow().release()).isFalse();
        assertThat(log).containsExactly("a+", "b+", "c+", "c-DROPPED", "b-DROPPED", "a-DROPPED");
        assertAllFull();
        assertThat(all.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void waitsInEachQueueInTurnHoldingWhatItHas() {
        Permit heldB = b.tryAcquire();
        log.clear();
        Future<Permit> f = all.acquire(NOW);
        assertThat(f.isDone()).isFalse();
        assertThat(log).containsExactly("a+");
        assertThat(b.semaphore.queueLength()).isEqualTo(1);
        assertThat(all.statistics().queued()).isEqualTo(1);

        heldB.release();
        assertThat(f.isSuccess()).isTrue();
        assertThat(log).containsExactly("a+", "b-SUCCESS", "b+", "c+");
        f.getNow().releaseIgnored();
        assertAllFull();
        assertThat(all.statistics().queued()).isZero();
    }

    @Test
    void givesBackWhatItHoldsWhenALaterLimiterRefuses() {
        AsyncLimiter tight = AsyncLimiter.all(a, new RecordingLimiter("full", new AsyncSemaphore(0, 0), log));
        Future<Permit> f = tight.acquire(NOW);
        assertThat(f.cause()).isInstanceOf(QueueFullException.class);
        assertThat(log).containsExactly("a+", "a-IGNORED");
        assertThat(tight.tryAcquire()).isNull();
        assertAllFull();
    }

    @Test
    void givesBackWhenALaterLimiterIsClosedWhileItWaits() {
        Permit heldC = c.tryAcquire();
        Future<Permit> f = all.acquire(NOW);
        assertThat(log).containsExactly("c+", "a+", "b+");
        c.semaphore.close();
        assertThat(f.cause()).isInstanceOf(ClosedException.class);
        assertThat(log).containsExactly("c+", "a+", "b+", "b-IGNORED", "a-IGNORED");
        heldC.release();
        assertThat(a.semaphore.availablePermits() + b.semaphore.availablePermits()).isEqualTo(2);
    }

    @Test
    void aPartWhosePermitThrowsWhenGivenBackNeitherStrandsTheOtherPartsNorTheWait() {
        AsyncSemaphore x = new AsyncSemaphore(1, 10);
        AsyncLimiter throwing = ForwardingLimiter.endingThenThrowing(x, "end broke on purpose");
        RecordingLimiter full = new RecordingLimiter("full", new AsyncSemaphore(0, 0), log);
        try (LogCapture warnings = LogCapture.of(CompositeLimiter.class)) {
            assertThat(AsyncLimiter.all(a, throwing, full).tryAcquire()).as("refused, not thrown").isNull();
            assertThat(AsyncLimiter.all(a, throwing, full).acquire(NOW).cause()).isInstanceOf(QueueFullException.class);
            assertThat(warnings.records()).as("each give-back that threw is logged: nothing else reports it")
                    .hasSize(2).allSatisfy(r -> {
                        assertThat(r.getLevel()).isEqualTo(Level.WARNING);
                        assertThat(r.getThrown()).hasMessage("end broke on purpose");
                    });
        }
        assertThat(log).containsExactly("a+", "a-IGNORED", "a+", "a-IGNORED");
        log.clear();

        Permit heldC = c.tryAcquire();
        Future<Permit> f = AsyncLimiter.all(a, throwing, c).acquire(NOW);
        assertThat(f.isDone()).isFalse();
        c.semaphore.close();
        assertThat(f.cause()).as("the wait fails with the part's refusal").isInstanceOf(ClosedException.class);
        assertThat(log).containsExactly("c+", "a+", "a-IGNORED");
        assertThat(a.semaphore.availablePermits()).isEqualTo(1);
        assertThat(x.availablePermits()).isEqualTo(1);
        heldC.release();
    }

    @Test
    void whenSeveralPartsThrowAsTheyEndTheFirstIsThrownWithTheOthersSuppressed() {
        AsyncSemaphore x = new AsyncSemaphore(1);
        AsyncSemaphore y = new AsyncSemaphore(1);
        Permit p = AsyncLimiter.all(ForwardingLimiter.endingThenThrowing(x, "x broke"), a,
                ForwardingLimiter.endingThenThrowing(y, "y broke")).tryAcquire();
        assertThatThrownBy(p::release).as("the parts end last first: y, a, x")
                .hasMessage("y broke")
                .satisfies(e -> assertThat(e.getSuppressed()).extracting(Throwable::getMessage).containsExactly("x broke"));
        assertThat(x.availablePermits() + y.availablePermits()).as("every part ended").isEqualTo(2);
        assertAllFull();
    }

    @Test
    void cancellingTheWaitLeavesTheQueueAndGivesBack() {
        Permit heldB = b.tryAcquire();
        Future<Permit> f = all.acquire(NOW);
        assertThat(f.cancel(false)).isTrue();
        assertThat(b.semaphore.queueLength()).as("left b's queue at once").isZero();
        assertThat(log).containsExactly("b+", "a+", "a-IGNORED");
        assertThat(f.cancel(false)).isFalse();
        heldB.release();
        assertAllFull();
        assertThat(all.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void oneDeadlineBoundsTheWholeWait() throws Exception {
        Permit heldA = a.tryAcquire();
        Permit heldC = c.tryAcquire();
        long start = System.nanoTime();
        Future<Permit> f = all.acquire(loop, 1_000, TimeUnit.MILLISECONDS);
        // a is free after 800 ms; c never: the composite must give up at ~1,000 ms, not 800 +
        // 1,000 (the margin is wide for loaded machines: 450 ms of 500 failed at load 7.5).
        loop.schedule(() -> {
            heldA.release();
        }, 800, TimeUnit.MILLISECONDS);
        assertThat(f.await(10, TimeUnit.SECONDS)).isTrue();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(f.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(ms).as("waited in all").isBetween(950L, 1_600L);
        heldC.release();
        assertThat(log).endsWith("a-IGNORED", "c-SUCCESS");
        assertAllFull();
    }

    @Test
    void theDeadlineIsKeptOnTheExecutorsClockAsThePartsTimeoutsAre() {
        io.netty.util.concurrent.MockTicker clock = io.netty.util.concurrent.Ticker.newMockTicker();
        ManualScheduledExecutor manual = new ManualScheduledExecutor(clock);
        Permit heldA = a.tryAcquire();
        Permit heldB = b.tryAcquire();
        Future<Permit> f = AsyncLimiter.all(a, b).acquire(manual, 300, TimeUnit.MILLISECONDS);

        clock.advance(200, TimeUnit.MILLISECONDS);
        heldA.release();                                     // a granted at 200 ms: 100 ms are left for b
        manual.runPending();
        assertThat(f.isDone()).isFalse();
        clock.advance(150, TimeUnit.MILLISECONDS);           // 350 ms on the executor's clock
        manual.runPending();

        assertThat(f.cause()).as("the whole wait is bounded by 300 ms of the clock its timers run on")
                .isInstanceOf(WaitTimeoutException.class);
        heldB.release();
        assertAllFull();
    }

    @Test
    void aSpentDeadlineStillAdmitsWhatIsFreeAtOnce() throws Exception {
        Future<Permit> f = all.acquire(loop, 0, TimeUnit.NANOSECONDS);
        assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(f.isSuccess()).isTrue();
        f.getNow().close();
        Permit heldB = b.tryAcquire();
        Future<Permit> g = all.acquire(loop, 0, TimeUnit.NANOSECONDS);
        assertThat(g.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(g.cause()).isInstanceOf(WaitTimeoutException.class);
        heldB.release();
        assertAllFull();
    }

    @Test
    void tryAcquireGivesBackOnTheFirstRefusal() {
        Permit heldC = c.tryAcquire();
        assertThat(all.tryAcquire()).isNull();
        assertThat(log).containsExactly("c+", "a+", "b+", "b-IGNORED", "a-IGNORED");
        heldC.release();
        Permit p = all.tryAcquire();
        assertThat(p).isNotNull();
        p.close();
        assertAllFull();
    }

    @Test
    void aPartWhoseTryAcquireThrowsGivesBackWhatWasTakenAndThrows() {
        AsyncLimiter remote = new ForwardingLimiter(AsyncLimiter.of(new AsyncSemaphore(1))) {
            @Override
            protected Permit map(Permit inner) {
                return inner;
            }

            @Override
            public Permit tryAcquire() {
                throw new UnsupportedOperationException("cannot decide without a round trip");
            }
        };
        assertThatThrownBy(() -> AsyncLimiter.all(a, remote).tryAcquire())
                .isInstanceOf(UnsupportedOperationException.class);
        assertThat(log).containsExactly("a+", "a-IGNORED");
        assertAllFull();
    }

    @Test
    void aLaterPartThatRefusesAtOnceAfterTheWalkWaitedFailsTheWaitWithItsRefusal() {
        Permit heldA = a.tryAcquire();
        AsyncLimiter tight = AsyncLimiter.all(a, new RecordingLimiter("full", new AsyncSemaphore(0, 0), log));
        Future<Permit> f = tight.acquire(NOW);
        assertThat(tight.statistics().queued()).isEqualTo(1);

        heldA.release();                                     // a is granted; `full` refuses at once

        assertThat(f.cause()).isInstanceOf(QueueFullException.class);
        assertThat(log).containsExactly("a+", "a-SUCCESS", "a+", "a-IGNORED");
        assertThat(tight.statistics().queued()).as("no longer waiting").isZero();
        assertAllFull();
    }

    @Test
    void aPartsWaitCancelledBySomeoneElseCancelsTheWaitAndGivesBack() {
        List<io.netty.util.concurrent.Promise<Permit>> pending = new ArrayList<>();
        AsyncLimiter bound = new AnsweringLimiter(executor -> {   // e.g. a wait bound to a channel
            io.netty.util.concurrent.Promise<Permit> p = executor.newPromise();
            pending.add(p);
            return p;
        });
        AsyncLimiter both = AsyncLimiter.all(a, bound);
        Future<Permit> f = both.acquire(NOW);
        assertThat(both.statistics().queued()).isEqualTo(1);

        pending.get(0).cancel(false);                        // its channel closed

        assertThat(f.isCancelled()).isTrue();
        assertThat(log).containsExactly("a+", "a-IGNORED");
        assertThat(both.statistics().queued()).as("no longer waiting").isZero();
        assertAllFull();
    }

    @Test
    void compositesNest() {
        AsyncLimiter nested = AsyncLimiter.all(AsyncLimiter.all(a, b), c);
        Permit p = nested.tryAcquire();
        p.releaseDropped();
        assertThat(log).containsExactly("a+", "b+", "c+", "c-DROPPED", "b-DROPPED", "a-DROPPED");
    }

    @Test
    void rejectsAnEmptyOrNullList() {
        assertThatThrownBy(AsyncLimiter::all).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AsyncLimiter.all(a, null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("limiters[1]");
    }

    /** A user's limiter with a bug: its acquire returns {@code null}, once {@code waitFirst} has been waited on. */
    private static AsyncLimiter nullFuture() {
        return new AnsweringLimiter(executor -> null);
    }

    @Test
    void aPartThatReturnsANullFutureIsNamedAndWhatWasHeldIsGivenBack() throws Exception {
        AsyncLimiter broken = AsyncLimiter.all(a, nullFuture());
        assertThatThrownBy(() -> broken.acquire(NOW)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("null future");
        assertThatThrownBy(() -> broken.acquire(NOW, 1, TimeUnit.SECONDS)).isInstanceOf(NullPointerException.class);
        assertThat(log).containsExactly("a+", "a-IGNORED", "a+", "a-IGNORED");
        assertAllFull();

        // the same after a wait: the part after the wait fails the composite, a's permit comes back
        Permit held = a.tryAcquire();
        Future<Permit> waiting = broken.acquire(loop);
        loop.submit(held::release).sync();
        assertThat(waiting.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(waiting.cause()).isInstanceOf(NullPointerException.class).hasMessageContaining("null future");
        assertThat(broken.statistics().queued()).isZero();
        assertAllFull();
    }

    @Test
    void theSameLimiterTwiceIsRefusedSinceItWouldWaitForItself() {
        // all(a, a) on a one-permit limiter held its permit while queuing for a second one: for ever
        assertThatThrownBy(() -> AsyncLimiter.all(a, b, a))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("limiters[2] is limiters[0]");
        assertThat(AsyncLimiter.all(a, b).acquire(NOW).isSuccess()).as("distinct limiters are fine").isTrue();
    }

    @Test
    void twoViewsOfOnePrimitiveAreRefusedSinceTheyWouldWaitForEachOther() {
        // all(of(s), of(s)) on a one-permit semaphore held its permit while queuing for a second
        // one, for ever; a read view then a write view of one lock waited for its own read lock
        AsyncSemaphore s = new AsyncSemaphore(1);
        assertThatThrownBy(() -> AsyncLimiter.all(AsyncLimiter.of(s), a, AsyncLimiter.of(s)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("limiters[2] and limiters[0] are views of one primitive");
        dev.nettysync.AsyncReadWriteLock rw = new dev.nettysync.AsyncReadWriteLock();
        assertThatThrownBy(() -> AsyncLimiter.all(AsyncLimiter.ofRead(rw), AsyncLimiter.ofWrite(rw)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(AsyncLimiter.all(AsyncLimiter.of(s), AsyncLimiter.of(new AsyncSemaphore(1))).acquire(NOW).isSuccess())
                .as("views of distinct primitives are fine").isTrue();
    }

    // ------------------------------------------------------------ executors that shut down

    @Test
    void aWaitWhoseExecutorShutsDownWhileALaterPartQueuesGivesBackThePartsItHolds() throws Exception {
        Permit heldB = b.tryAcquire();
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Permit> f = all.acquire(dying);
        Poll.assertEventually("a's grant reaches the walk on `dying`", Duration.ofSeconds(10),
                () -> b.semaphore.queueLength() == 1);
        assertThat(a.semaphore.availablePermits()).as("a is held while b queues").isZero();
        dying.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();

        heldB.release();           // b refuses its grant to the dead waiter: the composite learns of it

        assertAllFull();
        assertThat(f.isSuccess()).isFalse();
        assertThat(f.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
        assertThat(a.outcomes).containsExactly(Permit.Outcome.IGNORED);
        assertThat(all.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void aCompositeGrantedAfterItsExecutorShutDownEndsEveryPartInsteadOfCompletingIntoTheVoid() throws Exception {
        // A part that completes its future without looking at the executor (as a user's limiter may,
        // or as the library's do in the residual race): the composite's own completion is refused.
        List<io.netty.util.concurrent.Promise<Permit>> pending = new java.util.concurrent.CopyOnWriteArrayList<>();
        AsyncLimiter lax = new AnsweringLimiter(executor -> {
            io.netty.util.concurrent.Promise<Permit> p = executor.newPromise();
            pending.add(p);
            return p;
        }, () -> new LimiterStatistics(1, 0, 1, pending.size()));
        io.netty.util.concurrent.DefaultEventExecutor dying = new io.netty.util.concurrent.DefaultEventExecutor();
        Future<Permit> f = AsyncLimiter.all(a, lax).acquire(dying);
        Poll.assertEventually("the lax part is asked", Duration.ofSeconds(10), () -> pending.size() == 1);
        dying.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        RecordingLimiter laxPermits = new RecordingLimiter(1, 1);
        Permit granted = laxPermits.tryAcquire();

        assertThat(pending.get(0).trySuccess(granted)).isTrue();

        assertThat(laxPermits.outcomes).as("the last part's permit was ended").containsExactly(Permit.Outcome.IGNORED);
        assertThat(a.outcomes).as("and the first part's").containsExactly(Permit.Outcome.IGNORED);
        assertAllFull();
        assertThat(f.isSuccess()).as("nobody could ever hold the composite permit").isFalse();
        assertThat(f.cause()).isInstanceOf(java.util.concurrent.RejectedExecutionException.class);
    }
}
