package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.SemaphorePeer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Goal P2: contended FIFO handoff across two real NIO event loops.
 *
 * <p>{@code 2 × clientsPerLoop} clients share a semaphore of {@code permits} permits. A client
 * lives on one loop and, once its permit is held (on its own loop), gives it up and waits again,
 * until it has done its share of {@value #HANDOFFS} acquisitions per benchmark invocation. The
 * clients first queue alternately from loop 0 and loop 1. The score is handoffs (completed
 * acquisitions) per second. {@code pattern} says how a client gives its permit up:
 * <ul>
 *   <li>{@code alternate}: acquire again, then release. The client is back in the queue before
 *       anyone else can be served, so the alternating order never changes: with one permit every
 *       handoff goes to a waiter of the other loop (checked with a probe: 32,000 of 32,000), with
 *       several about every other one. Each such handoff pays the hop (Netty's task queue and,
 *       when that loop is idle, its wake-up). This is the P2 scenario.</li>
 *   <li>{@code free}: release, then acquire again, the natural order in a handler. Then a client
 *       of the other loop, already running, can re-queue first, and the queue drifts into runs
 *       of same-loop waiters; an implementation that completes a same-loop waiter inline (Netty
 *       promises do, {@code thenRunAsync} does not) then skips most hops. Shows what that
 *       design choice is worth, not the raw handoff.</li>
 * </ul>
 *
 * <p>Every completion is checked to run on the waiter's own loop, and every permit to be back
 * after the round; a peer that failed either would fail the run. Peers: {@code asyncutil} hops with {@code thenRunAsync(.., loop)}
 * (always through the loop's task queue, even when already on it); {@code asyncutilInline} uses
 * Netty's policy instead (inline when already on the loop, nesting bounded at 8); {@code naive}
 * and {@code nettysync} return a promise of the waiter's loop, which applies that same policy.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar ContendedHandoffBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Measurement(iterations = 10, time = 1)      // cross-loop rows are noisy (the wake-up cost varies)
public class ContendedHandoffBenchmark extends AbstractEventLoopBenchmark {

    /** Acquisitions per benchmark invocation, over all clients. */
    public static final int HANDOFFS = 10_000;

    @Param({SemaphorePeer.NETTYSYNC, SemaphorePeer.ASYNCUTIL, SemaphorePeer.ASYNCUTIL_INLINE, SemaphorePeer.NAIVE})
    public String impl;

    /** 1: a lock-like permit, the loops take turns; 4: loops stay busy, lock cost shows more. */
    @Param({"1", "4"})
    public int permits;

    @Param({"8"})
    public int clientsPerLoop;

    @Param({"alternate", "free"})
    public String pattern;

    private SemaphorePeer sem;

    @Setup(Level.Trial)
    public void setUp() {
        loops = new Loops(2);
        sem = SemaphorePeer.create(impl, permits);
    }

    @Benchmark
    @OperationsPerInvocation(HANDOFFS)
    public void handoff() throws InterruptedException {
        round(HANDOFFS);
    }

    /** Runs {@code acquisitions} acquisitions over all clients and waits until all are done. */
    public void round(int acquisitions) throws InterruptedException {
        int clients = 2 * clientsPerLoop;
        CountDownLatch done = new CountDownLatch(clients);
        boolean requeueFirst = switch (pattern) {
            case "alternate" -> true;
            case "free" -> false;
            default -> throw new IllegalArgumentException("pattern must be alternate or free, was " + pattern);
        };
        HandoffClient[] all = new HandoffClient[clients];
        for (int k = 0; k < clients; k++) {
            all[k] = new HandoffClient(sem, loops.loops[k % 2], requeueFirst);
            all[k].reset(acquisitions / clients + (k < acquisitions % clients ? 1 : 0), done);
        }
        for (HandoffClient c : all) {      // alternate loops in queue order
            c.start();
        }
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(impl + ": handoff round stuck, " + done.getCount()
                    + " of " + clients + " clients unfinished");
        }
        HandoffClient.checkRound(impl, all, sem, permits);
    }
}
