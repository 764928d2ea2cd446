package dev.nettysync.bench.jmh;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

/**
 * Base for benchmarks that wait on real Netty event loops: NIO loops, the transport a user gets
 * by default, so that a completion delivered to another loop pays the real task-queue and
 * wake-up cost. Subclasses start {@link #loops} in their trial {@code @Setup}; the trial
 * {@code @TearDown} here stops them.
 */
public abstract class AbstractEventLoopBenchmark extends AbstractBenchmark {

    /** The benchmark's loops: set by the subclass's trial {@code @Setup}, closed by {@link #tearDown}. */
    protected Loops loops;

    @TearDown(Level.Trial)
    public void tearDown() {
        loops.close();
    }

    /** The loops of a group, with the group to shut down. */
    public static final class Loops implements AutoCloseable {
        public final EventLoopGroup group;
        public final EventLoop[] loops;

        public Loops(int n) {
            group = new MultiThreadIoEventLoopGroup(n, NioIoHandler.newFactory());
            loops = new EventLoop[n];
            for (int i = 0; i < n; i++) {
                loops[i] = group.next();      // round-robin chooser: n distinct loops
            }
        }

        @Override
        public void close() {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
