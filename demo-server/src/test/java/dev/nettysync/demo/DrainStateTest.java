package dev.nettysync.demo;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/** The server's in-flight count and drain flag, alone: when the drain is done, and once. */
class DrainStateTest {

    @Test
    void theDrainEndsWhenTheLastRequestInProgressEndsNotBefore() {
        DrainState d = new DrainState();
        d.requestStarted();
        d.requestEnded();
        assertThat(d.drained().isDone()).as("not draining: a server that goes idle is not drained").isFalse();
        d.requestStarted();
        d.requestStarted();

        assertThat(d.startDraining()).isTrue();
        assertThat(d.isDraining()).isTrue();
        assertThat(d.activeRequests()).isEqualTo(2);
        assertThat(d.drained().isDone()).as("two requests in progress").isFalse();
        d.requestEnded();
        assertThat(d.drained().isDone()).as("one request in progress").isFalse();
        d.requestEnded();
        assertThat(d.drained().isSuccess()).as("the last one ended").isTrue();
    }

    @Test
    void anIdleServersDrainEndsAtOnceAndStartsOnce() {
        DrainState d = new DrainState();
        assertThat(d.isDraining()).isFalse();
        assertThat(d.startDraining()).isTrue();
        assertThat(d.drained().isSuccess()).isTrue();
        assertThat(d.startDraining()).as("the second call").isFalse();
        assertThat(d.giveUp(new TimeoutException("drain timeout"))).as("already drained").isFalse();
    }

    @Test
    void theDrainTimeoutEndsTheDrainOnceAndALaterEndChangesNothing() {
        DrainState d = new DrainState();
        d.requestStarted();
        d.startDraining();
        TimeoutException timeout = new TimeoutException("drain timeout");
        assertThat(d.giveUp(timeout)).isTrue();
        assertThat(d.giveUp(new TimeoutException("again"))).isFalse();
        d.requestEnded();
        assertThat(d.drained().cause()).isSameAs(timeout);
        assertThat(d.activeRequests()).isZero();
    }
}
