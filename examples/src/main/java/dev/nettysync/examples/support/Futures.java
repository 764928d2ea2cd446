package dev.nettysync.examples.support;

import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.PromiseCombiner;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * asyncio's {@code create_task}, {@code await} and {@code gather} for Netty futures, which have
 * only listeners (Netty 4.2's {@code Future} has no {@code map}/{@code flatMap}). With these, a
 * coroutine's straight-line code becomes a chain of steps, each running on the task's executor:
 * <pre>{@code
 * // x = await a(); y = await b(x); return y + 1
 * Futures.map(Futures.then(a(), ex, x -> b(x)), ex, y -> y + 1)
 * }</pre>
 *
 * <p>Every returned future belongs to the executor named, and every step runs there (at once if
 * the previous future completes on it, else through {@code execute}). A failure or cancellation
 * of a step ends the chain the same way. Cancelling a returned future cancels the step it is
 * waiting for (a sleep, a lock wait...), as cancelling an asyncio task cancels what it awaits.
 */
public final class Futures {

    private Futures() {
    }

    /**
     * {@code asyncio.create_task(body())}: runs {@code body} on {@code executor} (at once if
     * called there) and returns a future that completes as its future does.
     */
    public static <T> Future<T> task(EventExecutor executor, Supplier<? extends Future<T>> body) {
        Objects.requireNonNull(body, "body");
        return then(executor.newSucceededFuture(null), executor, ignored -> body.get());
    }

    /**
     * {@code return await next(await first)}: once {@code first} succeeds, runs {@code next} with
     * its value on {@code executor}; the result completes as {@code next}'s future does. If
     * {@code first} fails or is cancelled, or {@code next} throws, the result fails or is
     * cancelled the same way and {@code next} does not run.
     */
    public static <A, B> Future<B> then(Future<A> first, EventExecutor executor,
                                        Function<? super A, ? extends Future<B>> next) {
        Objects.requireNonNull(first, "first");
        Objects.requireNonNull(next, "next");
        Step<A, B> step = new Step<>(executor, next, first);
        first.addListener(step);
        return step;
    }

    /** {@code return fn(await first)}: as {@link #then}, for a step that does not wait. */
    public static <A, B> Future<B> map(Future<A> first, EventExecutor executor, Function<? super A, ? extends B> fn) {
        Objects.requireNonNull(fn, "fn");
        return then(first, executor, a -> executor.newSucceededFuture(fn.apply(a)));
    }

    /**
     * {@code await asyncio.gather(*futures)}: a future of all their values, in the order given,
     * completed on {@code executor} once every one of them has completed. Built on Netty's
     * {@link PromiseCombiner} (which must be driven from its executor, so this hops there). Unlike
     * asyncio's, it fails only after all have completed, with the first failure's cause.
     * Cancelling it cancels them all.
     */
    public static <T> Future<List<T>> gather(EventExecutor executor, List<? extends Future<? extends T>> futures) {
        List<Future<? extends T>> all = List.copyOf(futures);
        Promise<List<T>> result = new DefaultPromise<>(executor) {
            @Override
            public boolean cancel(boolean mayInterruptIfRunning) {
                boolean cancelled = super.cancel(mayInterruptIfRunning);
                if (cancelled) {
                    all.forEach(f -> f.cancel(false));
                }
                return cancelled;
            }
        };
        Runnable combine = () -> {
            PromiseCombiner combiner = new PromiseCombiner(executor);
            all.forEach(combiner::add);
            Promise<Void> done = executor.newPromise();
            done.addListener(d -> {
                if (d.isSuccess()) {
                    List<T> values = new ArrayList<>(all.size());
                    for (Future<? extends T> f : all) {
                        values.add(f.getNow());
                    }
                    result.trySuccess(values);
                } else {
                    result.tryFailure(d.cause());
                }
            });
            combiner.finish(done);
        };
        if (executor.inEventLoop()) {
            combine.run();
        } else {
            executor.execute(combine);
        }
        return result;
    }

    /** Completes {@code to} as {@code from} completed: value, cause or cancellation. */
    public static <T> void copy(Future<? extends T> from, Promise<T> to) {
        if (from.isSuccess()) {
            to.trySuccess(from.getNow());
        } else if (from.isCancelled()) {
            to.cancel(false);
        } else {
            to.tryFailure(from.cause());
        }
    }

    /**
     * One link of a chain, and its result: waits for {@code pending}, then runs {@code next} on
     * the executor. A cancel of the result cancels what is pending directly, not from a listener:
     * Netty runs nested listeners inline only up to a small depth (8) and defers the rest through
     * {@code execute}, so a cancel passed on by listeners through a long chain could arrive after a
     * timer that is already due had run the next step.
     */
    private static final class Step<A, B> extends DefaultPromise<B> implements GenericFutureListener<Future<A>> {
        private final EventExecutor executor;
        private final Function<? super A, ? extends Future<B>> next;
        // What a cancel must cancel: `first`, then next's future once it exists.
        // Written on the executor by run(); read by cancel() on any thread.
        private volatile Future<?> pending;

        Step(EventExecutor executor, Function<? super A, ? extends Future<B>> next, Future<A> first) {
            super(executor);
            this.executor = executor;
            this.next = next;
            this.pending = first;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            if (cancelled) {
                pending.cancel(false);
            }
            return cancelled;
        }

        @Override
        public void operationComplete(Future<A> f) {
            if (executor.inEventLoop()) {
                run(f);
            } else {
                executor.execute(() -> run(f));
            }
        }

        private void run(Future<A> f) {
            if (isDone()) {                        // cancelled while `first` was completing
                return;
            }
            if (f.isCancelled()) {
                cancel(false);
                return;
            }
            if (!f.isSuccess()) {
                tryFailure(f.cause());
                return;
            }
            Future<B> g;
            try {
                g = Objects.requireNonNull(next.apply(f.getNow()), "a step returned null instead of a future");
            } catch (Throwable t) {
                tryFailure(t);
                return;
            }
            pending = g;
            if (isCancelled()) {                   // cancelled while `next` ran: cancel() saw `first`
                g.cancel(false);
            }
            g.addListener(done -> copy(g, this));
        }
    }
}
