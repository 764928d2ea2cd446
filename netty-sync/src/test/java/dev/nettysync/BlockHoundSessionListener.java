package dev.nettysync;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;
import reactor.blockhound.BlockHound;

/**
 * Installs BlockHound once for the whole test JVM, before any test runs, so that a blocking call
 * on a Netty event loop thread anywhere in the suite throws {@code BlockingOperationError}.
 * Netty's own integration (loaded from netty-common by ServiceLoader) tells BlockHound which
 * threads are event loops. {@link BlockHoundActiveTest} proves it is on.
 */
public final class BlockHoundSessionListener implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        BlockHound.install();
    }
}
