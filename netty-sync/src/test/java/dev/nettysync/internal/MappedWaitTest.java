package dev.nettysync.internal;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link MappedWait} on its own, over a source promise the test completes: its value is the
 * source's mapped, a cancel succeeds only while the source can be cancelled, failures pass
 * through or are recovered, and a mapped value this wait cannot take (it was completed behind
 * its back, through the {@code Promise} interface) is given back, never lost.
 */
class MappedWaitTest {
    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;

    private final Promise<Integer> source = NOW.newPromise();
    private final List<String> discarded = new CopyOnWriteArrayList<>();
    private final List<String> calls = new CopyOnWriteArrayList<>();

    /** Maps the source's {@code n} to {@code "permit n"}; gives values back into {@link #discarded}. */
    private final class Wait extends MappedWait<Integer, String> {
        private final Function<Throwable, String> recover;

        Wait(Function<Throwable, String> recover) {
            this(source, recover);
        }

        Wait(Promise<Integer> from, Function<Throwable, String> recover) {
            super(NOW, from);
            this.recover = recover;
            from.addListener(this);
        }

        @Override
        protected void sourceDone() {
            calls.add("sourceDone, done=" + isDone());
        }

        @Override
        protected String map(Integer granted) {
            calls.add("map");
            return "permit " + granted;
        }

        @Override
        protected void discard(String value) {
            discarded.add(value);
        }

        @Override
        protected String recover(Throwable cause) {
            return recover.apply(cause);
        }
    }

    private Wait plain() {
        return new Wait(cause -> null);
    }

    @Test
    void completesWithTheSourcesValueMapped() {
        Wait w = plain();
        assertThat(w.isDone()).isFalse();
        source.setSuccess(7);
        assertThat(w.getNow()).isEqualTo("permit 7");
        assertThat(discarded).isEmpty();
    }

    @Test
    void aGrantThatArrivesAfterTheWaitWasCompletedBehindItsBackIsGivenBack() {
        Wait w = plain();
        assertThat(((Promise<String>) w).trySuccess("forged")).isTrue();   // a caller who cast it
        source.setSuccess(7);
        assertThat(w.getNow()).isEqualTo("forged");
        assertThat(discarded).as("the permit the source granted is given back, not lost").containsExactly("permit 7");
    }

    @Test
    void aRecoveredFailureThatArrivesAfterTheWaitWasCompletedBehindItsBackIsGivenBack() {
        Wait w = new Wait(cause -> "fallback");
        assertThat(((Promise<String>) w).tryFailure(new IllegalStateException("forged"))).isTrue();
        source.setFailure(new IllegalStateException("undecided"));
        assertThat(w.cause()).hasMessage("forged");
        assertThat(discarded).as("the value recover made is given back").containsExactly("fallback");
    }

    @Test
    void aCancelSucceedsOnlyWhileTheSourceCanBeCancelled() {
        Wait queued = plain();
        assertThat(queued.cancel(false)).isTrue();
        assertThat(queued.isCancelled()).isTrue();
        assertThat(source.isCancelled()).as("the source left its queue").isTrue();

        Promise<Integer> grantedSource = NOW.newPromise();
        grantedSource.setUncancellable();                 // granted: the source's grant is final
        Wait granted = new Wait(grantedSource, cause -> null);
        assertThat(granted.cancel(false)).as("the grant stands").isFalse();
        grantedSource.setSuccess(3);
        assertThat(granted.getNow()).isEqualTo("permit 3");
        assertThat(discarded).isEmpty();
    }

    @Test
    void aFailedSourceFailsTheWaitUnlessRecoverGivesAValue() {
        Wait failing = plain();
        IllegalStateException cause = new IllegalStateException("queue full");
        source.setFailure(cause);
        assertThat(failing.cause()).isSameAs(cause);

        Promise<Integer> undecided = NOW.newPromise();
        Wait recovered = new Wait(undecided, c -> c.getMessage().equals("undecided") ? "fallback" : null);
        undecided.setFailure(new IllegalStateException("undecided"));
        assertThat(recovered.getNow()).as("recover's value").isEqualTo("fallback");
        assertThat(discarded).isEmpty();
    }

    @Test
    void aRecoverThatThrowsFailsTheWaitWithTheSourcesFailureSuppressed() {
        IllegalArgumentException broken = new IllegalArgumentException("recover broke");
        Wait w = new Wait(cause -> {
            throw broken;
        });
        IllegalStateException cause = new IllegalStateException("undecided");
        source.setFailure(cause);
        assertThat(w.cause()).isSameAs(broken);
        assertThat(broken.getSuppressed()).containsExactly(cause);
    }

    @Test
    void aCancelledSourceCancelsTheWait() {
        Wait w = plain();
        source.cancel(false);
        assertThat(w.isCancelled()).isTrue();
        assertThat(discarded).isEmpty();
    }

    @Test
    void sourceDoneRunsFirst() {
        Wait w = plain();
        source.setSuccess(1);
        assertThat(calls).containsExactly("sourceDone, done=false", "map");
        assertThat(w.getNow()).isEqualTo("permit 1");
    }

    @Test
    void aSourceThatCompletedBeforeTheWaitListenedStillCompletesIt() {
        source.setSuccess(5);
        Future<String> w = plain();                        // listens to a done source: runs at once
        assertThat(w.getNow()).isEqualTo("permit 5");
    }
}
