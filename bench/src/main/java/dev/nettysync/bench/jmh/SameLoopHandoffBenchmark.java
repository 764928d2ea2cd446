package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.SemaphorePeer;
import io.netty.channel.EventLoop;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
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
 * Issue 14: the handoff a single-loop server pays every time a permit changes hands. One NIO
 * event loop, a semaphore with one permit and {@code waiters} clients queued on it, all on that
 * loop. A client that is granted the permit (its listener runs) queues again and then releases,
 * which grants the next client in FIFO order: every handoff is a same-loop handoff. The score is
 * ns per handoff (a grant plus the re-queue that keeps the depth), B/op from {@code -prof gc}.
 *
 * <p>How the next listener runs is each peer's own policy: {@code nettysync} and {@code naive}
 * complete a Netty promise of the loop, which notifies inline on the loop with the nesting bounded
 * at 8 and through the task queue beyond; {@code asyncutilInline} applies the same policy to
 * asyncutil's {@code CompletableFuture}; {@code asyncutil} ({@code thenRunAsync(.., loop)})
 * always goes through the loop's task queue (context: what a plain {@code CompletionStage} user
 * gets). {@code nettysyncTimed} is netty-sync with a timeout on every wait (not a peer: the
 * cost of the timer each queued wait schedules on the loop and each grant cancels). The loop
 * itself runs the whole round; the benchmark thread only starts it and waits for
 * its end ({@value #HANDOFFS} handoffs amortise that). Every continuation is checked to run on
 * the loop, and the permit is checked to be back, exactly once, after each round.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar SameLoopHandoffBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SameLoopHandoffBenchmark extends AbstractEventLoopBenchmark {

    /** Handoffs (grants) per benchmark invocation, over all clients. */
    public static final int HANDOFFS = 100_000;

    @Param({SemaphorePeer.NETTYSYNC, SemaphorePeer.NAIVE, SemaphorePeer.ASYNCUTIL_INLINE, SemaphorePeer.ASYNCUTIL,
            SemaphorePeer.FLOOR, SemaphorePeer.FLOOR_ATOMIC, SemaphorePeer.NETTYSYNC_TIMED})
    public String impl;

    /** Queued clients: a handful (16) or a long queue (1024) whose waiters no longer sit in L1. */
    @Param({"16", "1024"})
    public int waiters;

    private EventLoop loop;
    private SemaphorePeer sem;
    private HandoffClient[] clients;

    @Setup(Level.Trial)
    public void setUp() {
        loops = new Loops(1);
        loop = loops.loops[0];
        sem = SemaphorePeer.create(impl, 1);
        clients = new HandoffClient[waiters];
        for (int k = 0; k < waiters; k++) {
            clients[k] = new HandoffClient(sem, loop, true);
        }
    }

    @Benchmark
    @OperationsPerInvocation(HANDOFFS)
    public void handoff() throws InterruptedException {
        round(HANDOFFS);
    }

    /**
     * Runs {@code handoffs} grants over all clients (each client gets its share, the first ones
     * one more) and waits until all are done; returns the number of grants counted.
     */
    public long round(int handoffs) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(clients.length + 1);   // + the starting task
        for (int k = 0; k < clients.length; k++) {
            clients[k].reset(handoffs / clients.length + (k < handoffs % clients.length ? 1 : 0), done);
        }
        loop.execute(() -> {
            // Hold the permit while every client queues, so the round starts with all of them
            // waiting in order; then hand it to the first.
            if (!sem.tryAcquire()) {
                throw new IllegalStateException(impl + ": the permit is not free at the start of a round");
            }
            for (HandoffClient c : clients) {
                c.start();
            }
            sem.release();
            done.countDown();
        });
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(impl + ": same-loop round stuck, " + done.getCount()
                    + " of " + (clients.length + 1) + " clients (and the starting task) unfinished");
        }
        return HandoffClient.checkRound(impl, clients, sem, 1);
    }
}
