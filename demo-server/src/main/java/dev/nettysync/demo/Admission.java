package dev.nettysync.demo;

import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.function.Supplier;

/**
 * The policy that decides which requests for items reach the backend, and when: one object,
 * shared by every connection, behind which the demo's limits live. Today that is
 * {@link BackendLimiter} (at most N calls at once, a bounded FIFO queue, a bounded wait); a
 * per-client rate, an adaptive or a fleet-wide limit is another implementation, or a
 * composition, chosen by a flag where {@link GatewayServer} builds it.
 *
 * <h2>Two steps: enter at arrival, call later</h2>
 * <ol>
 *   <li>{@link #enter(EventExecutor)}, as soon as a request arrives and before it waits for
 *       anything (not even database readiness): the request takes its place, or is refused now.
 *       So a client is never made to wait and then refused for lack of room: the room was
 *       counted when it arrived.</li>
 *   <li>{@link Ticket#call(Channel, Supplier)}, once the request may call the backend:
 *       waits for a permit (FIFO) and runs the call while holding it. Or
 *       {@link Ticket#leave()}, when the request ends without calling (readiness wait failed,
 *       client gone, server draining).</li>
 * </ol>
 *
 * <h2>Contract</h2>
 * Thread-safe. Futures complete on the executor passed in. A refusal fails the future with the
 * policy's exception ({@code QueueFullException}, {@code WaitTimeoutException},
 * {@code ClosedException}, or a policy's own), which {@link HttpErrors} maps to the answer.
 * Each ticket gives its place back exactly once, however the request ends.
 */
interface Admission {

    /**
     * Takes a place for a request that just arrived; see the interface contract.
     *
     * @return a future with the request's ticket, failed if the request is refused
     */
    Future<Ticket> enter(EventExecutor executor);

    /**
     * Why {@link #enter} would refuse a request now (the policy is full, or closed), or
     * {@code null} if it would take it; takes no place. For a request that can still be refused
     * before anything is spent on it: one that expects {@code 100 Continue} is answered its
     * final status instead, and its body is never read. A refusal returned here is counted as
     * one of {@code enter}'s (the caller answers it); {@code null} promises nothing,
     * {@code enter} still decides. By default {@code null}: a policy that cannot tell takes
     * the body and decides at {@code enter}.
     */
    default Throwable refusalNow() {
        return null;
    }

    /** Refuses every request from now on ({@code ClosedException}), queued ones included; on shutdown. */
    void close();

    /** One admitted request's place. Used from one thread at a time (the request's event loop). */
    interface Ticket {

        /**
         * Waits for a permit, then runs {@code call} while holding it; the wait and the permit
         * are bound to {@code channel} (a client that goes away leaves the queue, or gives the
         * permit back, by itself). The returned future completes on the channel's event loop: like the call's future, or failed with a refusal if the
         * wait ends without a permit (the call never starts then). Cancelling it leaves the
         * queue, or cancels the call; the permit and the place are given back exactly once, when
         * the call's future completes. At most one call per ticket.
         */
        <T> Future<T> call(Channel channel, Supplier<? extends Future<T>> call);

        /**
         * The request ends without a call in progress: gives the place back. Does nothing if
         * {@link #call} was made (its end gives the place back) or if the place was already
         * given back. Idempotent.
         */
        void leave();
    }
}
