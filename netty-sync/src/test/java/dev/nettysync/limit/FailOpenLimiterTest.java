package dev.nettysync.limit;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.testing.ManualExecutor;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link AsyncLimiter#failOpen}: admits when the limiter could not decide, and only then. */
class FailOpenLimiterTest {
    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;

    /** "Could not decide", as a store that is down would say it. */
    static final class Unreachable extends RuntimeException {
        Unreachable() {
            super("store unreachable");
        }
    }

    private static boolean unreachable(Throwable cause) {
        return cause instanceof Unreachable;
    }

    /** An inner limiter whose answers the test gives: each acquire returns the next promise. */
    static final class ScriptedLimiter implements AsyncLimiter {
        final Deque<Promise<Permit>> answers = new ArrayDeque<>();
        RuntimeException tryAcquireThrows;

        Promise<Permit> next(EventExecutor executor) {
            Promise<Permit> p = new DefaultPromise<>(executor);
            answers.add(p);
            return p;
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor) {
            return answers.remove();
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
            return answers.remove();
        }

        @Override
        public Permit tryAcquire() {
            if (tryAcquireThrows != null) {
                throw tryAcquireThrows;
            }
            return null;
        }

        @Override
        public LimiterStatistics statistics() {
            return new LimiterStatistics(7, 3, 4, 2);
        }
    }

    @Test
    void aFailureTheLimiterCouldNotDecideAdmitsWithAPermitThatHoldsNothing() {
        ScriptedLimiter inner = new ScriptedLimiter();
        AsyncLimiter open = AsyncLimiter.failOpen(inner, FailOpenLimiterTest::unreachable);

        Promise<Permit> pending = inner.next(NOW);
        Future<Permit> waiting = open.acquire(NOW);
        assertThat(waiting.isDone()).isFalse();
        pending.setFailure(new Unreachable());
        assertThat(waiting.isSuccess()).as("admitted while the limiter was down").isTrue();
        Permit unbacked = waiting.getNow();
        assertThat(unbacked.release()).isTrue();
        assertThat(unbacked.release()).as("ends once, like any permit").isFalse();

        inner.next(NOW).setFailure(new Unreachable());     // already failed when asked
        Future<Permit> atOnce = open.acquire(NOW, 1, TimeUnit.SECONDS);
        assertThat(atOnce.isSuccess()).isTrue();
        atOnce.getNow().releaseDropped();
    }

    @Test
    void aRefusalPassesThroughUnchanged() {
        ScriptedLimiter inner = new ScriptedLimiter();
        AsyncLimiter open = AsyncLimiter.failOpen(inner, FailOpenLimiterTest::unreachable);

        Promise<Permit> pending = inner.next(NOW);
        Future<Permit> waiting = open.acquire(NOW);
        WaitTimeoutException timeout = new WaitTimeoutException("too long");
        pending.setFailure(timeout);
        assertThat(waiting.cause()).isSameAs(timeout);

        QueueFullException full = new QueueFullException("full");
        inner.next(NOW).setFailure(full);
        assertThat(open.acquire(NOW).cause()).isSameAs(full);
    }

    @Test
    void aGrantIsTheLimitersOwnPermit() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter open = AsyncLimiter.failOpen(AsyncLimiter.of(sem), FailOpenLimiterTest::unreachable);

        Permit held = open.acquire(NOW).getNow();
        assertThat(sem.availablePermits()).isZero();
        Future<Permit> queued = open.acquire(NOW);
        assertThat(queued.isDone()).isFalse();
        held.release();
        assertThat(queued.isSuccess()).as("FIFO through the view").isTrue();
        queued.getNow().release();
        assertThat(sem.availablePermits()).isEqualTo(1);
        assertThat(open.tryAcquire()).isNotNull();
    }

    @Test
    void cancelBeforeTheGrantEndsTheLimitersWaitHoldingNothing() {
        AsyncSemaphore sem = new AsyncSemaphore(0);
        AsyncLimiter open = AsyncLimiter.failOpen(AsyncLimiter.of(sem), FailOpenLimiterTest::unreachable);

        Future<Permit> waiting = open.acquire(NOW);
        assertThat(sem.queueLength()).isEqualTo(1);
        assertThat(waiting.cancel(false)).isTrue();
        assertThat(waiting.isCancelled()).isTrue();
        assertThat(sem.queueLength()).as("the slot is freed at once").isZero();
        sem.release();
        assertThat(sem.availablePermits()).as("nothing was held by the cancelled wait").isEqualTo(1);
    }

    @Test
    void cancelAfterTheLimiterGrantedReturnsFalseAndTheGrantStands() {
        ManualExecutor inners = new ManualExecutor();          // holds the inner listener back
        ScriptedLimiter inner = new ScriptedLimiter();
        AsyncLimiter open = AsyncLimiter.failOpen(inner, FailOpenLimiterTest::unreachable);

        Promise<Permit> pending = inner.next(inners);
        Future<Permit> waiting = open.acquire(NOW);
        AtomicInteger ended = new AtomicInteger();
        Permit granted = new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
                ended.incrementAndGet();
            }
        };
        pending.setSuccess(granted);                           // granted; the mapping has not run yet
        assertThat(waiting.cancel(false)).as("a cancel after the grant loses").isFalse();
        inners.runPending();
        assertThat(waiting.isSuccess()).isTrue();
        assertThat(waiting.getNow()).isSameAs(granted);
        assertThat(ended).as("the caller holds it, nothing was given back behind its back").hasValue(0);
    }

    @Test
    void aThrowingPredicateFailsTheAcquireOrTryAcquireWithTheCauseSuppressed() {
        ScriptedLimiter inner = new ScriptedLimiter();
        IllegalStateException broken = new IllegalStateException("predicate broke");
        AsyncLimiter open = AsyncLimiter.failOpen(inner, cause -> {
            throw broken;
        });
        Unreachable first = new Unreachable();
        Promise<Permit> pending = inner.next(NOW);
        Future<Permit> waiting = open.acquire(NOW);
        pending.setFailure(first);
        assertThat(waiting.cause()).isSameAs(broken);
        assertThat(broken.getSuppressed()).contains(first);

        IllegalStateException broken2 = new IllegalStateException("again");
        AsyncLimiter open2 = AsyncLimiter.failOpen(inner, cause -> {
            throw broken2;
        });
        inner.next(NOW).setFailure(new Unreachable());
        assertThat(open2.acquire(NOW).cause()).as("already failed when asked").isSameAs(broken2);

        Unreachable thrown = new Unreachable();
        inner.tryAcquireThrows = thrown;
        assertThatThrownBy(open::tryAcquire).as("tryAcquire too").isSameAs(broken);
        assertThat(broken.getSuppressed()).containsExactly(first, thrown);
    }

    @Test
    void aLimiterWhoseAcquireReturnsANullFutureIsNamedNotAdmitted() {
        AsyncLimiter open = AsyncLimiter.failOpen(new dev.nettysync.testing.AnsweringLimiter(executor -> null), c -> true);
        assertThatThrownBy(() -> open.acquire(NOW)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("returned a null future");
        assertThatThrownBy(() -> open.acquire(NOW, 1, TimeUnit.SECONDS)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("returned a null future");
    }

    @Test
    void tryAcquireAndStatisticsAreTheLimiters() {
        ScriptedLimiter inner = new ScriptedLimiter();
        AsyncLimiter open = AsyncLimiter.failOpen(inner, FailOpenLimiterTest::unreachable);
        assertThat(open.tryAcquire()).as("refused").isNull();
        inner.tryAcquireThrows = new Unreachable();
        Permit unbacked = open.tryAcquire();
        assertThat(unbacked).isNotNull();
        unbacked.release();
        inner.tryAcquireThrows = new UnsupportedOperationException("needs a round trip");
        assertThatThrownBy(open::tryAcquire).isInstanceOf(UnsupportedOperationException.class);
        assertThat(open.statistics()).isEqualTo(new LimiterStatistics(7, 3, 4, 2));
        assertThat(open.toString()).startsWith("AsyncLimiter.failOpen(");
    }

    @Test
    void nullsAreRefused() {
        AsyncLimiter inner = AsyncLimiter.of(new AsyncSemaphore(1));
        assertThatThrownBy(() -> AsyncLimiter.failOpen(null, c -> true)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> AsyncLimiter.failOpen(inner, null)).isInstanceOf(NullPointerException.class);
        AsyncLimiter open = AsyncLimiter.failOpen(inner, c -> true);
        assertThatThrownBy(() -> open.acquire(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> open.acquire(NOW, 1, null)).isInstanceOf(NullPointerException.class);
    }
}
