package dev.nettysync.limit;

import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The hand-over {@link CompositeLimiter} and {@link KeyedLimiter} share, directly: each permit
 * handed over is either the caller's, on the caller's executor, or ended as ignored; never both,
 * never neither.
 */
class PermitHandOverTest {

    private final RecordingLimiter limiter = new RecordingLimiter(1, 1);
    private final DefaultEventExecutor loop = new DefaultEventExecutor();

    @AfterEach
    void shutdown() {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** A hand-over that counts its {@link PermitHandOver#handedOver()} calls. */
    static final class Counted extends PermitHandOver {
        final AtomicInteger handedOver = new AtomicInteger();

        Counted(EventExecutor executor) {
            super(executor);
        }

        @Override
        String refusedWait() {
            return "the test's wait (its permit was ended)";
        }

        @Override
        void handedOver() {
            handedOver.incrementAndGet();
        }
    }

    @Test
    void onItsOwnExecutorThePermitIsTheCallersAtOnce() throws Exception {
        Counted wait = new Counted(loop);
        Permit permit = limiter.tryAcquire();
        loop.submit(() -> {
            wait.handOver(permit);
            assertThat(wait.getNow()).as("completed inline").isSameAs(permit);
        }).sync();
        assertThat(wait.handedOver).hasValue(1);
        assertThat(limiter.outcomes).as("nothing ended").isEmpty();
    }

    @Test
    void fromAnotherThreadItIsCompletedByATaskOnTheCallersExecutor() throws Exception {
        Counted wait = new Counted(loop);
        AtomicReference<Boolean> listenerOnLoop = new AtomicReference<>();
        wait.addListener(f -> listenerOnLoop.set(loop.inEventLoop()));
        wait.handOver(limiter.tryAcquire());
        assertThat(wait.sync().getNow()).isNotNull();
        loop.submit(() -> { }).sync();
        assertThat(listenerOnLoop.get()).as("the caller's listener ran on its executor").isTrue();
        assertThat(wait.handedOver).hasValue(1);
        assertThat(limiter.outcomes).isEmpty();
    }

    @Test
    void aPermitArrivingAfterTheWaitWasCancelledIsEndedAsIgnored() throws Exception {
        Counted wait = new Counted(loop);
        assertThat(wait.cancel(false)).isTrue();
        loop.submit(() -> wait.handOver(limiter.tryAcquire())).sync();
        assertThat(wait.isCancelled()).isTrue();
        assertThat(limiter.outcomes).as("the permit was ended").containsExactly(Permit.Outcome.IGNORED);
        assertThat(wait.handedOver).as("the hand-over did not complete the wait").hasValue(0);
        assertThat(limiter.tryAcquire()).as("the permit is back").isNotNull();
    }

    @Test
    void aCallerWhoseExecutorShutDownFailsAndThePermitIsEnded() {
        DefaultEventExecutor dead = new DefaultEventExecutor();
        dead.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        Counted wait = new Counted(dead);
        wait.handOver(limiter.tryAcquire());
        assertThat(limiter.outcomes).as("nobody could ever hold it: ended").containsExactly(Permit.Outcome.IGNORED);
        assertThat(wait.cause()).isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("is shut down: it could never run the listeners of its wait for the test's wait");
        assertThat(wait.handedOver).hasValue(1);
    }

    @Test
    void aPermitWhoseEndThrowsOnRefusalStillFailsTheCaller() {
        DefaultEventExecutor dead = new DefaultEventExecutor();
        dead.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        Counted wait = new Counted(dead);
        Permit broken = new AbstractPermit() {
            @Override
            protected void onEnd(Outcome outcome) {
                throw new IllegalStateException("a part's release threw");
            }
        };
        assertThatThrownBy(() -> wait.handOver(broken)).hasMessage("a part's release threw");
        Future<Permit> f = wait;
        assertThat(f.cause()).as("the caller is not left waiting").isInstanceOf(RejectedExecutionException.class);
        assertThat(wait.handedOver).hasValue(1);
    }
}
