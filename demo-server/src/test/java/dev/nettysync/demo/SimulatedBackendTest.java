package dev.nettysync.demo;

import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The simulated backend's capacity: a FIFO queue in front of C* servers, changeable by schedule. */
class SimulatedBackendTest {

    private static final Duration L0 = Duration.ofMillis(60);

    private final DefaultEventLoopGroup group = new DefaultEventLoopGroup(2);
    private final EventLoop loop = group.next();

    @AfterEach
    void shutdown() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Fires {@code n} calls at once and returns the time each one took, in ms, in call order. */
    private List<Long> fire(SimulatedBackend backend, int n) throws Exception {
        List<Future<Backend.BackendResponse>> calls = new ArrayList<>();
        List<long[]> ends = new ArrayList<>();
        long t0 = System.nanoTime();
        loop.submit(() -> {
            for (int i = 0; i < n; i++) {
                long[] end = new long[1];
                Future<Backend.BackendResponse> f = backend.fetch("x", loop);
                f.addListener(x -> end[0] = System.nanoTime());
                calls.add(f);
                ends.add(end);
            }
        }).sync();
        List<Long> took = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            assertThat(calls.get(i).await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(calls.get(i).isSuccess()).isTrue();
        }
        loop.submit(() -> ends.forEach(e -> took.add((e[0] - t0) / 1_000_000))).sync();
        return took;
    }

    @Test
    void upToCapacityEveryCallTakesL0AndBeyondThemTheyQueueInOrder() throws Exception {
        List<Long> took = fire(new SimulatedBackend(L0, 2, List.of()), 6);
        // Two servers: calls 1-2 end after L0, 3-4 a full L0 later, 5-6 another L0 later.
        // (Lower bounds only: a busy machine makes timers late, never early.)
        long l0 = L0.toMillis();
        assertThat(took.get(0)).isGreaterThanOrEqualTo(l0 - 1);
        assertThat(took.get(2) - took.get(0)).isGreaterThanOrEqualTo(l0 - 1);
        assertThat(took.get(3) - took.get(1)).isGreaterThanOrEqualTo(l0 - 1);
        assertThat(took.get(4) - took.get(2)).isGreaterThanOrEqualTo(l0 - 1);
        assertThat(took.get(5) - took.get(3)).isGreaterThanOrEqualTo(l0 - 1);
    }

    @Test
    void withoutCapacityEveryCallTakesL0() throws Exception {
        List<Long> took = fire(new SimulatedBackend(L0), 6);
        // All six run together: the last ends within a fraction of L0 after the first.
        assertThat(took.get(0)).isGreaterThanOrEqualTo(L0.toMillis() - 1);
        assertThat(took.get(5) - took.get(0)).isLessThan(L0.toMillis() / 2);
    }

    @Test
    void theScheduleChangesTheCapacityCountedFromTheFirstCall() throws Exception {
        SimulatedBackend backend = new SimulatedBackend(L0, 4, SimulatedBackend.parseSchedule("100ms:1"));
        assertThat(backend.capacity()).isEqualTo(4);
        fire(backend, 1);                       // starts the clock
        Thread.sleep(150);
        assertThat(backend.capacity()).isEqualTo(1);
        List<Long> took = fire(backend, 3);     // one server now: one after the other
        assertThat(took.get(2)).isGreaterThanOrEqualTo(3 * L0.toMillis() - 1);
    }

    @Test
    void aCallCancelledWhileQueuedNeverOccupiesAServer() throws Exception {
        // L0 of 1 s: a phantom second call would make the gap 2 s, and the bound of 1.5 s leaves
        // timers room to fire late on a loaded machine (at 200 ms one gap measured 474 ms).
        Duration l0 = Duration.ofSeconds(1);
        SimulatedBackend backend = new SimulatedBackend(l0, 1, List.of());
        List<Future<Backend.BackendResponse>> calls = new ArrayList<>();
        long[] ends = new long[3];
        loop.submit(() -> {
            for (int i = 0; i < 3; i++) {
                int k = i;
                Future<Backend.BackendResponse> f = backend.fetch("x", loop);
                f.addListener(x -> ends[k] = System.nanoTime());
                calls.add(f);
            }
            calls.get(1).cancel(false);          // queued behind the first
        }).sync();
        assertThat(calls.get(2).await(10, TimeUnit.SECONDS)).isTrue();
        long gapMs = loop.submit(() -> (ends[2] - ends[0]) / 1_000_000).sync().getNow();
        // The third started when the first ended: one L0 after it, not two (a phantom second call).
        assertThat(gapMs).isBetween(l0.toMillis() - 1, l0.toMillis() * 3 / 2);
    }

    @Test
    void badSchedulesAreRefusedNamingThePart() {
        assertThat(SimulatedBackend.parseSchedule("20s:16, 40s:32")).containsExactly(
                new SimulatedBackend.CapacityStep(Duration.ofSeconds(20), 16),
                new SimulatedBackend.CapacityStep(Duration.ofSeconds(40), 32));
        assertThat(SimulatedBackend.parseSchedule("")).isEmpty();
        assertThatThrownBy(() -> SimulatedBackend.parseSchedule("20s"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'20s'");
        assertThatThrownBy(() -> SimulatedBackend.parseSchedule("20s:x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'20s:x'");
        assertThatThrownBy(() -> new SimulatedBackend(L0, 1, SimulatedBackend.parseSchedule("40s:1,20s:2")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("increasing times");
        assertThatThrownBy(() -> new SimulatedBackend(L0, -1, List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was -1");
    }
}
