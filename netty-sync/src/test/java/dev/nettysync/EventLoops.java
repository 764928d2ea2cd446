package dev.nettysync;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;

import static java.util.concurrent.TimeUnit.SECONDS;

/**
 * Real event loops for a scenario test, shut down after each test:
 * <pre>{@code
 * @RegisterExtension final EventLoops loops = new EventLoops();
 * ...
 * EventLoop loop = loops.newLoop();
 * }</pre>
 */
final class EventLoops implements AfterEachCallback {
    private final List<EventLoop> loops = new ArrayList<>();   // the test thread only

    /** A new single-thread loop, shut down after the test. */
    EventLoop newLoop() {
        return newLoop(null);
    }

    /** As {@link #newLoop()}, its thread made by {@code factory} (e.g. with a small stack); null for the default. */
    EventLoop newLoop(ThreadFactory factory) {
        EventLoop l = factory == null ? new DefaultEventLoop() : new DefaultEventLoop(factory);
        loops.add(l);
        return l;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        for (EventLoop l : loops) {
            l.shutdownGracefully(0, 1, SECONDS).syncUninterruptibly();
        }
        loops.clear();
    }
}
