package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.Continuation;
import dev.nettysync.bench.peers.ReadWriteLockPeer;
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

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Issue 13: a read-write lock under a 95 % read / 5 % write mix, across two event loops, both busy.
 * Two NIO loops, {@code clientsPerLoop} clients on each (1: every wait leaves its loop idle; 8: a
 * loop has other clients to run while some wait). A client runs its share of lock operations one
 * after the other on its own loop: take the lock, run the critical section, unlock, next. Every
 * 20th operation of a client is a write (exactly 5 %, the clients' writes staggered), the rest are
 * reads. The critical section is the least a guarded read or write does: a reader reads the
 * guarded value, a writer increments it. A client that had to wait runs its section in the
 * continuation and submits its next operation to its loop as a new task, as a connection's next
 * request arrives as a new event: a grant never runs a long streak of one client's operations
 * inside the unlock that made it, for either peer. The score is ns per lock operation: the round's wall
 * time over {@value #OPS} operations (both loops together), so it is the mix's throughput, reads
 * that go straight through and waits behind writers (and the hops they cost) alike.
 *
 * <p>Peers ({@link ReadWriteLockPeer}): {@code nettysync} ({@code AsyncReadWriteLock}) and IBM
 * asyncutil's {@code FairAsyncReadWriteLock}, the same fairness (FIFO, a queued writer holds back
 * later readers). asyncutil completes a waiter on the releasing thread, which may be the other
 * loop, so its continuation must hop to the client's loop: {@code asyncutilInline} hops the way
 * Netty's promises do (inline when already on that loop, nesting bounded at 8, else the loop's
 * task queue), so the row compares the locks; {@code asyncutil} ({@code thenRunAsync(.., loop)})
 * always goes through the task queue, as a plain {@code CompletionStage} user writes it (context,
 * as in {@link SameLoopHandoffBenchmark}). Both peers take a lock that is granted at once
 * synchronously, without a continuation.
 *
 * <p>Checked inside the benchmark, so a broken lock fails the run: every continuation runs on its
 * client's loop; a writer never overlaps another writer or any reader and a reader never overlaps
 * a writer (a writer announces itself with a CAS, readers with a per-loop count, and each side
 * looks for the other after announcing itself: Dekker-style, so an overlap cannot go unseen); after
 * each round, the operation counts are exact, the guarded value grew by exactly the number of
 * writes (no write lost, every write visible to the next holder) and the lock is free. The checks
 * cost every peer the same few ns per operation (a volatile store per read, a CAS per write).
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar ReadWriteMixBenchmark -prof gc}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Measurement(iterations = 10, time = 1)
public class ReadWriteMixBenchmark extends AbstractEventLoopBenchmark {

    /** Lock operations per benchmark invocation, both loops together. */
    public static final int OPS = 40_000;

    /** One operation in this many is a write: 5 %. */
    public static final int WRITE_EVERY = 20;

    private static final int PAD = 16;                // ints between two loops' reader counts: 64 bytes

    @Param({ReadWriteLockPeer.NETTYSYNC, ReadWriteLockPeer.ASYNCUTIL_INLINE, ReadWriteLockPeer.ASYNCUTIL})
    public String impl;

    /** Clients per loop: 1, every wait leaves the loop idle; 8, other clients run meanwhile. */
    @Param({"1", "8"})
    public int clientsPerLoop;

    private ReadWriteLockPeer lock;
    private Client[] clients;

    // What the lock guards, and the overlap detectors. See the class comment.
    private long guarded;                                            // guarded by the lock under test
    private final AtomicInteger writerInside = new AtomicInteger();  // 1 while a writer runs its section
    private final AtomicIntegerArray readersInside = new AtomicIntegerArray(2 * PAD);  // [loop * PAD], written by that loop only
    private final AtomicReference<String> failure = new AtomicReference<>();           // the first overlap seen

    @Setup(Level.Trial)
    public void setUp() {
        setUp(ReadWriteLockPeer.create(impl));
    }

    /** As {@link #setUp()} with a given lock; tests pass a broken one to see the checks fail. */
    void setUp(ReadWriteLockPeer peer) {
        if (clientsPerLoop < 1 || OPS % (2 * clientsPerLoop * WRITE_EVERY) != 0) {
            throw new IllegalArgumentException("clientsPerLoop must divide " + OPS / (2 * WRITE_EVERY) + ", was " + clientsPerLoop);
        }
        loops = new Loops(2);
        lock = peer;
        clients = new Client[2 * clientsPerLoop];
        for (int c = 0; c < clients.length; c++) {
            clients[c] = new Client(c, c % 2);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void mix() throws InterruptedException {
        round(OPS);
    }

    /**
     * Runs {@code ops} lock operations (a multiple of {@code 2 × clientsPerLoop × 20}) over all
     * clients, waits for the last, checks the round (see the class comment) and returns the number
     * of writes.
     */
    public long round(int ops) throws InterruptedException {
        if (ops % (clients.length * WRITE_EVERY) != 0) {
            throw new IllegalArgumentException("ops must be a multiple of " + clients.length * WRITE_EVERY + ", was " + ops);
        }
        long before = guarded;          // the loops are idle between rounds; the latch orders it
        CountDownLatch done = new CountDownLatch(clients.length);
        for (Client c : clients) {
            c.reset(ops / clients.length, done);
        }
        for (int l = 0; l < 2; l++) {
            int loopIndex = l;
            loops.loops[l].execute(() -> {
                for (Client c : clients) {
                    if (c.loopIndex == loopIndex) {
                        c.next();
                    }
                }
            });
        }
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(impl + ": read-write round stuck, " + done.getCount() + " of "
                    + clients.length + " clients unfinished" + (failure.get() == null ? "" : "; " + failure.get()));
        }
        String broken = failure.get();
        if (broken != null) {
            throw new IllegalStateException(impl + ": " + broken);
        }
        long reads = 0;
        long writes = 0;
        for (Client c : clients) {
            if (c.wrongThread != 0) {
                throw new IllegalStateException(impl + ": " + c.wrongThread + " continuations ran off the client's loop");
            }
            reads += c.reads;
            writes += c.writes;
        }
        if (writes != ops / WRITE_EVERY || reads + writes != ops) {
            throw new IllegalStateException(impl + ": " + reads + " reads and " + writes + " writes, expected "
                    + (ops - ops / WRITE_EVERY) + " and " + ops / WRITE_EVERY);
        }
        if (guarded - before != writes) {
            throw new IllegalStateException(impl + ": the guarded value grew by " + (guarded - before) + " in "
                    + writes + " writes: a write was lost or not visible to the next holder");
        }
        if (writerInside.get() != 0 || readersInside.get(0) != 0 || readersInside.get(PAD) != 0) {
            throw new IllegalStateException(impl + ": a holder is still inside after the round");
        }
        if (!lock.isFree()) {
            throw new IllegalStateException(impl + ": the lock is not free after the round");
        }
        return writes;
    }

    private void fail(String message) {
        failure.compareAndSet(null, message);
    }

    /** A client on one loop. Every field but the final ones is written on that loop only (reset: before the round's tasks). */
    private final class Client extends Continuation {
        final int index;
        final int loopIndex;
        final EventLoop loop;
        final ReadWriteLockPeer.Client side;
        int quota;              // operations this round
        int done;               // operations finished this round
        boolean waitingWrite;   // the kind of the operation the continuation is waiting for
        long reads;             // read after `done`
        long writes;            // same
        long wrongThread;       // same
        long seen;              // the last guarded value read; keeps the read alive
        CountDownLatch latch;
        final Runnable resume = this::next;

        Client(int index, int loopIndex) {
            this.index = index;
            this.loopIndex = loopIndex;
            this.loop = loops.loops[loopIndex];
            this.side = lock.on(loop);
        }

        void reset(int quota, CountDownLatch latch) {
            this.quota = quota;
            this.latch = latch;
            this.done = 0;
            this.reads = 0;
            this.writes = 0;
            this.wrongThread = 0;
        }

        /** The staggered pattern: operation n of this client is a write every 20th time. */
        boolean isWrite(int n) {
            return (n + 3 * index) % WRITE_EVERY == WRITE_EVERY - 1;
        }

        /**
         * Runs operations until one must wait (its continuation then carries on) or the quota is
         * done. Called on the client's loop.
         */
        void next() {
            while (done < quota) {
                boolean write = isWrite(done);
                waitingWrite = write;           // before asking: the continuation may run inside the call
                if (!(write ? side.writeLock(this) : side.readLock(this))) {
                    return;
                }
                section(write);
            }
            latch.countDown();
        }

        @Override
        public void run() {                     // the lock asked for in next() is held
            if (!loop.inEventLoop()) {
                wrongThread++;
            }
            section(waitingWrite);
            loop.execute(resume);               // the client's next operation: a new task, see the class comment
        }

        /** The critical section and the unlock. */
        private void section(boolean write) {
            if (write) {
                if (!writerInside.compareAndSet(0, 1)) {
                    fail("two writers hold the lock at once");
                }
                if (readersInside.get(0) != 0 || readersInside.get(PAD) != 0) {
                    fail("a writer holds the lock while readers do");
                }
                guarded++;
                writerInside.lazySet(0);
                writes++;
                done++;
                side.unlockWrite();
            } else {
                int slot = loopIndex * PAD;
                readersInside.set(slot, readersInside.get(slot) + 1);     // this loop only writes it
                if (writerInside.get() != 0) {
                    fail("a reader holds the lock while a writer does");
                }
                seen = guarded;
                readersInside.lazySet(slot, readersInside.get(slot) - 1);
                reads++;
                done++;
                side.unlockRead();
            }
        }
    }
}
