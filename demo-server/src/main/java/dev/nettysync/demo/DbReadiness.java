package dev.nettysync.demo;

import dev.nettysync.AsyncEvent;
import io.netty.channel.EventLoopGroup;

/**
 * Decides when the database is ready and then sets the server's {@code dbReady}
 * {@link AsyncEvent}, which requests for resources wait on.
 *
 * <p>Contract: {@link #start} is called once, with the server's event loops, and must not block;
 * it arranges for {@code dbReady.set()} to be called later (on any thread). {@link #stop()} stops
 * any further attempt; it is called once on shutdown and must not block either.
 */
public interface DbReadiness {

    /** Starts watching for readiness; sets {@code dbReady} when the database is ready. */
    void start(EventLoopGroup loops, AsyncEvent dbReady);

    /** Stops watching. */
    void stop();

    /** For the startup log. */
    String describe();
}
