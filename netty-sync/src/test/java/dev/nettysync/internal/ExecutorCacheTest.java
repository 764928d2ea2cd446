package dev.nettysync.internal;

import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ExecutorCache}: executors that share a first-choice slot are both kept (the one-slot
 * table made them evict each other on every alternation), a shut-down executor's slot is taken
 * first, and racing lookups never return a value made for another executor.
 *
 * <p>Executors are real but never started ({@link DefaultEventExecutor} starts its thread on
 * its first task), so making hundreds costs no thread. Which of them collide depends on their
 * identity hashes, so the tests search for the pairs they need among fresh ones.
 */
class ExecutorCacheTest {
    private final Map<EventExecutor, AtomicInteger> made = new ConcurrentHashMap<>();
    private final ExecutorCache<Value> cache = new ExecutorCache<>(executor -> {
        made.computeIfAbsent(executor, e -> new AtomicInteger()).incrementAndGet();
        return new Value(executor);
    });

    private record Value(EventExecutor executor) {
    }

    @Test
    void aValueIsMadeOnceAndThenFound() {
        EventExecutor e = new DefaultEventExecutor();
        Value v = cache.get(e);
        assertThat(v.executor()).isSameAs(e);
        for (int i = 0; i < 10; i++) {
            assertThat(cache.get(e)).isSameAs(v);
        }
        assertThat(made.get(e)).hasValue(1);
    }

    @Test
    void theTwoCandidateSlotsAreTheLowTwoBytesOfTheIdentityHash() {
        for (int i = 0; i < 1000; i++) {
            EventExecutor e = new DefaultEventExecutor();
            int hash = System.identityHashCode(e);
            assertThat(ExecutorCache.candidateSlots(e)).containsExactly(hash & 0xff, (hash >>> 8) & 0xff);
        }
    }

    @Test
    void twoExecutorsWithTheSameFirstSlotAreBothKept() {
        EventExecutor[] pair = sameFirstSlotDifferentSecond();
        Value a = cache.get(pair[0]);
        Value b = cache.get(pair[1]);
        for (int i = 0; i < 10; i++) {      // alternating: each would evict the other from one slot
            assertThat(cache.get(pair[0])).isSameAs(a);
            assertThat(cache.get(pair[1])).isSameAs(b);
        }
        assertThat(made.get(pair[0])).hasValue(1);
        assertThat(made.get(pair[1])).hasValue(1);
    }

    @Test
    void threeExecutorsWithTheSameFirstSlotAndOwnSecondSlotsAreAllKept() {
        EventExecutor[] three = sameFirstSlotDifferentSecond(3);
        Value[] values = new Value[three.length];
        for (int i = 0; i < three.length; i++) {
            values[i] = cache.get(three[i]);
        }
        for (int round = 0; round < 10; round++) {
            for (int i = 0; i < three.length; i++) {
                assertThat(cache.get(three[i])).isSameAs(values[i]);
            }
        }
        for (EventExecutor e : three) {
            assertThat(made.get(e)).hasValue(1);
        }
    }

    @Test
    void aShutDownExecutorsSlotIsTakenBeforeALiveOnesIsEvicted() throws InterruptedException {
        EventExecutor[] pair = sameFirstSlotDifferentSecond();
        EventExecutor dead = pair[0];
        EventExecutor live = pair[1];
        cache.get(dead);                                 // dead takes the shared first slot
        assertThat(dead.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS)).isTrue();
        cache.get(live);             // its first slot holds a shut-down executor: taken, not the second

        cache.get(dead);             // so dead was evicted, and is made again
        assertThat(made.get(dead)).hasValue(2);
        assertThat(cache.get(live)).isSameAs(cache.get(live));
        assertThat(made.get(live)).hasValue(1);
    }

    @Test
    void racingLookupsReturnOnlyTheirOwnExecutorsValues() throws InterruptedException {
        List<EventExecutor> executors = new ArrayList<>();
        for (int i = 0; i < 600; i++) {                  // more than the slots: misses and evictions race
            executors.add(new DefaultEventExecutor());
        }
        int threads = 4;
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<String> wrong = new AtomicReference<>();
        List<Thread> running = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int offset = t * 37;
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int round = 0; round < 200 && wrong.get() == null; round++) {
                    for (int i = 0; i < executors.size(); i++) {
                        EventExecutor e = executors.get((i + offset) % executors.size());
                        Value v = cache.get(e);
                        if (v.executor() != e) {
                            wrong.compareAndSet(null, "asked for " + e + ", got the value of " + v.executor());
                        }
                    }
                }
            }, "cache-racer-" + t);
            thread.start();
            running.add(thread);
        }
        start.countDown();
        for (Thread thread : running) {
            thread.join(60_000);
            assertThat(thread.isAlive()).as("%s finished", thread.getName()).isFalse();
        }
        assertThat(wrong.get()).isNull();
    }

    /** Two fresh executors whose first-choice slots are equal and whose second choices differ. */
    private static EventExecutor[] sameFirstSlotDifferentSecond() {
        return sameFirstSlotDifferentSecond(2);
    }

    /**
     * {@code n} fresh executors with one first-choice slot and {@code n} different second
     * choices, none of them that first slot.
     */
    private static EventExecutor[] sameFirstSlotDifferentSecond(int n) {
        Map<Integer, List<EventExecutor>> byFirstSlot = new HashMap<>();
        for (int i = 0; i < 1_000_000; i++) {
            EventExecutor e = new DefaultEventExecutor();
            int[] slots = ExecutorCache.candidateSlots(e);
            if (slots[0] == slots[1]) {
                continue;
            }
            List<EventExecutor> group = byFirstSlot.computeIfAbsent(slots[0], k -> new ArrayList<>());
            if (group.stream().noneMatch(other -> ExecutorCache.candidateSlots(other)[1] == slots[1])) {
                group.add(e);
                if (group.size() == n) {
                    return group.toArray(new EventExecutor[0]);
                }
            }
        }
        throw new AssertionError("no " + n + " executors in 1,000,000 share a first slot");
    }
}
