package dev.nettysync.bench;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * BlockHound's view of Redisson, the peer of {@code RedisSemaphoreBench}. Redisson runs its
 * callbacks on a thread pool of its own whose threads come from Netty's thread factory
 * ({@code redisson-N-M}, {@code FastThreadLocalThread}s), so Netty's integration counts them as
 * non-blocking; between tasks those workers wait for the next one in
 * {@code ThreadPoolExecutor.getTask}, which is how any pool worker idles, never work done on an
 * event loop. That wait is allowed.
 *
 * <p>And one Redisson-internal lock: {@code WrappedLock}, a {@code ReentrantLock} around the list
 * of futures in flight ({@code FastRemovalQueue}), taken by every call of its async API,
 * {@code acquireAsync} included, on the calling thread (the benchmark's event loop) and on
 * Redisson's own; under contention it parks that thread for a moment. It is the peer's design,
 * measured as it is, not a wait of the benchmark's. Anything else blocking on those threads, or
 * on the benchmark's event loops, still fails the test.
 */
public final class RedissonBlockHoundIntegration implements BlockHoundIntegration {

    @Override
    public void applyTo(BlockHound.Builder builder) {
        builder.allowBlockingCallsInside("java.util.concurrent.ThreadPoolExecutor", "getTask");
        builder.allowBlockingCallsInside("org.redisson.misc.WrappedLock", "execute");
    }
}
