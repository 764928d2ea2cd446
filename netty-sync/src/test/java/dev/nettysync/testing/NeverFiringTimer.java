package dev.nettysync.testing;

import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.Delayed;
import java.util.concurrent.TimeUnit;

/**
 * The timer a test executor hands out when its timers must never fire on their own: a plain
 * promise (cancellable, listeners notified inline on the cancelling thread) that is never due.
 * A test plays what a timer would do itself (a grant pass, a shutdown's sweep). Not final: a
 * test may make one whose {@code cancel} misbehaves, as a dying executor's timer does.
 */
public class NeverFiringTimer extends DefaultPromise<Object> implements ScheduledFuture<Object> {

    public NeverFiringTimer() {
        this(ImmediateEventExecutor.INSTANCE);
    }

    /**
     * A timer whose listeners are notified on {@code executor}: inline when it is done on that
     * executor's thread, else through its {@code execute} (which a shut-down executor refuses).
     */
    public NeverFiringTimer(EventExecutor executor) {
        super(executor);
    }

    @Override
    public long getDelay(TimeUnit unit) {
        return Long.MAX_VALUE;
    }

    @Override
    public int compareTo(Delayed o) {
        return 0;
    }
}
