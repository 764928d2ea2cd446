/**
 * asyncio-style synchronization primitives for Netty: {@link dev.nettysync.AsyncLock},
 * {@link dev.nettysync.AsyncSemaphore}, {@link dev.nettysync.AsyncBoundedSemaphore},
 * {@link dev.nettysync.AsyncReadWriteLock}, {@link dev.nettysync.AsyncEvent},
 * {@link dev.nettysync.AsyncCondition} and {@link dev.nettysync.AsyncBarrier}.
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
 *       duplicate what it waited for; a grant is final, so a cancel that comes after it returns
 *       {@code false} and the caller holds what was granted;</li>
 *   <li>{@code withLock}/{@code withPermit} release only when the action's own future
 *       completes, so cancelling the caller's future never lets two holders overlap;</li>
 *   <li>no listener or user code runs while internal state is locked, so listeners may call
 *       back into the primitive; deep chains of waiters do not grow the stack;</li>
 *   <li>the call that wakes a waiter ({@code release}, {@code unlock}, {@code set},
 *       the last {@code await} of a barrier) completes its future on the calling thread: when
 *       the waiter named the caller's own event loop, its listeners run inline, inside that
 *       call (Netty's promise semantics; asyncio always defers to a later turn of the loop).
 *       Code that releases and then reads shared state or acquires again must expect the next
 *       holder to have run in between; to defer, release from a task of its own
 *       ({@code executor.execute(lock::unlock)}).</li>
 * </ul>
 */
package dev.nettysync;
