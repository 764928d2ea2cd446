package dev.nettysync.bench.jmh;

import com.ibm.asyncutil.locks.AsyncReadWriteLock.ReadLockToken;
import com.ibm.asyncutil.locks.AsyncReadWriteLock.WriteLockToken;
import com.ibm.asyncutil.locks.FairAsyncReadWriteLock;
import dev.nettysync.AsyncReadWriteLock;
import dev.nettysync.AsyncSemaphore;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Issue 13: the read-write lock uncontended, one thread, the lock always free. {@code read} is
 * a read lock + unlock through the waiting API ({@code readLock(loop)} for netty-sync,
 * {@code acquireReadLock()} for IBM asyncutil's {@link FairAsyncReadWriteLock}), {@code write}
 * the same for the write lock. {@code semaphore} runs netty-sync's
 * {@code AsyncSemaphore.acquire(loop)} + {@code release()} in both rows: the yardstick, since
 * the read-write lock is a semaphore underneath (a read takes one permit, a write all of them).
 * Run with {@code -prof gc} for B/op.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar ReadWriteLockBenchmark -prof gc}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ReadWriteLockBenchmark extends AbstractEventLoopBenchmark {

    /** netty-sync's read-write lock. */
    public static final String NETTYSYNC = "nettysync";
    /** IBM asyncutil 0.1.0's FairAsyncReadWriteLock. */
    public static final String ASYNCUTIL = "asyncutil";
    /** netty-sync's semaphore acquire + release, for scale. */
    public static final String SEMAPHORE = "semaphore";

    @Param({NETTYSYNC, ASYNCUTIL, SEMAPHORE})
    public String impl;

    private EventLoop loop;
    private AsyncReadWriteLock rw;
    private FairAsyncReadWriteLock ibm;
    private AsyncSemaphore sem;

    @Setup(Level.Trial)
    public void setUp() {
        loops = new Loops(1);
        loop = loops.loops[0];
        rw = new AsyncReadWriteLock();
        ibm = new FairAsyncReadWriteLock();
        sem = new AsyncSemaphore(1);
    }

    @Benchmark
    public Object read() {
        switch (impl) {
            case NETTYSYNC: {
                Future<Void> f = rw.readLock(loop);
                check(f.isSuccess());
                rw.unlockRead();
                return f;
            }
            case ASYNCUTIL: {
                CompletableFuture<ReadLockToken> f = ibm.acquireReadLock().toCompletableFuture();
                check(f.isDone());
                f.getNow(null).releaseLock();
                return f;
            }
            default:
                return semaphore();
        }
    }

    @Benchmark
    public Object write() {
        switch (impl) {
            case NETTYSYNC: {
                Future<Void> f = rw.writeLock(loop);
                check(f.isSuccess());
                rw.unlockWrite();
                return f;
            }
            case ASYNCUTIL: {
                CompletableFuture<WriteLockToken> f = ibm.acquireWriteLock().toCompletableFuture();
                check(f.isDone());
                f.getNow(null).releaseLock();
                return f;
            }
            default:
                return semaphore();
        }
    }

    private Object semaphore() {
        Future<Void> f = sem.acquire(loop);
        check(f.isSuccess());
        sem.release();
        return f;
    }

    private void check(boolean grantedAtOnce) {
        if (!grantedAtOnce) {
            throw new IllegalStateException(impl + ": an uncontended lock did not complete at once");
        }
    }
}
