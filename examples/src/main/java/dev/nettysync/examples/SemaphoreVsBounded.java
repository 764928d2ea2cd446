package dev.nettysync.examples;

import dev.nettysync.AsyncBoundedSemaphore;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

/**
 * Tutorial 2.2: a release without an acquire silently raises an {@link AsyncSemaphore}'s count
 * (2 becomes 3), while an {@link AsyncBoundedSemaphore} refuses it: {@code release()} throws
 * {@link IllegalStateException} (asyncio's {@code ValueError}) and changes nothing. A
 * properly paired acquire and release is fine on both.
 */
public final class SemaphoreVsBounded {

    /**
     * What happened.
     *
     * @param semaphorePermits permits of the plain semaphore after the extra release (3)
     * @param boundedError     the bounded semaphore's error message for the extra release, or null if none
     * @param boundedPermits   permits of the bounded semaphore afterwards (still 2)
     */
    public record Outcome(int semaphorePermits, String boundedError, int boundedPermits) {
    }

    private SemaphoreVsBounded() {
    }

    /** Runs the comparison on one event loop (nothing waits here). */
    public static Future<Outcome> run(EventLoopGroup group, Timeline t, TimeScale time) {
        EventExecutor ex = group.next();
        return Futures.task(ex, () -> {
            AsyncSemaphore sem = new AsyncSemaphore(2);
            sem.release();                                       // no error
            t.log("Semaphore(2).release(): available permits now " + sem.availablePermits() + ", no error");

            AsyncBoundedSemaphore bsem = new AsyncBoundedSemaphore(2);
            if (!bsem.tryAcquire()) {
                throw new AssertionError("a fresh bounded semaphore of 2 has a permit");
            }
            bsem.release();                                      // paired: fine
            t.log("BoundedSemaphore(2): acquire + release: available permits " + bsem.availablePermits());
            String error = null;
            try {
                bsem.release();                                  // one too many
            } catch (IllegalStateException e) {
                error = e.getMessage();
            }
            t.log("BoundedSemaphore(2).release() once more: "
                    + (error == null ? "no error (a bug!)" : "IllegalStateException: " + error));
            t.log("BoundedSemaphore(2) afterwards: available permits " + bsem.availablePermits());
            return ex.newSucceededFuture(new Outcome(sem.availablePermits(), error, bsem.availablePermits()));
        });
    }

    /** No argument needed (nothing here takes time). */
    public static void main(String[] args) {
        ExampleMain.run("2.2 Semaphore vs BoundedSemaphore", args, SemaphoreVsBounded::run);
    }
}
