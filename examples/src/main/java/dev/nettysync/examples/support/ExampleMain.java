package dev.nettysync.examples.support;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs one example from a {@code main} method: two event loops, a timeline printed to
 * {@code System.out}, an optional time scale as the only argument ({@code 0.1} runs ten times
 * faster than the tutorial).
 */
public final class ExampleMain {

    /** An example: starts its tasks on {@code group}, logs to {@code timeline}, returns its result. */
    @FunctionalInterface
    public interface Example<T> {
        /** Starts the example; nothing here may block. */
        Future<T> run(EventLoopGroup group, Timeline timeline, TimeScale time);
    }

    private ExampleMain() {
    }

    /** The event loops the examples run on: {@code threads} loops named loop-1, loop-2, ... */
    public static EventLoopGroup newGroup(int threads) {
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = r -> new FastThreadLocalThread(r, "loop-" + n.incrementAndGet());
        return new MultiThreadIoEventLoopGroup(threads, factory, NioIoHandler.newFactory());
    }

    /**
     * Prints {@code title}, runs {@code example} on two fresh event loops at the time scale given
     * in {@code args}, waits (this is the main thread, not an event loop) and shuts down.
     *
     * @return the example's result
     * @throws IllegalStateException if the example failed
     */
    public static <T> T run(String title, String[] args, Example<T> example) {
        TimeScale time = TimeScale.parse(args);
        EventLoopGroup group = newGroup(2);
        try {
            return runOn(group, title, time, example);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** As {@link #run}, on an existing group. */
    public static <T> T runOn(EventLoopGroup group, String title, TimeScale time, Example<T> example) {
        System.out.println("== " + title + (time.factor() == 1.0 ? "" : " (time scale " + time.factor() + ")"));
        Future<T> result;
        try (Timeline timeline = Timeline.printingTo(System.out)) {
            result = example.run(group, timeline, time).awaitUninterruptibly();
        }
        System.out.println();
        if (!result.isSuccess()) {
            throw new IllegalStateException(title + " failed", result.cause());
        }
        return result.getNow();
    }
}
