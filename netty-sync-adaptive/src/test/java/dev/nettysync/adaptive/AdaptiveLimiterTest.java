package dev.nettysync.adaptive;

import dev.nettysync.testing.LogCapture;
import dev.nettysync.testing.ManualExecutor;
import com.netflix.concurrency.limits.Limit;
import com.netflix.concurrency.limits.limit.VegasLimit;
import com.netflix.concurrency.limits.limit.WindowedLimit;
import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.channel.ChannelLimits;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Scenario tests: each reads as the story it checks, on a scripted algorithm
 * ({@link ScriptedLimit}) and a clock the test moves, and ends by checking conservation
 * (every permit back, the semaphore's size equal to the limit in force).
 */
class AdaptiveLimiterTest {

    private static final EventExecutor NOW = ImmediateEventExecutor.INSTANCE;

    private final AtomicLong clock = new AtomicLong(1_000_000);
    private final List<AdaptiveLimiter> toCheck = new ArrayList<>();

    private AdaptiveLimiter limiter(Limit algorithm, int maxPending) {
        AdaptiveLimiter l = AdaptiveLimiter.builder().limit(algorithm).minLimit(1).maxLimit(100)
                .maxPending(maxPending).sampleWindow(Duration.ZERO).nanoClock(clock::get).build();
        toCheck.add(l);
        return l;
    }

    /** Every scenario leaves nothing held: the free permits are then exactly the limit. */
    @AfterEach
    void conservation() {
        for (AdaptiveLimiter l : toCheck) {
            LimiterStatistics s = l.statistics();
            if (s.inUse() == 0 && s.queued() == 0) {
                assertThat(s.available()).as("permits conserved in %s", l).isEqualTo(s.limit());
            }
        }
    }

    private MultiThreadIoEventLoopGroup group;   // made by realLoop(), on the test thread; shut down after the test

    /** A real NIO event loop, for the stories that need time to pass or a thread of their own. */
    private EventLoop realLoop() {
        if (group == null) {
            group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        }
        return group.next();
    }

    @AfterEach
    void shutDownRealLoop() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static Permit granted(Future<Permit> f) {
        assertThat(f.isSuccess()).as("granted: %s", f).isTrue();
        return f.getNow();
    }

    // ---------------------------------------------------------------- samples

    @Test
    void releaseFeedsTheLatencySinceTheGrantNotSinceTheRequest() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit first = granted(limiter.acquire(NOW));
        Future<Permit> queued = limiter.acquire(NOW);
        clock.addAndGet(5_000);                  // the second waits 5 µs in our queue...
        first.release();                         // (first's sample: 5 µs)
        Permit second = granted(queued);
        clock.addAndGet(300);                    // ...then runs 300 ns
        second.release();

        assertThat(algorithm.samples()).extracting(ScriptedLimit.Sample::rtt).containsExactly(5_000L, 300L);
        assertThat(algorithm.samples()).extracting(ScriptedLimit.Sample::didDrop).containsExactly(false, false);
    }

    @Test
    void inflightIsThePermitsInUseAtTheGrantThisOneIncluded() {
        ScriptedLimit algorithm = new ScriptedLimit(3);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit a = limiter.tryAcquire();
        Permit b = limiter.tryAcquire();
        Permit c = limiter.tryAcquire();
        c.release();
        b.release();
        a.release();
        assertThat(algorithm.samples()).extracting(ScriptedLimit.Sample::inflight).containsExactly(3, 2, 1);
    }

    @Test
    void droppedFeedsADropAndIgnoredFeedsNothing() {
        ScriptedLimit algorithm = new ScriptedLimit(2);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit dropped = limiter.tryAcquire();
        Permit ignored = limiter.tryAcquire();
        assertThat(dropped.releaseDropped()).isTrue();
        assertThat(ignored.releaseIgnored()).isTrue();

        assertThat(algorithm.samples()).singleElement().extracting(ScriptedLimit.Sample::didDrop).isEqualTo(true);
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(2, 0, 2, 0));
    }

    @Test
    void aSecondEndingIsANoOpWithoutASampleOrAPermit() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit p = limiter.tryAcquire();
        assertThat(p.release()).isTrue();
        assertThat(p.release()).isFalse();
        assertThat(p.releaseDropped()).isFalse();
        p.close();
        assertThat(algorithm.samples()).hasSize(1);
        assertThat(limiter.statistics().available()).as("not inflated by the double release").isEqualTo(1);
    }

    @Test
    void aThrowingAlgorithmStillGetsThePermitBack() {
        Limit broken = new ScriptedLimit(1).onEachSample(l -> {
            throw new IllegalStateException("broken algorithm (expected by the test)");
        });
        AdaptiveLimiter limiter = limiter(broken, 10);
        Permit p = limiter.tryAcquire();
        assertThat(p.release()).isTrue();
        assertThat(limiter.tryAcquire()).as("the permit came back").isNotNull().satisfies(Permit::release);
    }

    @Test
    void aThrowingAlgorithmIsLoggedInFullOnceThenAtDebugLevel() {
        List<LogRecord> records;
        try (LogCapture log = LogCapture.of(AdaptiveLimiter.class)) {
            records = log.records();
            AdaptiveLimiter limiter = limiter(new ScriptedLimit(1).onEachSample(l -> {
                throw new IllegalStateException("broken algorithm (expected by the test)");
            }), 10);
            for (int i = 0; i < 3; i++) {
                limiter.tryAcquire().release();
            }
        }
        assertThat(records).extracting(LogRecord::getLevel).containsExactly(Level.WARNING, Level.FINE, Level.FINE);
        assertThat(records).allSatisfy(r -> assertThat(r.getThrown()).hasMessageContaining("broken algorithm"));
    }

    // ---------------------------------------------------------------- resizing

    @Test
    void growingServesQueuedWaitersInFifoOrderAtOnce() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit holder = granted(limiter.acquire(NOW));
        List<Integer> order = new ArrayList<>();
        List<Future<Permit>> waiters = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int id = i;
            Future<Permit> f = limiter.acquire(NOW);
            f.addListener(x -> order.add(id));
            waiters.add(f);
        }
        assertThat(limiter.statistics().queued()).isEqualTo(4);

        algorithm.onEachSample(l -> 4);          // the holder's sample raises the limit 1 -> 4
        holder.release();

        // Before release() returned: the 3 new permits and the returned one served the 4 waiters.
        assertThat(order).containsExactly(0, 1, 2, 3);
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(4, 4, 0, 0));
        algorithm.onEachSample(l -> l);
        waiters.forEach(f -> granted(f).release());
    }

    @Test
    void aLimitThatMovesByItselfIsAppliedByTheNextAcquire() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit holder = limiter.tryAcquire();
        Future<Permit> waiter = limiter.acquire(NOW);

        algorithm.set(3);                        // no sample: the listener only records it
        assertThat(waiter.isDone()).as("nothing runs inside the algorithm's listener").isFalse();
        Future<Permit> next = limiter.acquire(NOW);
        assertThat(limiter.currentLimit()).isEqualTo(3);
        assertThat(waiter.isSuccess()).isTrue();
        assertThat(next.isSuccess()).isTrue();
        holder.release();
        granted(waiter).release();
        granted(next).release();

        algorithm.set(5);                        // and the timed acquire applies it too
        Future<Permit> timed = limiter.acquire(NOW, 1, TimeUnit.SECONDS);
        assertThat(limiter.currentLimit()).isEqualTo(5);
        granted(timed).release();
    }

    @Test
    void shrinkingNeverRevokesAHeldPermitAndLetsFewerIn() {
        ScriptedLimit algorithm = new ScriptedLimit(4);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        List<Permit> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(limiter.tryAcquire());
        }
        Future<Permit> w1 = limiter.acquire(NOW);
        Future<Permit> w2 = limiter.acquire(NOW);

        algorithm.set(1);                        // 4 -> 1 while 4 are held and 2 wait
        assertThat(limiter.tryAcquire()).isNull();
        assertThat(held).noneMatch(Permit::isReleased);
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 4, 0, 2));

        held.get(0).release();                   // pays off the shrink
        held.get(1).release();                   // pays off the shrink
        held.get(2).release();                   // pays off the shrink
        assertThat(w1.isDone()).as("3 releases only paid off the shrink").isFalse();
        held.get(3).release();                   // now 0 in use under a limit of 1
        assertThat(w1.isSuccess()).isTrue();
        assertThat(w2.isDone()).isFalse();
        granted(w1).release();
        assertThat(w2.isSuccess()).isTrue();
        granted(w2).release();
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void theSampleThatShrinksPaysWithItsOwnPermitBeforeAnyWaiterGetsIt() {
        ScriptedLimit algorithm = new ScriptedLimit(2).onEachSample(l -> l - 1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit a = limiter.tryAcquire();
        Permit b = limiter.tryAcquire();
        Future<Permit> waiter = limiter.acquire(NOW);
        a.release();                             // limit 2 -> 1: a's permit is the one removed
        assertThat(waiter.isDone()).isFalse();
        algorithm.onEachSample(l -> l);
        b.release();
        granted(waiter).release();
        assertThat(limiter.currentLimit()).isEqualTo(1);
    }

    @Test
    void theLimitIsClampedToMinAndMax() {
        ScriptedLimit algorithm = new ScriptedLimit(5);
        AdaptiveLimiter limiter = AdaptiveLimiter.builder().limit(algorithm).minLimit(3).maxLimit(8)
                .sampleWindow(Duration.ZERO).nanoClock(clock::get).build();
        toCheck.add(limiter);
        algorithm.set(1000);
        limiter.tryAcquire().release();
        assertThat(limiter.currentLimit()).isEqualTo(8);
        algorithm.set(0);
        limiter.tryAcquire().release();
        assertThat(limiter.currentLimit()).isEqualTo(3);
        assertThat(limiter.statistics().limit()).isEqualTo(3);
    }

    // ---------------------------------------------------------------- cancels never collapse the limit

    @Test
    void aBurstOfClientCancelsLeavesTheLimitWhereItWas() {
        // Real Vegas with a steady 1 ms latency: the limit it reached must survive 500 cancels,
        // each one after a long (10 ms) wait, and the same burst reported as drops must not.
        AdaptiveLimiter ignoring = vegasAtSteadyState();
        AdaptiveLimiter dropping = vegasAtSteadyState();
        int before = ignoring.currentLimit();
        assertThat(dropping.currentLimit()).isEqualTo(before);

        burst(ignoring, Permit::releaseIgnored);
        burst(dropping, Permit::releaseDropped);

        assertThat(ignoring.currentLimit()).as("cancels are ignored").isEqualTo(before);
        assertThat(dropping.currentLimit()).as("the same burst as drops collapses it (the control)")
                .isLessThan(before / 2);
    }

    private AdaptiveLimiter vegasAtSteadyState() {
        AdaptiveLimiter l = AdaptiveLimiter.builder().algorithm(AdaptiveAlgorithm.VEGAS)
                .initialLimit(10).maxLimit(100).sampleWindow(Duration.ZERO).nanoClock(clock::get).build();
        toCheck.add(l);
        for (int i = 0; i < 50; i++) {          // full use, no queueing: Vegas grows to its max
            List<Permit> all = new ArrayList<>();
            Permit p;
            while ((p = l.tryAcquire()) != null) {
                all.add(p);
            }
            clock.addAndGet(1_000_000);
            all.forEach(Permit::release);
        }
        return l;
    }

    private void burst(AdaptiveLimiter l, Consumer<Permit> end) {
        for (int i = 0; i < 500; i++) {
            Permit p = l.tryAcquire();
            clock.addAndGet(10_000_000);
            end.accept(p);
        }
    }

    @Test
    void withPermitEndsACancelledActionAsIgnored() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Promise<String> call = NOW.newPromise();
        Future<String> result = limiter.withPermit(NOW, () -> call);
        call.cancel(false);                      // e.g. the client went away and the call was cancelled
        assertThat(result.isCancelled()).isTrue();
        assertThat(algorithm.samples()).isEmpty();
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void withPermitReportsATimeoutAsADrop() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Promise<String> call = NOW.newPromise();
        Future<String> result = limiter.withPermit(NOW, () -> call);
        call.setFailure(new java.util.concurrent.TimeoutException("backend too slow"));
        assertThat(result.cause()).hasMessage("backend too slow");
        assertThat(algorithm.samples()).singleElement().extracting(ScriptedLimit.Sample::didDrop).isEqualTo(true);
    }

    // ---------------------------------------------------------------- how a wait ends

    @Test
    void cancellingAQueuedWaitLeavesTheQueueAndSamplesNothing() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit holder = limiter.tryAcquire();
        Future<Permit> waiter = limiter.acquire(NOW);
        assertThat(waiter.cancel(false)).isTrue();
        assertThat(waiter.isCancelled()).isTrue();
        assertThat(limiter.statistics().queued()).isZero();
        holder.release();
        assertThat(algorithm.samples()).hasSize(1);
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void aClientThatGoesAwayFreesItsPlaceOrItsPermitThroughTheChannelAndFeedsNoSample() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        EmbeddedChannel gone = new EmbeddedChannel();
        Permit bound = ChannelLimits.acquire(limiter, gone).getNow();
        EmbeddedChannel waiting = new EmbeddedChannel();
        Future<Permit> queued = ChannelLimits.acquire(limiter, waiting);
        assertThat(limiter.statistics().queued()).isEqualTo(1);

        waiting.close();                         // left while queued: its place is free at once
        assertThat(queued.isCancelled()).isTrue();
        assertThat(limiter.statistics().queued()).isZero();
        clock.addAndGet(5_000);
        gone.close();                            // left while holding: ended ignored, once
        assertThat(bound.isReleased()).isTrue();
        assertThat(bound.release()).as("the holder's own end comes second").isFalse();
        assertThat(algorithm.samples()).as("a client going away says nothing about the backend").isEmpty();
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void aGrantIsFinalEvenBeforeItsListenerRanOnTheWaitersExecutor() {
        ManualExecutor loop = new ManualExecutor();
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit holder = limiter.tryAcquire();
        Future<Permit> waiter = limiter.acquire(loop);
        holder.release();                        // the semaphore grants; completion hops to `loop`
        assertThat(waiter.cancel(false)).as("too late: granted").isFalse();
        loop.runPending();
        Permit p = granted(waiter);
        assertThat(limiter.statistics().inUse()).isEqualTo(1);
        p.release();
    }

    @Test
    void aCancelThatWinsBeforeTheGrantLeavesNothingHeld() {
        ManualExecutor loop = new ManualExecutor();
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit holder = limiter.tryAcquire();
        Future<Permit> waiter = limiter.acquire(loop);
        assertThat(waiter.cancel(false)).isTrue();
        assertThat(waiter.isCancelled()).as("at once, before its executor ran anything").isTrue();
        loop.runPending();
        holder.release();
        loop.runPending();
        assertThat(waiter.isCancelled()).isTrue();
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void aFullQueueRefusesAtOnce() {
        AdaptiveLimiter limiter = limiter(new ScriptedLimit(1), 1);
        Permit holder = limiter.tryAcquire();
        Future<Permit> queued = limiter.acquire(NOW);
        Future<Permit> refused = limiter.acquire(NOW);
        assertThat(refused.cause()).isInstanceOf(QueueFullException.class);
        queued.cancel(false);
        holder.release();
    }

    @Test
    void aTimedWaitExpiresHoldingNothing() throws Exception {
        EventLoop loop = realLoop();
        AdaptiveLimiter limiter = limiter(new ScriptedLimit(1), 10);
        Permit holder = limiter.tryAcquire();
        Future<Permit> waiter = limiter.acquire(loop, 20, TimeUnit.MILLISECONDS);
        assertThat(waiter.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(waiter.cause()).isInstanceOf(WaitTimeoutException.class);
        assertThat(limiter.acquire(loop, 0, TimeUnit.SECONDS).cause())
                .as("a zero timeout admits only at once").isInstanceOf(WaitTimeoutException.class);
        holder.release();
        assertThat(limiter.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }

    @Test
    void listenersRunOnTheExecutorTheCallerNamed() throws Exception {
        EventLoop loop = realLoop();
        AdaptiveLimiter limiter = limiter(new ScriptedLimit(1), 10);
        Permit holder = limiter.tryAcquire();
        CountDownLatch ran = new CountDownLatch(1);
        Thread[] on = new Thread[1];
        Future<Permit> waiter = limiter.acquire(loop);
        waiter.addListener(f -> {
            on[0] = Thread.currentThread();
            ran.countDown();
        });
        holder.release();                    // on the test thread
        assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(loop.inEventLoop(on[0])).isTrue();
        waiter.getNow().release();
    }

    @Test
    void closeFailsWaitersAndLaterAcquiresButHoldersMayStillRelease() {
        ScriptedLimit algorithm = new ScriptedLimit(1);
        AdaptiveLimiter limiter = limiter(algorithm, 10);
        Permit holder = limiter.tryAcquire();
        Future<Permit> waiter = limiter.acquire(NOW);
        assertThat(limiter.isClosed()).isFalse();
        limiter.close();
        assertThat(limiter.isClosed()).isTrue();
        assertThat(waiter.cause()).isInstanceOf(ClosedException.class);
        assertThat(limiter.acquire(NOW).cause()).isInstanceOf(ClosedException.class);
        assertThat(limiter.tryAcquire()).isNull();
        assertThat(holder.release()).isTrue();
        assertThat(algorithm.samples()).hasSize(1);
    }

    // ---------------------------------------------------------------- configuration

    @Test
    void eachShippedAlgorithmStartsAtTheInitialLimit() {
        for (AdaptiveAlgorithm a : AdaptiveAlgorithm.values()) {
            AdaptiveLimiter l = AdaptiveLimiter.builder().algorithm(a).initialLimit(7).minLimit(2).maxLimit(50).build();
            assertThat(l.currentLimit()).as(a.name()).isEqualTo(7);
            assertThat(l.statistics()).as(a.name()).isEqualTo(new LimiterStatistics(7, 0, 7, 0));
        }
    }

    @Test
    void algorithmNamesParseCaseInsensitivelyAndBadOnesSayWhatIsAccepted() {
        assertThat(AdaptiveAlgorithm.parse("vegas")).isEqualTo(AdaptiveAlgorithm.VEGAS);
        assertThat(AdaptiveAlgorithm.parse(" Gradient2 ")).isEqualTo(AdaptiveAlgorithm.GRADIENT2);
        assertThat(AdaptiveAlgorithm.parse("AIMD")).isEqualTo(AdaptiveAlgorithm.AIMD);
        assertThatThrownBy(() -> AdaptiveAlgorithm.parse("gradient"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("vegas, gradient2 or aimd");
        assertThatThrownBy(() -> AdaptiveAlgorithm.parse(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theDefaultInitialLimitFitsTheBoundsTheCallerSet() {
        // 20 is only a default: bounds that exclude it must not make build() fail
        assertThat(AdaptiveLimiter.builder().maxLimit(10).build().currentLimit()).isEqualTo(10);
        assertThat(AdaptiveLimiter.builder().minLimit(50).maxLimit(100).build().currentLimit()).isEqualTo(50);
        assertThat(AdaptiveLimiter.builder().minLimit(5).maxLimit(100).build().currentLimit()).isEqualTo(20);
    }

    @Test
    void badBuilderSettingsAreRefusedWithTheValue() {
        assertThatThrownBy(() -> AdaptiveLimiter.builder().minLimit(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was 0");
        assertThatThrownBy(() -> AdaptiveLimiter.builder().maxPending(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was -1");
        assertThatThrownBy(() -> AdaptiveLimiter.builder().minLimit(10).maxLimit(5).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("minLimit 10 > maxLimit 5");
        assertThatThrownBy(() -> AdaptiveLimiter.builder().initialLimit(500).maxLimit(200).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("initialLimit 500");
        assertThatThrownBy(() -> AdaptiveLimiter.builder().sampleWindow(Duration.ofMillis(50)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(">= 100 ms, was PT0.05S");
        assertThatThrownBy(() -> AdaptiveLimiter.builder().limit(VegasLimit.newDefault()).initialLimit(5).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("brings its own initial limit");
    }

    @Test
    void aBoundTheCallerNeverSetIsNamedAsTheDefaultWhenItConflicts() {
        assertThatThrownBy(() -> AdaptiveLimiter.builder().minLimit(500).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("minLimit 500 > maxLimit 200 (the default)").hasMessageContaining("set maxLimit");
        assertThatThrownBy(() -> AdaptiveLimiter.builder().initialLimit(500).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("initialLimit 500 outside [minLimit 1 (the default), maxLimit 200 (the default)]");
    }

    @Test
    void everyBoundIsInclusive() {
        AdaptiveLimiter fixed = AdaptiveLimiter.builder().initialLimit(1).minLimit(1).maxLimit(1).maxPending(0).build();
        Permit only = fixed.tryAcquire();
        assertThat(fixed.acquire(NOW).cause()).as("maxPending 0: never waits").isInstanceOf(QueueFullException.class);
        only.release();
        assertThat(AdaptiveLimiter.builder().minLimit(5).maxLimit(5).build().currentLimit()).isEqualTo(5);
        assertThat(AdaptiveLimiter.builder().initialLimit(5).minLimit(5).maxLimit(9).build().currentLimit()).isEqualTo(5);
        assertThat(AdaptiveLimiter.builder().initialLimit(9).minLimit(5).maxLimit(9).build().currentLimit()).isEqualTo(9);
        assertThat(AdaptiveLimiter.builder().sampleWindow(Duration.ofMillis(100)).build().currentLimit()).isEqualTo(20);
        assertThat(AdaptiveLimiter.builder().sampleWindow(Duration.ofNanos(Long.MAX_VALUE)).build().currentLimit()).isEqualTo(20);
    }

    @Test
    void theAlgorithmIsTheCallersLimitOrAWindowAroundIt() {
        ScriptedLimit algorithm = new ScriptedLimit(3);
        assertThat(limiter(algorithm, 10).algorithm()).isSameAs(algorithm);
        assertThat(AdaptiveLimiter.builder().limit(new ScriptedLimit(3)).build().algorithm()).isInstanceOf(WindowedLimit.class);
    }

    @Test
    void aLimitThatMovesWhileBuildRegistersItsListenerIsNotLost() {
        // stands for a sample on another thread landing between the limiter's construction and
        // the registration of its change listener
        Limit movesAsItIsWatched = new Limit() {
            private int limit = 4;

            @Override
            public int getLimit() {
                return limit;
            }

            @Override
            public void notifyOnChange(Consumer<Integer> consumer) {
                limit = 9;
            }

            @Override
            public void onSample(long startTime, long rtt, int inflight, boolean didDrop) {
            }
        };
        AdaptiveLimiter limiter = limiter(movesAsItIsWatched, 10);
        limiter.tryAcquire().release();
        assertThat(limiter.currentLimit()).isEqualTo(9);
    }

    @Test
    void aSampleWindowTooLongForNanosecondsIsRefusedByTheSetterNotByBuild() {
        assertThatThrownBy(() -> AdaptiveLimiter.builder().sampleWindow(Duration.ofSeconds(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sampleWindow");
        assertThat(AdaptiveLimiter.builder().sampleWindow(Duration.ofDays(365)).build().currentLimit()).isEqualTo(20);
    }

    // ---------------------------------------------------------------- executors that shut down

    @Test
    void anUntimedWaitWhoseExecutorShutDownHandsItsPermitOnHoldingNothing() {
        AdaptiveLimiter limiter = limiter(new ScriptedLimit(1), 10);
        Permit held = limiter.tryAcquire();
        DefaultEventExecutor dying = new DefaultEventExecutor();
        Future<Permit> onDying = limiter.acquire(dying);
        Future<Permit> next = limiter.acquire(NOW);
        dying.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();

        held.release();                          // its turn: the dead executor's wait is refused

        granted(next).release();                 // and the permit goes on to the next waiter
        assertThat(onDying.isDone()).as("never completed: none of its listeners could run").isFalse();
        assertThat(limiter.statistics().queued()).isZero();
    }

    @Test
    void aTimedWaitEndsAsItsExecutorShutsDown() {
        AdaptiveLimiter limiter = limiter(new ScriptedLimit(1), 10);
        Permit held = limiter.tryAcquire();
        DefaultEventExecutor dying = new DefaultEventExecutor();
        Future<Permit> onDying = limiter.acquire(dying, 1, TimeUnit.HOURS);

        dying.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();

        assertThat(onDying.isDone()).as("ended by the shutdown's cancel of its timer").isTrue();
        assertThat(onDying.cause()).isInstanceOf(RejectedExecutionException.class);
        assertThat(limiter.statistics().queued()).isZero();
        held.release();
    }
}
