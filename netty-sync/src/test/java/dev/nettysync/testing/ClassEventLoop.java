package dev.nettysync.testing;

import io.netty.channel.DefaultEventLoop;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.concurrent.TimeUnit;

/**
 * One real event loop for all the tests of a class, which is also the JUnit extension that shuts
 * it down (and waits for that) after them:
 * <pre>{@code
 * @RegisterExtension
 * static final ClassEventLoop loop = new ClassEventLoop();
 * }</pre>
 * Its thread starts at the first task, as a {@link DefaultEventLoop}'s does.
 */
public final class ClassEventLoop extends DefaultEventLoop implements AfterAllCallback {

    @Override
    public void afterAll(ExtensionContext context) {
        shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
