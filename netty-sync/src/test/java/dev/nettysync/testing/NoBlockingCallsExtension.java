package dev.nettysync.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Registered for every test class (extension auto-detection: META-INF/services and junit-platform.properties):
 * fails a test, or a class's {@code @AfterAll}, if BlockHound saw a blocking call on an event
 * loop meanwhile, even one whose error was swallowed on the loop.
 */
public final class NoBlockingCallsExtension implements AfterEachCallback, AfterAllCallback {

    @Override
    public void afterEach(ExtensionContext context) {
        check(context);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        check(context);
    }

    private static void check(ExtensionContext context) {
        List<String> calls = BlockHoundSessionListener.drainBlockingCalls();
        if (!calls.isEmpty()) {
            throw new AssertionError("blocking call(s) on an event loop during " + context.getDisplayName()
                    + ": " + calls);
        }
    }
}
