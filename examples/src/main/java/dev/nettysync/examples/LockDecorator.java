package dev.nettysync.examples;

import dev.nettysync.AsyncLock;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.ArrayList;
import java.util.List;

/**
 * Tutorial 1.3: a decorator that runs any asynchronous function under one lock. Java has no
 * decorators; a function that wraps a function does the same:
 * <pre>{@code
 * def with_lock(func):                           static <A, T> AsyncFunction<A, T> withLock(AsyncLock lock, AsyncFunction<A, T> f) {
 *     async def wrapper(*args):                      return (ex, arg) -> lock.withLock(ex, () -> f.apply(ex, arg));
 *         async with _lock:                      }
 *             return await func(*args)
 * }</pre>
 * Three calls, A, B and C, each 1 s inside the critical section: they take turns, in call order
 * (the lock is FIFO), and all are done after about 3 s.
 */
public final class LockDecorator {

    /** An asynchronous function of one argument, run on the caller's executor. */
    @FunctionalInterface
    public interface AsyncFunction<A, T> {
        /** Starts the call on {@code executor}. */
        Future<T> apply(EventExecutor executor, A arg);
    }

    private LockDecorator() {
    }

    /** The decorator: {@code f}, holding {@code lock} from before it starts until its future completes. */
    public static <A, T> AsyncFunction<A, T> withLock(AsyncLock lock, AsyncFunction<A, T> f) {
        return (ex, arg) -> lock.withLock(ex, () -> f.apply(ex, arg));
    }

    /** Calls the decorated critical operation for A, B and C, each from its own task. */
    public static Future<List<Void>> run(EventLoopGroup group, Timeline t, TimeScale time) {
        AsyncFunction<String, Void> criticalOperation = withLock(new AsyncLock(), (ex, name) -> {
            t.log("  " + name + " entered critical section");
            return time.after(ex, 1.0, () -> {
                t.log("  " + name + " leaving critical section");
                return null;
            });
        });
        List<Future<Void>> calls = new ArrayList<>();
        for (String name : List.of("A", "B", "C")) {
            EventExecutor ex = group.next();
            calls.add(criticalOperation.apply(ex, name));
        }
        return Futures.gather(group.next(), calls);
    }

    /** The only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("1.3 a lock decorator: A, B, C one at a time", args, LockDecorator::run);
    }
}
