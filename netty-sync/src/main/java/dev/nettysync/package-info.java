/**
 * asyncio-style synchronization primitives for Netty: {@link dev.nettysync.AsyncLock},
 * {@link dev.nettysync.AsyncSemaphore}, {@link dev.nettysync.AsyncBoundedSemaphore}.
 *
 * <p>Common to all of them:
 * <ul>
 *   <li>thread-safe: one instance may be shared by every event loop of a group and by plain
 *       threads;</li>
 *   <li>never blocking: every wait returns a Netty {@link io.netty.util.concurrent.Future}
 *       created on the {@link io.netty.util.concurrent.EventExecutor} the caller names
 *       (normally {@code ctx.executor()}), whose listeners run on that executor;</li>
 *   <li>FIFO: waiters are served in arrival order, without barging;</li>
 *   <li>cancellation ({@code future.cancel(false)}) and timeouts ({@link
 *       dev.nettysync.WaitTimeoutException}) remove the waiter in O(1) and never lose or
 *       duplicate what it waited for;</li>
 *   <li>no listener or user code runs while internal state is locked, so listeners may call
 *       back into the primitive; deep chains of waiters do not grow the stack.</li>
 * </ul>
 */
package dev.nettysync;
