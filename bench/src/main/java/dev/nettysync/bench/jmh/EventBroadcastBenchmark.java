package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.Continuation;
import dev.nettysync.bench.peers.EventPeer;
import io.netty.channel.EventLoop;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Event broadcast: one round is {@code waiters} waits registered on two real event loops (half on
 * each, from the loop itself, as handlers would), one {@code set()} from another thread, every
 * waiter's continuation run on its own loop (checked), then {@code clear()}. The score is the time
 * per round; the Markdown report divides it by {@code waiters}.
 *
 * <p>Peers: {@code naive} ({@code synchronized} + {@code ArrayList<Promise>}) and
 * {@code completableFuture} (one {@code CompletableFuture} per round, {@code thenRunAsync} to
 * the waiter's loop).
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar EventBroadcastBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class EventBroadcastBenchmark extends AbstractEventLoopBenchmark {

    @Param({EventPeer.NETTYSYNC, EventPeer.NAIVE, EventPeer.COMPLETABLE_FUTURE})
    public String impl;

    @Param({"10", "1000", "100000"})
    public int waiters;

    private EventPeer event;

    @Setup(Level.Trial)
    public void setUp() {
        loops = new Loops(2);
        event = EventPeer.create(impl);
    }

    @Benchmark
    public void broadcast() throws InterruptedException {
        round();
    }

    public void round() throws InterruptedException {
        CountDownLatch registered = new CountDownLatch(2);
        CountDownLatch fired = new CountDownLatch(2);
        Counter[] counters = new Counter[2];
        for (int j = 0; j < 2; j++) {
            EventLoop loop = loops.loops[j];
            int n = waiters / 2 + (j == 0 ? waiters % 2 : 0);
            Counter c = counters[j] = new Counter(loop, n, fired);
            loop.execute(() -> {
                for (int i = 0; i < n; i++) {
                    event.awaitThen(loop, c);
                }
                registered.countDown();
            });
        }
        await(registered, "registration");
        event.set();
        await(fired, "broadcast");
        event.clear();
        for (Counter c : counters) {
            if (c.wrongThread != 0) {
                throw new IllegalStateException(impl + ": " + c.wrongThread + " continuations ran off the waiter's loop");
            }
        }
    }

    private void await(CountDownLatch latch, String what) throws InterruptedException {
        if (!latch.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(impl + ": " + what + " stuck with " + waiters + " waiters");
        }
    }

    private static final class Counter extends Continuation {
        final EventLoop loop;
        final CountDownLatch fired;
        int remaining;          // on `loop` only
        int wrongThread;        // on `loop` only, read after `fired`

        Counter(EventLoop loop, int n, CountDownLatch fired) {
            this.loop = loop;
            this.remaining = n;
            this.fired = fired;
            if (n == 0) {
                fired.countDown();
            }
        }

        @Override
        public void run() {
            if (!loop.inEventLoop()) {
                wrongThread++;
            }
            if (--remaining == 0) {
                fired.countDown();
            }
        }
    }
}
