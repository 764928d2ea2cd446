package dev.nettysync.examples;

import dev.nettysync.AsyncEvent;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.List;
import java.util.Locale;

/**
 * Tutorial 3.2: {@link AsyncEvent#clear()} for repeated signalling. A traffic light turns
 * GREEN ({@code set}) and RED ({@code clear}) every second; a car drives while it is green and
 * stops when it finds it red; the whole thing is cut off after 5 s ({@code asyncio.timeout(5.0)}),
 * which cancels the light in the middle of its third cycle.
 *
 * <p>Loops become recursion: each iteration's last step starts the next one (through a timer, so
 * the stack never grows). Cancellation: cancelling a task's future cancels the sleep or the wait
 * it is in, as cancelling an asyncio task does.
 *
 * <p>Both tasks run on one event loop, as in asyncio. At t = 1 s the car's check and the light's
 * turning red fall due together; on one loop the timer queued first (the light's) runs first, as
 * on asyncio's loop, so the car always stops. Across two loops that tie would be a coin toss.
 */
public final class TrafficLight {

    /**
     * How it ended.
     *
     * @param timedOut whether the 5 s timeout cut it off (it always does: the light needs 6 s)
     * @param seconds  real seconds from start to the end
     */
    public record Outcome(boolean timedOut, double seconds) {
    }

    private TrafficLight() {
    }

    /** {@code for _ in range(cycles): set; sleep 1; clear; sleep 1}. */
    static Future<Void> trafficLight(AsyncEvent light, int cycles, EventExecutor ex, Timeline t, TimeScale time) {
        if (cycles == 0) {
            return ex.newSucceededFuture(null);
        }
        light.set();
        t.log("  GREEN");
        return Futures.then(time.sleep(ex, 1.0), ex, slept -> {
            light.clear();
            t.log("  RED");
            return Futures.then(time.sleep(ex, 1.0), ex, slept2 -> trafficLight(light, cycles - 1, ex, t, time));
        });
    }

    /** {@code while True: await light.wait(); drive 0.5 s; if not set: stop}. */
    static Future<Void> car(AsyncEvent light, String name, EventExecutor ex, Timeline t, TimeScale time) {
        return Futures.then(light.await(ex), ex, green -> {
            t.log("  " + name + ": driving!");
            return Futures.then(time.sleep(ex, 0.5), ex, drove -> {
                if (!light.isSet()) {
                    t.log("  " + name + ": stopping");
                    return ex.newSucceededFuture(null);
                }
                return car(light, name, ex, t, time);
            });
        });
    }

    /** Runs the light and one car on one loop of {@code group}, cancelling both after 5 s. */
    public static Future<Outcome> run(EventLoopGroup group, Timeline t, TimeScale time) {
        EventExecutor ex = group.next();
        AsyncEvent light = new AsyncEvent();
        long start = t.nanosSinceStart();
        Promise<Outcome> outcome = ex.newPromise();
        ex.execute(() -> {
            // async with asyncio.timeout(5.0): armed before the tasks start, so it is due before
            // the light's last sleep (which starts at 4 s) ends at 5 s
            Promise<List<Void>> both = ex.newPromise();
            Future<?> timeout = time.after(ex, 5.0, () -> both.cancel(false));
            Future<Void> lightTask = Futures.task(ex, () -> trafficLight(light, 3, ex, t, time));
            Future<Void> carTask = Futures.task(ex, () -> car(light, "Car-A", ex, t, time));
            Future<List<Void>> gathered = Futures.gather(ex, List.of(lightTask, carTask));
            gathered.addListener(g -> Futures.copy(gathered, both));
            both.addListener(f -> {
                if (f.isCancelled()) {
                    gathered.cancel(false);       // cancels both tasks, and what each is waiting for
                }
                timeout.cancel(false);
                boolean timedOut = f.isCancelled();
                t.log(timedOut ? String.format(Locale.ROOT, "timed out after %.1fs: cancelled", 5.0 * time.factor()) : "finished");
                outcome.setSuccess(new Outcome(timedOut, (t.nanosSinceStart() - start) / 1e9));
            });
        });
        return outcome;
    }

    /** The only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("3.2 a traffic light: AsyncEvent set() and clear(), cut off after 5 s", args, TrafficLight::run);
    }
}
