package dev.nettysync.examples.support;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.concurrent.TimeUnit;

/**
 * The two event loops the examples run on ({@link ExampleMain#newGroup}, threads {@code loop-1}
 * and {@code loop-2}), shared by all the tests of a class and shut down after them:
 * <pre>{@code
 * @RegisterExtension
 * static final ExampleLoops loops = new ExampleLoops();
 * ...
 * ExampleRuns.run(loops.group(), SomeExample::run);
 * }</pre>
 * Started before the class's own {@code @BeforeAll} methods run (a warm-up can use them).
 */
public final class ExampleLoops implements BeforeAllCallback, AfterAllCallback {

    private EventLoopGroup group;   // written by beforeAll/afterAll; JUnit orders them before and after the tests

    @Override
    public void beforeAll(ExtensionContext context) {
        group = ExampleMain.newGroup(2);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        group = null;
    }

    /** The group, between the class's first and last test. */
    public EventLoopGroup group() {
        if (group == null) {
            throw new IllegalStateException("the loops are started before all the tests of the class only");
        }
        return group;
    }

    /** The group's {@code i}-th loop (0: {@code loop-1}, 1: {@code loop-2}), as {@code group().next()} hands them out. */
    public EventExecutor loop(int i) {
        int n = 0;
        for (EventExecutor e : group()) {
            if (n++ == i) {
                return e;
            }
        }
        throw new IllegalArgumentException("no loop " + i + " in a group of " + n);
    }
}
