package dev.nettysync.internal;

import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;

import java.util.concurrent.CancellationException;

/**
 * A wait that follows another one (its <em>source</em>) and completes with the source's value
 * mapped, e.g. a limiter's permit for a primitive's raw grant, or a permit bound to a channel.
 * Not API.
 *
 * <ul>
 *   <li><b>Grants are final, through the mapping.</b> {@link #cancel(boolean)} cancels the
 *       source first and succeeds only if the source left its queue holding nothing; once the
 *       source is granted it returns {@code false} and this wait completes with the mapped
 *       value. So "cancel returned true" always means "nothing was held".</li>
 *   <li><b>Nothing is lost.</b> A mapped value that this promise cannot take (it was completed
 *       behind this class's back, through the {@code Promise} interface) is handed to
 *       {@link #discard}, which gives it back.</li>
 *   <li>A cancelled source cancels this wait; a failed one fails it with the same cause,
 *       unless {@link #recover} turns the failure into a value (a limiter that fails open).</li>
 * </ul>
 * The owner adds the instance as a listener of the source after any setup of its own
 * ({@code source.addListener(wait)}); the completion runs on the source's executor, and this
 * promise's listeners on {@link #executor()}.
 *
 * @param <S> the source's value
 * @param <T> this wait's value
 */
public abstract class MappedWait<S, T> extends DefaultPromise<T> implements GenericFutureListener<Future<S>> {
    private final Future<S> source;

    protected MappedWait(EventExecutor executor, Future<S> source) {
        super(executor);
        this.source = source;
    }

    /** This wait's value for the source's; called once, when the source succeeds. */
    protected abstract T map(S granted);

    /** Gives back a mapped value this promise could not take. */
    protected abstract void discard(T value);

    /**
     * A value to complete with instead of the source's failure, or {@code null} (the default)
     * to fail with it. Called at most once, for a source that failed (not one that was
     * cancelled); if it throws, this wait fails with that exception.
     */
    protected T recover(Throwable cause) {
        return null;
    }

    /** Called first when the source completes, however it completed (e.g. to drop a listener). */
    protected void sourceDone() {
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        if (!source.cancel(false)) {
            return false;               // granted (the grant stands) or already ended
        }
        // The source left its queue holding nothing; its completion may already have cancelled
        // this promise.
        return super.cancel(mayInterruptIfRunning) || isCancelled();
    }

    @Override
    public final void operationComplete(Future<S> f) {
        sourceDone();
        if (f.isSuccess()) {
            T value = map(f.getNow());
            if (!trySuccess(value)) {   // completed behind our back (cast to Promise)
                discard(value);
            }
        } else if (f.isCancelled()) {
            if (!super.cancel(false) && !isDone()) {
                tryFailure(new CancellationException("the wait was cancelled"));
            }
        } else {
            fail(f.cause());
        }
    }

    private void fail(Throwable cause) {
        T value;
        try {
            value = recover(cause);
        } catch (Throwable t) {
            t.addSuppressed(cause);
            tryFailure(t);
            return;
        }
        if (value == null) {
            tryFailure(cause);
        } else if (!trySuccess(value)) {
            discard(value);
        }
    }
}
