package dev.nettysync.demo;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;
import reactor.blockhound.BlockHound;

/**
 * Installs BlockHound once, before any test of the run, so that a blocking call on an event loop
 * anywhere (server, backend, test helpers) throws {@code BlockingOperationError}. Netty's own
 * integration (allow-list of its internals, event-loop threads as non-blocking) is loaded from
 * netty-common by BlockHound's service loader. {@link BlockHoundActiveTest} proves it is on.
 */
public final class BlockHoundSessionListener implements LauncherSessionListener {

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        BlockHound.install();
    }
}
