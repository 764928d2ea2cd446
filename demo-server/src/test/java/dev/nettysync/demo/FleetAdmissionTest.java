package dev.nettysync.demo;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link FleetAdmission#enter} over a local admission whose enter does not complete at once (the
 * {@link Admission} contract allows it; {@link BackendLimiter} happens to answer at once). The
 * fleet limiter is a local semaphore here: enter never reaches it. The fleet wait itself runs
 * against a real redis-server in {@code FleetLimitTest} and {@code FleetRedisDownTest}.
 */
class FleetAdmissionTest {
    private static final EventExecutor EXECUTOR = ImmediateEventExecutor.INSTANCE;

    private final PendingAdmission local = new PendingAdmission();
    private final FleetAdmission admission = new FleetAdmission(local, AsyncLimiter.of(new AsyncSemaphore(1)),
            Duration.ofSeconds(1), new FleetOutage(DemoConfig.FleetWhenDown.CLOSED, new DemoMetrics()));

    @Test
    void aRequestAdmittedLocallyLaterGetsItsTicketThen() {
        Future<Admission.Ticket> entered = admission.enter(EXECUTOR);
        assertThat(entered.isDone()).isFalse();
        local.pending.setSuccess(local.ticket);
        assertThat(entered.isSuccess()).isTrue();
        entered.getNow().leave();
        assertThat(local.ticket.left).isEqualTo(1);
    }

    @Test
    void aCallerThatGivesUpLeavesTheLocalQueueToo() {
        Future<Admission.Ticket> entered = admission.enter(EXECUTOR);
        assertThat(entered.cancel(false)).isTrue();
        assertThat(local.pending.isCancelled()).as("the local wait is cancelled with it").isTrue();
        assertThat(local.ticket.left).isZero();
    }

    @Test
    void aLocalPlaceGrantedAsTheCallerGaveUpIsGivenBack() {
        Future<Admission.Ticket> entered = admission.enter(EXECUTOR);
        local.pending.setUncancellable();             // the local admission decided already
        assertThat(entered.cancel(false)).isTrue();
        local.pending.setSuccess(local.ticket);
        assertThat(local.ticket.left).as("the place nobody will use goes back, once").isEqualTo(1);
    }

    @Test
    void aLocalRefusalIsTheAnswer() {
        Future<Admission.Ticket> entered = admission.enter(EXECUTOR);
        IllegalStateException refused = new IllegalStateException("queue full");
        local.pending.setFailure(refused);
        assertThat(entered.cause()).isSameAs(refused);
    }

    @Test
    void theRefusalNowIsTheLocalPolicysTakesNoPlaceAndIsCounted() {
        // What a request expecting 100 Continue is answered instead of the 100.
        DemoMetrics metrics = new DemoMetrics();
        BackendLimiter limiter = new BackendLimiter(1, 0, Duration.ofSeconds(1), metrics);
        FleetAdmission fleet = new FleetAdmission(limiter, AsyncLimiter.of(new AsyncSemaphore(1)),
                Duration.ofSeconds(1), new FleetOutage(DemoConfig.FleetWhenDown.CLOSED, metrics));
        assertThat(fleet.refusalNow()).as("room: no refusal").isNull();
        assertThat(limiter.admitted()).as("and no place taken").isZero();

        Future<Admission.Ticket> entered = fleet.enter(EXECUTOR);
        assertThat(entered.isSuccess()).isTrue();
        assertThat(fleet.refusalNow()).as("full").isInstanceOf(dev.nettysync.QueueFullException.class);
        assertThat(limiter.admitted()).isEqualTo(1);
        assertThat(metrics.registry().get("demo.limiter.rejected").tag("reason", "queue_full").counter().count())
                .as("counted as enter's refusals are").isEqualTo(1);

        entered.getNow().leave();
        assertThat(fleet.refusalNow()).isNull();
        fleet.close();
        assertThat(fleet.refusalNow()).as("closed").isInstanceOf(dev.nettysync.ClosedException.class);
        assertThat(new PendingAdmission().refusalNow()).as("a policy that cannot tell: decided at enter").isNull();
    }

    /** A local admission whose one enter waits until the test completes it. */
    private static final class PendingAdmission implements Admission {
        final Promise<Ticket> pending = EXECUTOR.newPromise();
        final CountingTicket ticket = new CountingTicket();

        @Override
        public Future<Ticket> enter(EventExecutor executor) {
            return pending;
        }

        @Override
        public void close() {
        }
    }

    private static final class CountingTicket implements Admission.Ticket {
        int left;

        @Override
        public <T> Future<T> call(Channel channel, Supplier<? extends Future<T>> call) {
            throw new UnsupportedOperationException("not called here");
        }

        @Override
        public void leave() {
            left++;
        }
    }
}
