package dev.nettysync.limit;

import dev.nettysync.AbstractLincheckTest;
import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.testing.NoLeakTracking;
import dev.nettysync.testing.SweptTimersExecutor;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Ticker;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.lincheck.Lincheck;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Lincheck for {@link KeyedLimiter}'s life of a key: two keys, each a one-permit bounded
 * semaphore, under a cap of <em>one</em> live key with no idle time, so that every new key must
 * evict the other one (if it is at rest) and a key's reference count races its eviction at every
 * step. Threads race {@code tryAcquire}, {@code release} (of the permit a key's holder has),
 * {@code evictIdle} and a shutting-down executor's sweep of timers; one thread (the
 * {@code waiter} group) queues untimed and timed waits and cancels its oldest one. A granted
 * wait's permit goes to its key's holder slot, as a {@code tryAcquire}'s does.
 *
 * <p>After every scenario {@link #nothingLeaksAndNoKeyIsDroppedInUse} checks:
 * <ul>
 *   <li>never two holders of a key (a key evicted in use would come back as a fresh limiter and
 *       grant a second permit);</li>
 *   <li>each key's reference count is its holder plus its pending waits, its limiter's
 *       statistics say the same, nobody waits on a key whose permit is free, and the live keys
 *       are those in the map, within the cap;</li>
 *   <li>no key's limiter is examined for eviction before its creator asked it for a permit;</li>
 *   <li>once the test cancels what is pending and ends what is held: every key is evicted by a
 *       sweep, and every semaphore the factory made has its permit back and nobody queued (the
 *       semaphores are bounded: a permit given back twice throws, which fails the history).</li>
 * </ul>
 * The operations return nothing: what is checked is the validation above, not the order of
 * the results. A refusal at the cap is not linearizable, and this test found so: a sweep
 * ({@code evictIdle}, or a new key's two steps of the hand) takes a key out of the hand while it
 * examines it, and a new key that looks for a victim meanwhile finds none and is refused (the
 * cap is approximate by contract: the class comment says so). Every other result follows from
 * the refusals (a {@code release} ends what a {@code tryAcquire} got). It also found a new key's
 * entry evicted at rest by a sweep between its creation and its creator's first enter (a second
 * factory call for the key, or the key refused); entries are now created entered, and
 * {@link Watched} fails any scenario where a sweep examines a key's limiter before its creator
 * asked it; {@link #aNewKeyCannotBeEvictedBeforeItsCreatorHasAskedIt} checks that race alone.
 */
@Param(name = "k", gen = IntGen.class, conf = "0:1")
@ExtendWith(NoLeakTracking.class)
public class KeyedLimiterLincheckTest extends AbstractLincheckTest {
    private static final int KEYS = 2;

    private final ConcurrentLinkedQueue<AsyncBoundedSemaphore> made = new ConcurrentLinkedQueue<>();
    private final AtomicReference<String> examinedUnasked = new AtomicReference<>();
    private final KeyedLimiter<Integer> keyed = KeyedLimiter.<Integer>builder(key -> {
        AsyncBoundedSemaphore s = new AsyncBoundedSemaphore(1);
        made.add(s);
        return new Watched(key, AsyncLimiter.of(s));
    }).maxKeys(1).idleTime(Duration.ZERO).ticker(new FrozenTicker()).build();
    private final AtomicReferenceArray<Permit> holder = new AtomicReferenceArray<>(KEYS);
    private final AtomicReference<String> secondHolder = new AtomicReference<>();
    private final SweptTimersExecutor timers = new SweptTimersExecutor();
    private final List<Future<Permit>> acquires = new ArrayList<>();   // waiter thread only
    private final List<Integer> keys = new ArrayList<>();              // key of each acquire; idem
    private int cancelled;                                              // acquires[0..cancelled) had cancel called

    @Operation
    public void tryAcquire(@Param(name = "k") int k) {
        Permit p = keyed.tryAcquire(k);
        if (p != null) {
            hold(k, p);
        }
    }

    /** Ends the permit key {@code k}'s holder has, if any; a permit that refuses its first end fails the run. */
    @Operation
    public void release(@Param(name = "k") int k) {
        Permit p = holder.getAndSet(k, null);
        if (p != null && !p.release()) {
            throw new IllegalStateException(p + " refused its first end");
        }
    }

    @Operation
    public void evictIdle() {
        keyed.evictIdle();
    }

    @Operation(nonParallelGroup = "waiter")
    public void acquire(@Param(name = "k") int k) {
        follow(k, keyed.acquire(k, ImmediateEventExecutor.INSTANCE));
    }

    /** A timed wait whose timer never fires by itself (see executorCancelsOldestTimer). */
    @Operation(nonParallelGroup = "waiter")
    public void acquireTimed(@Param(name = "k") int k) {
        follow(k, keyed.acquire(k, timers, 1, TimeUnit.HOURS));
    }

    /**
     * What a shutting-down executor does to each of its timers: cancels the oldest, inline. On one
     * thread (the {@code sweeper} group): two sweeps are not one step (the second can find no
     * timer left while the first has not yet ended the wait it took), which no sequential order
     * explains; a sweep still races grants, cancels and the waiter.
     */
    @Operation(nonParallelGroup = "sweeper")
    public void executorCancelsOldestTimer() {
        timers.cancelOldestTimer();
    }

    /** Cancels the oldest acquire not cancelled yet (granted or not). */
    @Operation(nonParallelGroup = "waiter")
    public void cancelOldest() {
        if (cancelled < acquires.size()) {
            acquires.get(cancelled++).cancel(false);
        }
    }

    private void follow(int k, Future<Permit> f) {
        acquires.add(f);
        keys.add(k);
        f.addListener(done -> {
            if (done.isSuccess()) {
                hold(k, (Permit) done.getNow());
            }
        });
    }

    private void hold(int k, Permit p) {
        if (!holder.compareAndSet(k, null, p)) {
            secondHolder.compareAndSet(null, "key " + k + " granted " + p + " while " + holder.get(k) + " held it");
        }
    }

    @Validate
    public void nothingLeaksAndNoKeyIsDroppedInUse() {
        check(secondHolder.get() == null, String.valueOf(secondHolder.get()));
        int[] pending = new int[KEYS];
        for (int i = 0; i < acquires.size(); i++) {
            Future<Permit> f = acquires.get(i);
            if (!f.isDone()) {
                pending[keys.get(i)]++;
            } else if (f.isSuccess()) {
                check(holder.get(keys.get(i)) == f.getNow() || f.getNow().isReleased(),
                        "granted " + f.getNow() + " is neither held nor ended");
            }
        }
        int live = 0;
        for (int k = 0; k < KEYS; k++) {
            int held = holder.get(k) != null ? 1 : 0;
            long refs = keyed.refs(k);
            if (refs < 0) {
                check(held + pending[k] == 0, "key " + k + " is gone with " + held + " held, " + pending[k] + " pending");
            } else {
                live++;
                check(refs == held + pending[k], "key " + k + ": refs " + refs + " for " + held + " held, "
                        + pending[k] + " pending");
            }
            check(pending[k] == 0 || held == 1, "key " + k + " has " + pending[k] + " waiting while its permit is free");
            if (refs >= 0) {                        // (a gone key's statistics would come from a fresh limiter)
                LimiterStatistics s = keyed.statistics(k);
                check(s.inUse() == held && s.queued() == pending[k], "key " + k + ": " + s + " for " + held
                        + " held, " + pending[k] + " pending");
            }
        }
        check(examinedUnasked.get() == null, String.valueOf(examinedUnasked.get()));
        check(keyed.liveKeys() == live && live <= 1, keyed + " with " + live + " key(s) in the map");

        // Quiescence: nothing pending, nothing held; then every key goes and every permit is back.
        for (Future<Permit> f : acquires) {
            f.cancel(false);
        }
        for (int k = 0; k < KEYS; k++) {
            release(k);
        }
        check(holder.get(0) == null && holder.get(1) == null, "a cancelled wait was granted");
        keyed.evictIdle();
        check(keyed.liveKeys() == 0 && keyed.refs(0) == -1 && keyed.refs(1) == -1,
                keyed + " kept a key at rest: refs " + keyed.refs(0) + ", " + keyed.refs(1));
        for (AsyncBoundedSemaphore s : made) {
            checkInvariants(s);
            check(s.availablePermits() == 1 && s.queueLength() == 0, "a key's semaphore ended as " + s);
        }
    }

    /**
     * The race a new key's creation has with a sweep, model-checked on its own (every interleaving,
     * not a sleep): one thread makes key 0 and asks it for a permit, another makes key 1 under a cap
     * of one live key, so it must evict key 0 if that is at rest. Key 0's entry is published entered
     * by its creator (reference count 1), so the sweep cannot take it between its creation and its
     * creator's acquire: the factory is called once for each key admitted and never for a key
     * refused at the cap (its slot is reserved first), and key 1 is refused while key 0's permit
     * is held or the other way round.
     */
    @Test
    void aNewKeyCannotBeEvictedBeforeItsCreatorHasAskedIt() {
        Lincheck.runConcurrentTest(2_000, () -> {
            AtomicIntegerArray factoryCalls = new AtomicIntegerArray(KEYS);
            KeyedLimiter<Integer> keyed = KeyedLimiter.<Integer>builder(key -> {
                factoryCalls.incrementAndGet(key);
                return AsyncLimiter.of(new AsyncBoundedSemaphore(1));
            }).maxKeys(1).idleTime(Duration.ZERO).ticker(new FrozenTicker()).build();
            Permit[] got = new Permit[KEYS];
            AtomicBoolean otherDone = new AtomicBoolean();
            Thread other = new Thread(() -> {
                got[1] = keyed.tryAcquire(1);
                otherDone.set(true);
            });
            other.start();
            got[0] = keyed.tryAcquire(0);
            // Not other.join(): on JDK 25, Lincheck 3.7 sometimes found the real join hung on a thread
            // it had already run to its end, and failed with "Non-determinism found" (3 of 8 runs; 0
            // of 5 on 17). Lincheck sees this spin as a wait and runs the other thread meanwhile.
            while (!otherDone.get()) {
                Thread.onSpinWait();
            }
            for (int k = 0; k < KEYS; k++) {
                check(factoryCalls.get(k) == (got[k] != null ? 1 : 0), "factory calls per key " + factoryCalls
                        + " for permits " + java.util.Arrays.toString(got) + ": a new key was evicted before its"
                        + " creator asked it, or a key refused at the cap had its limiter made");
            }
            check(got[0] != null || got[1] != null, "both keys refused");
        });
    }

    /*
     * Small: an invocation walks a ConcurrentHashMap, a ConcurrentLinkedQueue and Netty's promises
     * with a switch point at each shared access, about 0.1 s each on two busy cores. A first
     * version (8 x 250, results checked) found the refusal race above and the cap's search going
     * round one key 64 times (reported as a livelock; fixed); this budget still fails, in both
     * modes, on a refs leak put in on purpose (an exit left out on a cancelled wait).
     */
    @Override
    protected int modelCheckingIterations() {
        return 4;
    }

    @Override
    protected int modelCheckingInvocations() {
        return 40;
    }

    @Override
    protected int stressInvocations() {
        return Integer.getInteger("nettysync.lincheck.stress.invocations", 40);
    }

    /**
     * A key's limiter that notes a sweep asking whether it is at rest before anyone asked it for
     * a permit: only a key evicted between its creation and its creator's acquire is examined so
     * (a new entry is entered by its creator until that acquire has ended).
     */
    private final class Watched implements AsyncLimiter {
        private final int key;
        private final AsyncLimiter inner;
        private volatile boolean asked;

        Watched(int key, AsyncLimiter inner) {
            this.key = key;
            this.inner = inner;
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor) {
            asked = true;
            return inner.acquire(executor);
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
            asked = true;
            return inner.acquire(executor, timeout, unit);
        }

        @Override
        public Permit tryAcquire() {
            asked = true;
            return inner.tryAcquire();
        }

        @Override
        public LimiterStatistics statistics() {
            if (!asked) {
                examinedUnasked.compareAndSet(null, "key " + key + "'s new limiter was examined for eviction"
                        + " before its creator asked it for a permit");
            }
            return inner.statistics();
        }
    }

    /** Idle time is zero: any reading of the clock will do, and a frozen one keeps runs deterministic. */
    private static final class FrozenTicker implements Ticker {
        @Override
        public long initialNanoTime() {
            return 0;
        }

        @Override
        public long nanoTime() {
            return 0;
        }

        @Override
        public void sleep(long delay, TimeUnit unit) {
            throw new UnsupportedOperationException();
        }
    }
}
