package dev.nettysync.examples;

import dev.nettysync.AsyncCondition;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.List;

/**
 * Tutorial 4.2: {@code Condition.wait_for(predicate)} is {@link AsyncCondition#awaitUntil}: it
 * evaluates the predicate (on the waiter's executor, holding the lock) first and after every
 * signal, so the {@code while} loop of 4.1 disappears. A provider sets {@code dataReady} after
 * 1 s and signals all; two consumers on other loops then get the data.
 * <pre>{@code
 * async with condition:                              lock.withLock(ex, () -> Futures.map(
 *     await condition.wait_for(lambda: data_ready)       condition.awaitUntil(ex, () -> state.dataReady), ex,
 *     print(f"{name}: got data!")                        ready -> { t.log(name + ": got data!"); ... }))
 * }</pre>
 */
public final class ConditionWaitFor {

    private static final class State {
        final AsyncCondition condition = new AsyncCondition();
        boolean dataReady;                 // guarded by condition.lock()
    }

    private ConditionWaitFor() {
    }

    static Future<Void> provider(State s, EventExecutor ex, Timeline t, TimeScale time) {
        return Futures.then(time.sleep(ex, 1.0), ex, slept -> s.condition.lock().withLock(ex, () -> {
            s.dataReady = true;
            t.log("Provider: data is ready");
            s.condition.signalAll();
            return ex.newSucceededFuture(null);
        }));
    }

    static Future<Void> consumer(State s, String name, EventExecutor ex, Timeline t) {
        return s.condition.lock().withLock(ex, () -> Futures.map(s.condition.awaitUntil(ex, () -> s.dataReady), ex, ready -> {
            t.log(name + ": got data!");
            return null;
        }));
    }

    /** The provider and two consumers, each a task on the next loop of the group. */
    public static Future<List<Void>> run(EventLoopGroup group, Timeline t, TimeScale time) {
        State s = new State();
        EventExecutor p = group.next();
        EventExecutor c1 = group.next();
        EventExecutor c2 = group.next();
        return Futures.gather(group.next(), List.of(
                Futures.task(p, () -> provider(s, p, t, time)),
                Futures.task(c1, () -> consumer(s, "C1", c1, t)),
                Futures.task(c2, () -> consumer(s, "C2", c2, t))));
    }

    /** The only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("4.2 AsyncCondition.awaitUntil (wait_for)", args, ConditionWaitFor::run);
    }
}
