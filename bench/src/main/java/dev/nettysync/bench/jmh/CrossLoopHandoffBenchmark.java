package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.Continuation;
import dev.nettysync.bench.peers.SemaphorePeer;
import io.netty.channel.EventLoop;
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

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Issue 14: cross-loop handoff against its physical limit. Two NIO event loops, {@code burst}
 * clients on each, a semaphore of {@code burst} permits. The two sides take turns: the side that
 * holds all the permits queues its own clients again and then releases its {@code burst} permits
 * in one go, and every one of those releases grants a client of the <em>other</em> loop (its
 * clients are at the head of the queue). When the last of them has run there, that side does the
 * same. So every handoff crosses loops, and with {@code burst > 1} one {@code release(burst)} call
 * grants several waiters of the other loop: an implementation can wake that loop once for all of
 * them, or once per waiter. The score is handoffs (grants) per second.
 *
 * <p>{@code impl=bareHop} is the baseline: no semaphore, the same two loops pass {@code burst}
 * tokens with {@code EventLoop.execute()} in the same pattern (one side sends all its tokens, the
 * other sends them back once all arrived). That is what any cross-loop handoff must pay at least
 * (the task queue and, when the loop sleeps, its wake-up); each peer's row is reported as a
 * fraction of it ("× bare hop" in the report; issue 14's goal is ≥ 0.9 for netty-sync).
 *
 * <p>Checked on every round: each continuation runs on its client's loop, the number of grants
 * is exactly {@value #HANDOFFS}, and all {@code burst} permits are free at the end.
 * Cross-loop rows are noisy (the wake-up cost varies), hence 10 measured iterations.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar CrossLoopHandoffBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Measurement(iterations = 10, time = 1)
public class CrossLoopHandoffBenchmark extends AbstractEventLoopBenchmark {

    /** The bare {@code execute()} hop, no semaphore. */
    public static final String BARE_HOP = "bareHop";

    /** Grants per benchmark invocation; a multiple of {@code 2 × burst} for every burst used. */
    public static final int HANDOFFS = 10_240;

    @Param({BARE_HOP, SemaphorePeer.NETTYSYNC, SemaphorePeer.ASYNCUTIL, SemaphorePeer.ASYNCUTIL_INLINE,
            SemaphorePeer.NAIVE})
    public String impl;

    /** Permits (and clients per loop): 1, a lock passed back and forth; 4, one release task grants 4 waiters. */
    @Param({"1", "4"})
    public int burst;

    private SemaphorePeer sem;   // null for bareHop
    private Side[] sides;

    @Setup(Level.Trial)
    public void setUp() {
        if (burst < 1 || HANDOFFS % (2 * burst) != 0) {
            throw new IllegalArgumentException("burst must divide " + HANDOFFS / 2 + ", was " + burst);
        }
        loops = new Loops(2);
        if (!BARE_HOP.equals(impl)) {
            if (!SemaphorePeer.ASYNC.contains(impl) && !SemaphorePeer.ASYNCUTIL_INLINE.equals(impl)) {
                throw new IllegalArgumentException("impl must be " + BARE_HOP + " or one of "
                        + List.of(SemaphorePeer.NETTYSYNC, SemaphorePeer.ASYNCUTIL, SemaphorePeer.ASYNCUTIL_INLINE,
                        SemaphorePeer.NAIVE) + ", was " + impl);
            }
            sem = SemaphorePeer.create(impl, burst);
        }
        sides = new Side[] {new Side(loops.loops[0]), new Side(loops.loops[1])};
        sides[0].other = sides[1];
        sides[1].other = sides[0];
    }

    @Benchmark
    @OperationsPerInvocation(HANDOFFS)
    public void handoff() throws InterruptedException {
        round(HANDOFFS);
    }

    /**
     * One round of {@code handoffs} grants (a multiple of {@code 2 × burst}); returns the grants
     * counted by the clients. Side 0 starts with every permit: it makes {@code handoffs / (2 × burst)}
     * bursts, side 1 one less, then each side's last turn releases without queueing again (the
     * first of those two releases still grants the other side, the second finds nobody).
     */
    public long round(int handoffs) throws InterruptedException {
        if (handoffs % (2 * burst) != 0) {
            throw new IllegalArgumentException("handoffs must be a multiple of " + 2 * burst + ", was " + handoffs);
        }
        int bursts = handoffs / (2 * burst);
        CountDownLatch done = new CountDownLatch(2);
        sides[0].reset(bursts, done);
        sides[1].reset(bursts - 1, done);
        if (sem != null) {
            for (int i = 0; i < burst; i++) {            // side 0 holds every permit
                if (!sem.tryAcquire()) {
                    throw new IllegalStateException(impl + ": only " + i + " of " + burst + " permits free at the start of a round");
                }
            }
            sides[1].loop.submit(sides[1]::queueAll).syncUninterruptibly();
        }
        sides[0].loop.execute(sides[0]::turn);
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(impl + ": cross-loop round stuck, " + done.getCount() + " of 2 sides unfinished");
        }
        long granted = 0;
        for (Side s : sides) {
            for (Client c : s.clients) {
                if (c.wrongThread != 0) {
                    throw new IllegalStateException(impl + ": " + c.wrongThread + " completions ran off the waiter's loop");
                }
            }
            granted += s.grantedTotal;
        }
        if (granted != handoffs) {
            throw new IllegalStateException(impl + ": " + granted + " grants counted, expected " + handoffs);
        }
        if (sem != null) {
            int free = sem.countFreePermits();
            if (free != burst) {
                throw new IllegalStateException(impl + ": " + free + " permits free after the round, expected " + burst);
            }
        }
        return granted;
    }

    /** One loop's clients. Every field but the final ones is written on {@code loop} only. */
    private final class Side {
        final EventLoop loop;
        final Client[] clients = new Client[burst];
        Side other;              // set once in setUp
        int burstsLeft;          // written by reset (before the round's first task) and on loop
        int grantedInTurn;       // written on loop
        long grantedTotal;       // written on loop, read after done
        boolean finished;        // written on loop before its last hand-over; read by the other loop after it
        CountDownLatch done;     // written by reset

        Side(EventLoop loop) {
            this.loop = loop;
            for (int i = 0; i < burst; i++) {
                clients[i] = new Client(this);
            }
        }

        void reset(int bursts, CountDownLatch done) {
            this.burstsLeft = bursts;
            this.done = done;
            this.grantedInTurn = 0;
            this.grantedTotal = 0;
            this.finished = false;
        }

        void queueAll() {
            for (Client c : clients) {
                c.waiting.acquireThen(c);
            }
        }

        /**
         * This side holds all {@code burst} permits (or tokens): pass them to the other side. On
         * its last turn a side does not queue again; its release still grants the other side if
         * that side queued again on its own last turn, i.e. if it is not finished.
         */
        void turn() {
            boolean again = burstsLeft > 0;
            if (again) {
                burstsLeft--;
            } else {
                finished = true;       // before the hand-over below: the other side reads it after
            }
            if (sem == null) {
                if (again || !other.finished) {
                    for (Client c : other.clients) {
                        other.loop.execute(c);     // one token per client of the other side
                    }
                }
            } else {
                if (again) {
                    queueAll();
                }
                sem.release(burst);        // one call granting `burst` waiters of the other loop
            }
            if (!again) {
                done.countDown();
            }
        }

        void granted() {
            grantedTotal++;
            if (++grantedInTurn == burst) {
                grantedInTurn = 0;
                turn();
            }
        }
    }

    /** A waiting client (or, for bareHop, a token's arrival on a loop). */
    private final class Client extends Continuation {
        final Side side;
        final SemaphorePeer.Waiting waiting;   // null for bareHop
        int wrongThread;                       // written on side.loop only

        Client(Side side) {
            this.side = side;
            this.waiting = sem == null ? null : sem.on(side.loop);
        }

        @Override
        public void run() {            // holds a permit (or received a token)
            if (!side.loop.inEventLoop()) {
                wrongThread++;
            }
            side.granted();
        }
    }
}
