package dev.nettysync.examples;

import dev.nettysync.AsyncEvent;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.List;

/**
 * Tutorial 3.1: the database takes 2 s to initialize; a web server and two workers, on other
 * event loops, wait on one {@link AsyncEvent} and all go on the moment it is set. The server
 * then handles a request for 1 s: about 3 s in all.
 * <pre>{@code
 * print("Server: waiting for database...")      t.log("Server: waiting for database...");
 * await event.wait()                            return Futures.then(event.await(ex), ex, ready -> {
 * print("Server: ... accepting requests!")          t.log("Server: ... accepting requests!");
 * await asyncio.sleep(1.0)                          return time.after(ex, 1.0, () -> {
 * print("Server: handled a request")                    t.log("Server: handled a request"); ...
 * }</pre>
 */
public final class StartupCoordination {

    private StartupCoordination() {
    }

    static Future<Void> databaseReady(AsyncEvent event, EventExecutor ex, Timeline t, TimeScale time) {
        t.log("DB: initializing...");
        return time.after(ex, 2.0, () -> {
            t.log("DB: ready!");
            event.set();                        // wakes every waiter, each on its own executor
            return null;
        });
    }

    static Future<Void> webServer(AsyncEvent event, EventExecutor ex, Timeline t, TimeScale time) {
        t.log("Server: waiting for database...");
        return Futures.then(event.await(ex), ex, ready -> {
            t.log("Server: database is ready, accepting requests!");
            return time.after(ex, 1.0, () -> {
                t.log("Server: handled a request");
                return null;
            });
        });
    }

    static Future<Void> worker(AsyncEvent event, String name, EventExecutor ex, Timeline t) {
        t.log("Worker-" + name + ": waiting for database...");
        return Futures.map(event.await(ex), ex, ready -> {
            t.log("Worker-" + name + ": processing jobs!");
            return null;
        });
    }

    /** The database, the server and two workers, each a task on the next loop of the group. */
    public static Future<List<Void>> run(EventLoopGroup group, Timeline t, TimeScale time) {
        AsyncEvent dbEvent = new AsyncEvent();
        EventExecutor db = group.next();
        EventExecutor server = group.next();
        EventExecutor w1 = group.next();
        EventExecutor w2 = group.next();
        return Futures.gather(group.next(), List.of(
                Futures.task(db, () -> databaseReady(dbEvent, db, t, time)),
                Futures.task(server, () -> webServer(dbEvent, server, t, time)),
                Futures.task(w1, () -> worker(dbEvent, "1", w1, t)),
                Futures.task(w2, () -> worker(dbEvent, "2", w2, t))));
    }

    /** The only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("3.1 an AsyncEvent gates a web server and workers on the database", args, StartupCoordination::run);
    }
}
