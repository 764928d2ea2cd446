package dev.nettysync.redis;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * BlockHound's view of Lettuce in these tests. Lettuce's I/O and computation threads are Netty
 * {@code FastThreadLocalThread}s, so Netty's own integration already marks them non-blocking:
 * any blocking call there fails the test ({@code BlockHoundCoversLettuceTest} proves it).
 *
 * <p>One Lettuce-internal lock is allowed: {@code SharedLock}, which makes command writers wait
 * while a connection that has just reconnected replays its buffered commands (exclusive mode,
 * held for that replay only). Every caller that writes a command meets it, on any thread; it is
 * Lettuce's design, not a wait of ours, and it appears only around a reconnection.
 *
 * <p>And one Netty-internal lock that Netty's own integration does not list: the write lock of
 * {@code AdaptivePoolingAllocator}'s magazine group, taken for a moment when the allocator
 * grows its magazines under contention. It shows when several Lettuce threads register their
 * channels at once (clients reconnecting after a server restart) and allocate their first
 * buffers together.
 */
public final class LettuceBlockHoundIntegration implements BlockHoundIntegration {

    @Override
    public void applyTo(BlockHound.Builder builder) {
        builder.allowBlockingCallsInside("io.lettuce.core.protocol.SharedLock", "incrementWriters");
        builder.allowBlockingCallsInside("io.lettuce.core.protocol.SharedLock", "lockWritersExclusive");
        builder.allowBlockingCallsInside("io.netty.buffer.AdaptivePoolingAllocator$MagazineGroup", "tryExpandMagazines");
    }
}
