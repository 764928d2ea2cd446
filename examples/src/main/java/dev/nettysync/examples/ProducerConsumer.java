package dev.nettysync.examples;

import dev.nettysync.AsyncCondition;
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
 * Tutorial 4.1: a producer and a consumer on different event loops share a buffer of at most
 * three items through an {@link AsyncCondition}. Each waits, holding the condition's lock, for
 * room (producer) or an item (consumer), and signals all after changing the buffer.
 * <pre>{@code
 * async with condition:                        lock.withLock(ex, () ->
 *     while len(buffer) >= MAX_BUFFER:             Futures.then(awaitRoom(...), ex, room -> {
 *         print("buffer full, waiting...")
 *         await condition.wait()
 *     buffer.append(i)                                 buffer.add(i); ...
 *     condition.notify_all()                           condition.signalAll(); ...
 * }</pre>
 * The {@code while} loop becomes a recursive step ({@link #awaitRoom}): check, and if there is
 * no room, wait and check again. {@code withLock} unlocks once the body's future completes; a
 * wait always completes with the lock held again, so that is exactly once, as in asyncio.
 */
public final class ProducerConsumer {

    /** Buffer capacity. */
    public static final int MAX_BUFFER = 3;

    /**
     * What happened.
     *
     * @param consumed    the items in the order consumed
     * @param finalBuffer the buffer at the end
     * @param maxBuffered the most items the buffer ever held
     */
    public record Outcome(List<Integer> consumed, List<Integer> finalBuffer, int maxBuffered) {
    }

    /** The shared state, all guarded by the condition's lock. */
    private static final class Shared {
        final AsyncCondition condition = new AsyncCondition();
        final List<Integer> buffer = new ArrayList<>();   // guarded by condition.lock()
        final List<Integer> consumed = new ArrayList<>(); // guarded by condition.lock()
        int maxBuffered;                                  // guarded by condition.lock()
    }

    private ProducerConsumer() {
    }

    /** {@code while len(buffer) >= MAX_BUFFER: print(...); await condition.wait()} (lock held). */
    private static Future<Void> awaitRoom(Shared s, String name, EventExecutor ex, Timeline t) {
        if (s.buffer.size() < MAX_BUFFER) {
            return ex.newSucceededFuture(null);
        }
        t.log("  [" + name + "] buffer full, waiting...");
        return Futures.then(s.condition.await(ex), ex, woken -> awaitRoom(s, name, ex, t));
    }

    /** {@code while not buffer: print(...); await condition.wait()} (lock held). */
    private static Future<Void> awaitItem(Shared s, String name, EventExecutor ex, Timeline t) {
        if (!s.buffer.isEmpty()) {
            return ex.newSucceededFuture(null);
        }
        t.log("  [" + name + "] buffer empty, waiting...");
        return Futures.then(s.condition.await(ex), ex, woken -> awaitItem(s, name, ex, t));
    }

    /** {@code for i in range(from, count)}: produce i under the lock, then sleep. */
    private static Future<Void> producer(Shared s, String name, int i, int count, double delay,
                                         EventExecutor ex, Timeline t, TimeScale time) {
        if (i == count) {
            return ex.newSucceededFuture(null);
        }
        AsyncLock lock = s.condition.lock();
        Future<Void> produced = lock.withLock(ex, () -> Futures.map(awaitRoom(s, name, ex, t), ex, room -> {
            s.buffer.add(i);
            s.maxBuffered = Math.max(s.maxBuffered, s.buffer.size());
            t.log("  [" + name + "] produced " + i + " | buffer: " + s.buffer);
            s.condition.signalAll();
            return null;
        }));
        return Futures.then(Futures.then(produced, ex, p -> time.sleep(ex, delay)), ex,
                slept -> producer(s, name, i + 1, count, delay, ex, t, time));
    }

    /** {@code while consumed < count}: take the oldest item under the lock, then sleep. */
    private static Future<Void> consumer(Shared s, String name, int consumed, int count, double delay,
                                         EventExecutor ex, Timeline t, TimeScale time) {
        if (consumed == count) {
            return ex.newSucceededFuture(null);
        }
        AsyncLock lock = s.condition.lock();
        Future<Void> took = lock.withLock(ex, () -> Futures.map(awaitItem(s, name, ex, t), ex, item -> {
            int i = s.buffer.remove(0);
            s.consumed.add(i);
            t.log("  [" + name + "] consumed " + i + " | buffer: " + s.buffer);
            s.condition.signalAll();
            return null;
        }));
        return Futures.then(Futures.then(took, ex, c -> time.sleep(ex, delay)), ex,
                slept -> consumer(s, name, consumed + 1, count, delay, ex, t, time));
    }

    /**
     * P1 produces {@code items} items, sleeping {@code produceDelay} after each; C1 consumes as
     * many, sleeping {@code consumeDelay} after each (the tutorial: 5, 0.1 s, 0.2 s).
     */
    public static Future<Outcome> run(EventLoopGroup group, Timeline t, TimeScale time,
                                      int items, double produceDelay, double consumeDelay) {
        Shared s = new Shared();
        EventExecutor p = group.next();
        EventExecutor c = group.next();
        Future<List<Void>> both = Futures.gather(group.next(), List.of(
                Futures.task(p, () -> producer(s, "P1", 0, items, produceDelay, p, t, time)),
                Futures.task(c, () -> consumer(s, "C1", 0, items, consumeDelay, c, t, time))));
        // read the shared state under the lock, like everyone else
        EventExecutor main = group.next();
        return Futures.then(both, main, done -> s.condition.lock().withLock(main, () -> {
            t.log("Final buffer: " + s.buffer);
            return main.newSucceededFuture(new Outcome(List.copyOf(s.consumed), List.copyOf(s.buffer), s.maxBuffered));
        }));
    }

    /** The tutorial's run; the only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("4.1 producer-consumer with an AsyncCondition", args,
                (group, t, time) -> run(group, t, time, 5, 0.1, 0.2));
    }
}
