package dev.nettysync;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;

import java.util.ArrayList;
import java.util.List;

/**
 * Lincheck for {@link AsyncEvent}: set, clear and isSet from any thread; one thread (the
 * {@code waiter} group) queues waits and cancels its oldest, so cancels race sets. After every
 * scenario: exactly the waits not completed are queued, none while the event is set (a set
 * wakes everyone queued, and nobody queues on a set event), and no wait failed. See
 * {@link SemaphoreLincheckTest} for the harness design.
 */
public class EventLincheckTest extends AbstractLincheckTest {
    private final AsyncEvent event = new AsyncEvent();
    private final List<Future<Void>> waits = new ArrayList<>();     // waiter thread only
    private int cancelled;

    @Operation
    public void set() {
        event.set();
    }

    @Operation
    public void clear() {
        event.clear();
    }

    @Operation
    public boolean isSet() {
        return event.isSet();
    }

    /** Returns nothing: whether it completes is decided by sets that may come later. */
    @Operation(nonParallelGroup = "waiter")
    public void await() {
        waits.add(event.await(ImmediateEventExecutor.INSTANCE));
    }

    /** Cancels the oldest wait not cancelled yet: true if the cancel won (it was still queued). */
    @Operation(nonParallelGroup = "waiter")
    public boolean cancelOldest() {
        return cancelled < waits.size() && waits.get(cancelled++).cancel(false);
    }

    @Validate
    public void queuedAreExactlyThePending() {
        checkInvariants(event);
        long pending = waits.stream().filter(f -> !f.isDone()).count();
        long failed = waits.stream().filter(f -> f.isDone() && !f.isSuccess() && !f.isCancelled()).count();
        if (event.queueLength() != pending) {
            throw new AssertionError("queueLength " + event.queueLength() + " but " + pending + " pending");
        }
        if (event.isSet() && pending > 0) {
            throw new AssertionError(pending + " waits pending on a set event");
        }
        if (failed > 0) {
            throw new AssertionError(failed + " waits failed");
        }
    }
}
