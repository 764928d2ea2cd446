package dev.nettysync.examples.support;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.nettysync.examples.support.ExampleLoops.done;
import static org.assertj.core.api.Assertions.assertThat;

class FuturesTest {

    @RegisterExtension
    static final ExampleLoops loops = new ExampleLoops();
    private static final EventExecutor a = loops.loop(0);
    private static final EventExecutor b = loops.loop(1);

    @Test
    void thenRunsTheNextStepOnTheNamedExecutorWithTheValue() {
        AtomicBoolean onB = new AtomicBoolean();
        Future<Integer> r = Futures.then(a.submit(() -> 20), b, x -> {
            onB.set(b.inEventLoop());
            return b.newSucceededFuture(x + 1);
        });
        assertThat(r.awaitUninterruptibly(10, TimeUnit.SECONDS)).isTrue();
        assertThat(r.getNow()).isEqualTo(21);
        assertThat(onB).isTrue();
        assertThat(done(Futures.map(r, a, x -> x * 2)).getNow()).isEqualTo(42);
    }

    @Test
    void aFailureOrAThrowingStepEndsTheChainWithoutRunningTheRest() {
        IllegalStateException boom = new IllegalStateException("boom");
        AtomicBoolean ran = new AtomicBoolean();
        Future<Integer> failed = Futures.then(a.<Integer>newFailedFuture(boom), a, x -> {
            ran.set(true);
            return a.newSucceededFuture(x);
        });
        assertThat(done(failed).cause()).isSameAs(boom);
        assertThat(ran).isFalse();

        Future<Integer> thrown = Futures.then(a.newSucceededFuture(1), a, x -> {
            throw boom;
        });
        assertThat(done(thrown).cause()).isSameAs(boom);
        Future<Integer> nul = Futures.then(a.newSucceededFuture(1), a, x -> null);
        assertThat(done(nul).cause()).isInstanceOf(NullPointerException.class).hasMessageContaining("null");
    }

    @Test
    void cancellingAChainCancelsTheStepItWaitsForAtOnceEvenThroughManyLevels() {
        // 50 nested steps, the innermost waiting on a 1 h timer. Netty passes a completion
        // through at most 8 nested listeners inline, so a cancel relayed by listeners would
        // reach the timer only later, from the loop's task queue; here it must be immediate.
        Promise<Future<Void>> timer = a.newPromise();              // the innermost step's sleep
        Promise<Future<Void>> built = a.newPromise();
        a.execute(() -> built.setSuccess(nest(50, timer)));
        // the steps below the 8th level are built later, from the loop's queue: wait for the last
        assertThat(timer.awaitUninterruptibly(10, TimeUnit.SECONDS)).isTrue();
        assertThat(built.awaitUninterruptibly(10, TimeUnit.SECONDS)).isTrue();
        Future<Void> chain = built.getNow();
        Promise<Boolean> cancelledAtOnce = a.newPromise();
        a.execute(() -> {
            chain.cancel(false);
            cancelledAtOnce.setSuccess(timer.getNow().isCancelled());
        });
        assertThat(cancelledAtOnce.awaitUninterruptibly(10, TimeUnit.SECONDS)).isTrue();
        assertThat(cancelledAtOnce.getNow()).as("the innermost sleep is cancelled within chain.cancel()").isTrue();
        assertThat(chain.isCancelled()).isTrue();
    }

    private static Future<Void> nest(int depth, Promise<Future<Void>> timer) {
        if (depth == 0) {
            Future<Void> t = TimeScale.REAL.sleep(a, 3600);
            timer.setSuccess(t);
            return t;
        }
        return Futures.then(a.newSucceededFuture(null), a, v -> nest(depth - 1, timer));
    }

    @Test
    void taskRunsItsBodyOnTheExecutor() {
        AtomicBoolean onA = new AtomicBoolean();
        Future<String> t = Futures.task(a, () -> {
            onA.set(a.inEventLoop());
            return a.newSucceededFuture("x");
        });
        assertThat(done(t).getNow()).isEqualTo("x");
        assertThat(onA).isTrue();
    }

    @Test
    void gatherKeepsTheOrderGivenWaitsForAllAndReportsAFailure() {
        List<Future<Integer>> fs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            int n = i;
            fs.add(TimeScale.REAL.after(i % 2 == 0 ? a : b, (10 - i) * 0.005, () -> n));
        }
        assertThat(done(Futures.gather(a, fs)).getNow()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);

        IllegalStateException boom = new IllegalStateException("boom");
        Future<Integer> slow = TimeScale.REAL.after(b, 0.05, () -> 1);
        Future<List<Integer>> g = Futures.gather(a, List.of(a.newFailedFuture(boom), slow));
        assertThat(done(g).cause()).isSameAs(boom);
        assertThat(slow.isDone()).as("gather fails only once all are done").isTrue();
    }

    @Test
    void cancellingAGatherCancelsWhatItGathers() {
        Future<Void> t1 = TimeScale.REAL.sleep(a, 3600);
        Future<Void> t2 = TimeScale.REAL.sleep(b, 3600);
        Future<List<Void>> g = Futures.gather(a, List.of(t1, t2));
        assertThat(g.cancel(false)).isTrue();
        assertThat(t1.isCancelled()).isTrue();
        assertThat(t2.isCancelled()).isTrue();
        assertThat(done(g).cause()).isInstanceOf(CancellationException.class);
    }
}
