package dev.nettysync.adaptive;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The algorithms behind this limiter's wiring, against a backend with a capacity C* (latency L0
 * up to C* concurrent calls, growing in proportion beyond), in the deterministic
 * {@link Simulation}: what converges, what creeps, and what bounds it. Virtual time, so a
 * minute of simulated overload takes well under a second.
 */
class AdaptiveSimulationTest {

    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    private static final int CAPACITY = 50;
    private static final int OVERLOAD_CLIENTS = 500;   // 10x C*: the limiter's queue never empties

    /** {@code -Dnettysync.adaptive.sim.print=true} prints every run's trace (the numbers in the README). */
    private static final boolean PRINT = Boolean.getBoolean("nettysync.adaptive.sim.print");

    /** Runs {@code seconds} of virtual time, one window per second. */
    private static List<Simulation.Window> run(Simulation sim, int seconds) {
        List<Simulation.Window> windows = new ArrayList<>();
        for (int i = 0; i < seconds; i++) {
            sim.runUntil(sim.now() + SECOND);
            windows.add(sim.takeWindow());
        }
        return windows;
    }

    private static String trace(String name, List<Simulation.Window> ws) {
        String t = describe(ws);
        if (PRINT) {
            System.out.println(name + ":" + t);
        }
        return t;
    }

    private Simulation sim;

    private Simulation newSimulation() {
        sim = new Simulation();
        return sim;
    }

    @AfterEach
    void finishTheRun() {
        if (sim != null) {
            sim.finish();
        }
    }

    private static String describe(List<Simulation.Window> ws) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < ws.size(); i++) {
            Simulation.Window w = ws.get(i);
            b.append(String.format("%n  s%-3d limit %4d  goodput %6d/s  mean %.2f ms  drops %d",
                    i + 1, w.limit(), w.completed(), w.meanLatencyNs() / 1e6, w.drops()));
        }
        return b.toString();
    }

    @Test
    void vegasFindsTheCapacityAndFollowsItWhenItHalvesAndRecovers() {
        Simulation sim = newSimulation();
        AtomicInteger capacity = new AtomicInteger(CAPACITY);
        sim.capacity(capacity::get);
        sim.limiter(AdaptiveLimiter.builder().algorithm(AdaptiveAlgorithm.VEGAS).initialLimit(20).maxLimit(200));
        sim.start(OVERLOAD_CLIENTS);

        List<Simulation.Window> all = new ArrayList<>(run(sim, 20));
        capacity.set(CAPACITY / 2);
        all.addAll(run(sim, 20));
        capacity.set(CAPACITY);
        all.addAll(run(sim, 20));
        String trace = trace("vegas", all);

        // Converged within 10 s of each change (and of the start): goodput >= 95 % of what the
        // backend can do, mean latency <= 2 x L0, the limit within [C*, 1.5 C*].
        for (int phase = 0; phase < 3; phase++) {
            int c = phase == 1 ? CAPACITY / 2 : CAPACITY;
            for (Simulation.Window w : all.subList(phase * 20 + 10, phase * 20 + 20)) {
                assertThat(w.completed()).as("goodput at C*=%d:%s", c, trace)
                        .isGreaterThanOrEqualTo((long) (0.95 * c * SECOND / Simulation.L0));
                assertThat(w.meanLatencyNs()).as("mean latency at C*=%d:%s", c, trace)
                        .isLessThanOrEqualTo(2 * Simulation.L0);
                assertThat(w.limit()).as("limit at C*=%d:%s", c, trace).isBetween(c, c * 3 / 2);
            }
        }
    }

    @Test
    void gradient2CreepsUpwardUnderSustainedOverloadUntilMaxLimit() {
        // concurrency-limits #134. With a queue in front, every sample is taken at
        // inflight == limit, so Gradient2's "app-limited" guard (inflight < limit / 2) never
        // applies; its long-run RTT follows the rising latency, the gradient stays near 1, and
        // the queue allowance (+4 per update) ratchets the limit up until maxLimit stops it.
        int maxLimit = 150;
        Simulation sim = newSimulation();
        sim.capacity(() -> CAPACITY);
        sim.limiter(AdaptiveLimiter.builder().algorithm(AdaptiveAlgorithm.GRADIENT2)
                .initialLimit(20).maxLimit(maxLimit));
        sim.start(OVERLOAD_CLIENTS);
        List<Simulation.Window> ws = run(sim, 60);
        String trace = trace("gradient2 overload", ws);

        assertThat(ws.get(9).limit()).as("past 1.5 C* after 10 s:%s", trace).isGreaterThan(CAPACITY * 3 / 2);
        assertThat(ws.get(29).limit()).as("still creeping at 30 s:%s", trace).isGreaterThan(ws.get(19).limit());
        assertThat(ws.get(59).limit()).as("only maxLimit stops it:%s", trace).isEqualTo(maxLimit);
        assertThat(ws.get(59).meanLatencyNs()).as("and latency pays for it:%s", trace)
                .isGreaterThanOrEqualTo(2 * Simulation.L0);
    }

    @Test
    void gradient2DoesNotCreepWhenTheOfferedConcurrencyIsBelowHalfItsLimit() {
        // The other bound: with 20 callers, never more than 20 in flight; Gradient2 stops growing
        // once inflight < limit / 2, i.e. at 2 x 20.
        Simulation sim = newSimulation();
        sim.capacity(() -> CAPACITY);
        sim.limiter(AdaptiveLimiter.builder().algorithm(AdaptiveAlgorithm.GRADIENT2).initialLimit(20).maxLimit(150));
        sim.start(20);
        List<Simulation.Window> ws = run(sim, 60);
        assertThat(ws).as(trace("gradient2 20 clients", ws)).allSatisfy(w -> assertThat(w.limit()).isLessThanOrEqualTo(2 * 20 + 4));
    }

    @Test
    void vegasDoesNotCreepUnderTheSameSustainedOverload() {
        // The control for the Gradient2 test: same wiring, same overload, same minute.
        Simulation sim = newSimulation();
        sim.capacity(() -> CAPACITY);
        sim.limiter(AdaptiveLimiter.builder().algorithm(AdaptiveAlgorithm.VEGAS).initialLimit(20).maxLimit(150));
        sim.start(OVERLOAD_CLIENTS);
        List<Simulation.Window> ws = run(sim, 60);
        assertThat(ws.subList(10, 60)).as(trace("vegas overload", ws))
                .allSatisfy(w -> assertThat(w.limit()).isLessThanOrEqualTo(CAPACITY * 3 / 2));
    }

    @Test
    void aimdGrowsUntilCallsTimeOutAndBacksOffOnTheDrops() {
        // AIMD sees no latency, only drops: with a call timeout of 3 x L0 it saws around the
        // concurrency at which calls start to time out (3 C*); without drops it would sit at maxLimit.
        Simulation sim = newSimulation();
        sim.capacity(() -> CAPACITY);
        sim.timeout(3 * Simulation.L0);
        sim.limiter(AdaptiveLimiter.builder().algorithm(AdaptiveAlgorithm.AIMD).initialLimit(20).maxLimit(400));
        sim.start(OVERLOAD_CLIENTS);
        List<Simulation.Window> ws = run(sim, 60);
        String trace = trace("aimd with timeouts", ws);
        assertThat(ws.subList(20, 60)).as(trace).allSatisfy(w ->
                assertThat(w.limit()).isBetween(CAPACITY, 3 * CAPACITY + 10));
        assertThat(ws.subList(20, 60).stream().mapToLong(Simulation.Window::drops).sum()).as(trace).isPositive();
    }
}
