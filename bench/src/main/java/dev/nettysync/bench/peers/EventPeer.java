package dev.nettysync.bench.peers;

import dev.nettysync.AsyncEvent;
import io.netty.util.concurrent.EventExecutor;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One event (broadcast) implementation, selected by the {@code impl} {@code @Param}:
 * <ul>
 *   <li>{@code nettysync}: {@link AsyncEvent}.</li>
 *   <li>{@code naive}: {@link NaiveAsyncEvent}, {@code synchronized} + {@code ArrayList<Promise>}.</li>
 *   <li>{@code completableFuture}: a fresh {@link CompletableFuture} per round, each waiter
 *       registered with {@code thenRunAsync(..., itsLoop)}; what a user without a library writes.</li>
 * </ul>
 * The caller sequences {@link #clear()} against {@link #awaitThen} (the benchmark does).
 */
public abstract class EventPeer {

    public static final String NETTYSYNC = "nettysync";
    public static final String NAIVE = "naive";
    public static final String COMPLETABLE_FUTURE = "completableFuture";

    public static EventPeer create(String impl) {
        switch (impl) {
            case NETTYSYNC: return new NettySync();
            case NAIVE: return new Naive();
            case COMPLETABLE_FUTURE: return new Cf();
            default: throw new IllegalArgumentException("unknown impl '" + impl + "', expected one of "
                    + List.of(NETTYSYNC, NAIVE, COMPLETABLE_FUTURE));
        }
    }

    /** Waits for the event; {@code then} runs on {@code executor} once it is set. */
    public abstract void awaitThen(EventExecutor executor, Continuation then);

    public abstract void set();

    public abstract void clear();

    static final class NettySync extends EventPeer {
        final AsyncEvent event = new AsyncEvent();

        @Override public void awaitThen(EventExecutor executor, Continuation then) {
            event.await(executor).addListener(then);
        }
        @Override public void set() { event.set(); }
        @Override public void clear() { event.clear(); }
    }

    static final class Naive extends EventPeer {
        final NaiveAsyncEvent event = new NaiveAsyncEvent();

        @Override public void awaitThen(EventExecutor executor, Continuation then) {
            event.await(executor).addListener(then);
        }
        @Override public void set() { event.set(); }
        @Override public void clear() { event.clear(); }
    }

    static final class Cf extends EventPeer {
        volatile CompletableFuture<Void> current = new CompletableFuture<>();

        @Override public void awaitThen(EventExecutor executor, Continuation then) {
            current.thenRunAsync(then, executor);
        }
        @Override public void set() { current.complete(null); }
        @Override public void clear() {
            if (current.isDone()) {
                current = new CompletableFuture<>();
            }
        }
    }
}
