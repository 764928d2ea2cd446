package dev.nettysync.limit;

import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncReadWriteLock;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.WaitTimeoutException;
import dev.nettysync.channel.ChannelLimits;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The clauses of the limiter shape (docs/limiters.md: a permit ends exactly once; a cancel or a
 * timeout holds nothing; a wait bound to a channel is cancelled when it closes and a bound permit
 * is ended, ignored, once; a rate refusal says when), each run over <em>every</em> limiter of this
 * module with the same story, so that a limiter added later, or one whose own tests check a
 * clause only through another limiter, cannot drift from it: the views of a semaphore, a lock and
 * both sides of a read-write lock, a key of a {@link KeyedLimiter}, {@link AsyncLimiter#all} of a
 * key and a global limit, {@link AsyncLimiter#failOpen}, and {@link AsyncRateLimiter} (whose
 * permits give nothing back: its capacity comes back with time, which the test moves).
 *
 * <p>Each story fills the limiter with {@code tryAcquire}, so "exactly one more is admitted" is
 * the conservation check: a permit given back twice would admit two, a wait that kept what it
 * was cancelled with would admit none.
 */
class LimiterShapeTest {

    /**
     * A limiter under test: {@code capacity} admissions at once; {@code freeOne} makes room for
     * exactly one more admission in a full limiter without ending a permit (a rate: one interval
     * passes), or is {@code null} when only an end makes room (then it gives back one).
     */
    record Subject(String name, AsyncLimiter limiter, int capacity, Runnable freeOne) {
        boolean givesBack() {
            return freeOne == null;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private final EmbeddedChannel channel = new EmbeddedChannel();
    private final List<Permit> toEnd = new ArrayList<>();

    @AfterEach
    void endEverything() {
        toEnd.forEach(Permit::releaseIgnored);
        channel.finishAndReleaseAll();
    }

    static Stream<Named<Supplier<Subject>>> limiters() {
        return Stream.<Supplier<Subject>>of(
                () -> new Subject("of(semaphore)", AsyncLimiter.of(new AsyncSemaphore(2, 8)), 2, null),
                () -> new Subject("of(lock)", AsyncLimiter.of(new AsyncLock(8)), 1, null),
                () -> new Subject("ofRead(rw)", AsyncLimiter.ofRead(new AsyncReadWriteLock(2, 8)), 2, null),
                () -> new Subject("ofWrite(rw)", AsyncLimiter.ofWrite(new AsyncReadWriteLock(2, 8)), 1, null),
                () -> new Subject("KeyedLimiter.forKey",
                        KeyedLimiter.builder((String k) -> AsyncLimiter.of(new AsyncSemaphore(2, 8))).build().forKey("k"),
                        2, null),
                () -> new Subject("all(key, global)", AsyncLimiter.all(
                        KeyedLimiter.builder((String k) -> AsyncLimiter.of(new AsyncSemaphore(3, 8))).build().forKey("k"),
                        AsyncLimiter.of(new AsyncSemaphore(2, 8))), 2, null),
                () -> new Subject("failOpen(semaphore)",
                        AsyncLimiter.failOpen(AsyncLimiter.of(new AsyncSemaphore(2, 8)), cause -> false), 2, null),
                LimiterShapeTest::rate)
                .map(make -> Named.of(make.get().name(), make));
    }

    /** 10/s, bursts of 2, on a clock that moves only when the test says. */
    private static Subject rate() {
        MockTicker clock = Ticker.newMockTicker();
        AsyncRateLimiter rate = AsyncRateLimiter.builder(10, Duration.ofSeconds(1)).burst(2).ticker(clock).build();
        return new Subject("AsyncRateLimiter", rate, 2, () -> clock.advance(100, MILLISECONDS));
    }

    private EventExecutor loop() {
        return channel.eventLoop();
    }

    /** Takes the whole capacity with tryAcquire; the next tryAcquire is refused. */
    private List<Permit> fill(Subject s) {
        List<Permit> held = new ArrayList<>();
        for (int i = 0; i < s.capacity(); i++) {
            Permit p = s.limiter().tryAcquire();
            assertThat(p).as("%s: admission %d of %d", s, i + 1, s.capacity()).isNotNull();
            held.add(p);
        }
        toEnd.addAll(held);
        assertThat(s.limiter().tryAcquire()).as("%s: full", s).isNull();
        return held;
    }

    /** Room for one more in a full limiter: by ending {@code held}, or (a rate) by time. */
    private static void makeRoom(Subject s, Permit held) {
        if (s.givesBack()) {
            assertThat(held.release()).isTrue();
        } else {
            s.freeOne().run();
        }
    }

    /** Exactly {@code n} more are admitted now, no more (ended again, a permit is not given back twice). */
    private void admitsExactly(Subject s, int n, String why) {
        for (int i = 0; i < n; i++) {
            Permit p = s.limiter().tryAcquire();
            assertThat(p).as("%s: %s: admission %d of %d", s, why, i + 1, n).isNotNull();
            toEnd.add(p);
        }
        assertThat(s.limiter().tryAcquire()).as("%s: %s: no admission beyond %d", s, why, n).isNull();
    }

    /** After one end in a full limiter: one more is admitted, or none for a rate (its permits give nothing back). */
    private void admitsWhatOneEndGaveBack(Subject s, String why) {
        admitsExactly(s, s.givesBack() ? 1 : 0, s.givesBack() ? why : "a rate's permit gives nothing back");
    }

    // ---------------------------------------------------------------- a permit ends exactly once

    static Stream<Consumer<Permit>> firstEnds() {
        return Stream.of(Permit::release, Permit::releaseDropped, Permit::releaseIgnored, Permit::close);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("limiters")
    void theFirstEndCountsAndEveryLaterOneIsANoOp(Supplier<Subject> make) {
        List<Consumer<Permit>> ends = firstEnds().toList();
        for (int e = 0; e < ends.size(); e++) {
            Subject s = make.get();
            List<Permit> held = fill(s);
            Permit p = held.get(0);
            assertThat(p.isReleased()).isFalse();
            ends.get(e).accept(p);
            assertThat(p.isReleased()).as("%s: ended by end #%d", s, e).isTrue();
            assertThat(p.release()).as("%s: a later release", s).isFalse();
            assertThat(p.releaseDropped()).as("%s: a later releaseDropped", s).isFalse();
            assertThat(p.releaseIgnored()).as("%s: a later releaseIgnored", s).isFalse();
            p.close();
            admitsWhatOneEndGaveBack(s, "one end gave back one permit, five ends still one");
        }
    }

    // ---------------------------------------------------------------- a cancel or a timeout holds nothing

    @ParameterizedTest(name = "{0}")
    @MethodSource("limiters")
    void aCancelledWaitHoldsNothingAndLeavesTheQueueAtOnce(Supplier<Subject> make) {
        queuedWaitEndsHoldingNothing(make.get(), l -> l.acquire(loop()), wait ->
                assertThat(wait.cancel(false)).as("a wait not granted yet is cancelled").isTrue());
    }

    /**
     * In a full limiter, a wait queued by {@code queue} and ended by {@code end} (the caller's
     * cancel, its channel's close) is cancelled, leaves the queue at once and took nothing: the
     * room made next admits exactly one.
     */
    private void queuedWaitEndsHoldingNothing(Subject s, Function<AsyncLimiter, Future<Permit>> queue,
                                              Consumer<Future<Permit>> end) {
        List<Permit> held = fill(s);
        Future<Permit> wait = queue.apply(s.limiter());
        assertThat(wait.isDone()).as("%s: queued", s).isFalse();
        assertThat(s.limiter().statistics().queued()).as("%s: queued", s).isEqualTo(1);

        end.accept(wait);
        assertThat(wait.isCancelled()).as("%s: cancelled", s).isTrue();
        assertThat(s.limiter().statistics().queued()).as("%s: left the queue at once", s).isZero();
        makeRoom(s, held.get(0));
        admitsExactly(s, 1, "the cancelled wait took nothing");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("limiters")
    void aTimedWaitThatCannotBeGrantedHoldsNothingAndARateSaysWhenItCould(Supplier<Subject> make) {
        Subject s = make.get();
        List<Permit> held = fill(s);
        channel.freezeTime();
        Future<Permit> wait = s.limiter().acquire(loop(), 10, MILLISECONDS);
        if (s.givesBack()) {
            assertThat(wait.isDone()).as("%s: waits", s).isFalse();
            channel.advanceTimeBy(10, MILLISECONDS);
            channel.runScheduledPendingTasks();
            assertThat(wait.cause()).as("%s", s).isInstanceOf(WaitTimeoutException.class);
        } else {
            assertThat(wait.cause()).as("%s: refused at once, with when", s).isInstanceOf(RateLimitedException.class);
            assertThat(((RateLimitedException) wait.cause()).retryAfterNanos())
                    .as("%s: one interval", s).isEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
        }
        assertThat(s.limiter().statistics().queued()).as("%s", s).isZero();
        makeRoom(s, held.get(0));
        admitsExactly(s, 1, "the timed-out wait took nothing");
    }

    // ---------------------------------------------------------------- waits and permits bound to a channel

    @ParameterizedTest(name = "{0}")
    @MethodSource("limiters")
    void aBoundWaitIsCancelledWhenTheChannelClosesAndFreesItsPlaceAtOnce(Supplier<Subject> make) {
        queuedWaitEndsHoldingNothing(make.get(), l -> ChannelLimits.acquire(l, channel), wait -> channel.close());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("limiters")
    void aBoundPermitIsEndedOnceWhenTheChannelClosesAndNotAgainByItsHolder(Supplier<Subject> make) {
        Subject s = make.get();
        Future<Permit> f = ChannelLimits.acquire(s.limiter(), channel);
        assertThat(f.isSuccess()).as("%s: admitted at once", s).isTrue();
        Permit bound = f.getNow();
        List<Permit> others = new ArrayList<>();
        for (int i = 1; i < s.capacity(); i++) {
            others.add(s.limiter().tryAcquire());
        }
        toEnd.addAll(others);
        assertThat(s.limiter().tryAcquire()).as("%s: full", s).isNull();

        channel.close();
        assertThat(bound.isReleased()).as("%s: ended by the close", s).isTrue();
        assertThat(bound.release()).as("%s: the holder's end comes second", s).isFalse();
        assertThat(bound.releaseDropped()).isFalse();
        admitsWhatOneEndGaveBack(s, "the close gave back one permit, the holder's later end nothing");
    }

    // ---------------------------------------------------------------- a rate refusal says when, through every wrapper

    @Test
    void aRateRefusalKeepsItsRetryAfterThroughEveryWrapperAndTheWrappersHoldNothing() {
        for (int i = 0; i < 4; i++) {
            Subject r = rate();
            fill(r);
            AsyncSemaphore global = new AsyncSemaphore(1);
            KeyedLimiter<String> perKey = KeyedLimiter.builder((String k) -> r.limiter()).build();
            AsyncLimiter wrapped = switch (i) {
                case 0 -> perKey.forKey("k");
                case 1 -> AsyncLimiter.all(AsyncLimiter.of(global), r.limiter());   // the global permit is taken first
                case 2 -> AsyncLimiter.failOpen(r.limiter(), cause -> false);
                default -> ChannelLimits.forChannel(r.limiter(), channel);
            };
            Future<Permit> f = wrapped.acquire(loop(), 0, TimeUnit.SECONDS);
            assertThat(f.cause()).as("%s", wrapped).isInstanceOf(RateLimitedException.class);
            assertThat(((RateLimitedException) f.cause()).retryAfterNanos())
                    .as("%s: says when", wrapped).isEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
            assertThat(global.availablePermits()).as("%s: gave back what it held", wrapped).isEqualTo(1);
            assertThat(perKey.refs("k")).as("%s: no key held", wrapped).isLessThanOrEqualTo(0);
        }
    }
}
