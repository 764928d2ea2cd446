package dev.nettysync.examples;

import dev.nettysync.AsyncBarrier;
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
 * Tutorial 5: three workers do 0.5 s of setup, then wait at an {@code AsyncBarrier(3)}; nobody
 * proceeds until all three have arrived, then all do at once.
 * <pre>{@code
 * print(f"{name}: waiting at barrier")          t.log(name + ": waiting at barrier");
 * await barrier.wait()                          return Futures.map(barrier.await(ex), ex, index -> {
 * print(f"{name}: barrier released, ...")           t.log(name + ": barrier released, proceeding!"); ...
 * }</pre>
 * Each future succeeds with the party's arrival index (0, 1, 2), as {@code barrier.wait()} returns.
 */
public final class BarrierRendezvous {

    private BarrierRendezvous() {
    }

    static Future<Integer> worker(AsyncBarrier barrier, String name, EventExecutor ex, Timeline t, TimeScale time) {
        t.log("  " + name + ": doing setup work...");
        return Futures.then(time.sleep(ex, 0.5), ex, setUp -> {
            t.log("  " + name + ": waiting at barrier");
            return Futures.map(barrier.await(ex), ex, index -> {
                t.log("  " + name + ": barrier released, proceeding!");
                return index;
            });
        });
    }

    /** Workers A, B and C, each a task on the next loop of the group; returns their arrival indexes. */
    public static Future<List<Integer>> run(EventLoopGroup group, Timeline t, TimeScale time) {
        AsyncBarrier barrier = new AsyncBarrier(3);
        List<Future<Integer>> workers = new ArrayList<>();
        for (String name : List.of("A", "B", "C")) {
            EventExecutor ex = group.next();
            workers.add(Futures.task(ex, () -> worker(barrier, name, ex, t, time)));
        }
        return Futures.gather(group.next(), workers);
    }

    /** The only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("5 an AsyncBarrier(3) between setup and work", args, BarrierRendezvous::run);
    }
}
