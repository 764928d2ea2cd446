package dev.nettysync.examples;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Tutorial 2.1: nine API calls of 1 s each, at most three at a time through an
 * {@code AsyncSemaphore(3)}: three waves, about 3 s in all.
 * <pre>{@code
 * async with sem:                            sem.withPermit(ex, () -> {
 *     print("Task {i} calling API...")           t.log("Task " + i + " calling API...");
 *     await asyncio.sleep(1.0)                   return time.after(ex, 1.0, () -> {
 *     print("Task {i} done")                         t.log("Task " + i + " done");
 *     return f"result-{i}"                           return "result-" + i; });
 *                                            });
 * }</pre>
 * {@code withPermit} releases the permit exactly once when the call's future completes, however
 * it completes, as leaving {@code async with} does.
 *
 * <p>The tasks alternate between two event loops, which run at the same time, so which three go
 * first is not always 0, 1 and 2 as in asyncio: the semaphore is FIFO in the order the tasks
 * call it, and loop-2 may reach task 3 before loop-1 reaches task 2. Never more than three run
 * at once, whatever the order.
 */
public final class RateLimitedApiCalls {

    private RateLimitedApiCalls() {
    }

    /** One call: holds a permit for 1 s. */
    static Future<String> callApi(AsyncSemaphore sem, int i, EventExecutor ex, Timeline t, TimeScale time) {
        return sem.withPermit(ex, () -> {
            t.log("  Task " + i + " calling API...");
            return time.after(ex, 1.0, () -> {
                t.log("  Task " + i + " done");
                return "result-" + i;
            });
        });
    }

    /** Nine tasks spread over the group's loops, one semaphore of three permits shared by all. */
    public static Future<List<String>> run(EventLoopGroup group, Timeline t, TimeScale time) {
        AsyncSemaphore sem = new AsyncSemaphore(3);
        long start = t.nanosSinceStart();
        List<Future<String>> tasks = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            int n = i;
            EventExecutor ex = group.next();
            tasks.add(Futures.task(ex, () -> callApi(sem, n, ex, t, time)));
        }
        EventExecutor main = group.next();
        return Futures.map(Futures.gather(main, tasks), main, results -> {
            double elapsed = (t.nanosSinceStart() - start) / 1e9;
            t.log(String.format(Locale.ROOT, "All done in %.2fs (9 tasks, 3 at a time = ~%.1fs)", elapsed, 3 * time.factor()));
            return results;
        });
    }

    /** The only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("2.1 nine API calls, three at a time", args, RateLimitedApiCalls::run);
    }
}
