package dev.nettysync.testing;

import io.netty.util.concurrent.AbstractEventExecutor;

/**
 * The lifecycle of a test executor that never shuts down ({@link NeverShutsDown}): a subclass
 * supplies only how it runs tasks ({@code inEventLoop}, {@code execute}, and {@code schedule} if
 * it times).
 */
public abstract class TestEventExecutor extends AbstractEventExecutor implements NeverShutsDown {

    @Override
    @Deprecated
    public void shutdown() {
    }
}
