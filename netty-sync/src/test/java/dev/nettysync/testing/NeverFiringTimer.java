package dev.nettysync.testing;

import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.Delayed;
import java.util.concurrent.TimeUnit;

/**
 * The timer a test executor hands out when its timers must never fire on their own: a plain
 * promise (cancellable, listeners notified inline on the cancelling thread) that is never due.
 * A test plays what a timer would do itself (a grant pass, a shutdown's sweep).
 */
public final class NeverFiringTimer extends DefaultPromise<Object> implements ScheduledFuture<Object> {

    public NeverFiringTimer() {
        super(ImmediateEventExecutor.INSTANCE);
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
