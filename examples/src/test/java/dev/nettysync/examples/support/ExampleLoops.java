package dev.nettysync.examples.support;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The two event loops the examples run on ({@link ExampleMain#newGroup}, threads {@code loop-1}
 * and {@code loop-2}), shared by all the tests of a class and shut down after them:
 * <pre>{@code
 * @RegisterExtension
 * static final ExampleLoops loops = new ExampleLoops();
 * ...
 * ExampleRuns.run(loops.group(), SomeExample::run);
 * }</pre>
 * Made with the extension (so a class's static fields can name its loops) and shut down after
 * the class's tests.
 * {@link #warmingUp} also runs the class's example once at a tiny scale, so that class loading
 * does not count in the measured runs:
 * <pre>{@code
 * @RegisterExtension
 * static final ExampleLoops loops = ExampleLoops.warmingUp(SomeExample::run);
 * }</pre>
 */
public final class ExampleLoops implements BeforeAllCallback, AfterAllCallback {

    private final ExampleMain.Example<?> warmUp;   // null: none
    private final EventLoopGroup group = ExampleMain.newGroup(2);

    /** The loops alone. */
    public ExampleLoops() {
        this(null);
    }

    private ExampleLoops(ExampleMain.Example<?> warmUp) {
        this.warmUp = warmUp;
    }

    /** The loops, on which {@code example} runs once at a tiny scale before the class's tests. */
    public static <T> ExampleLoops warmingUp(ExampleMain.Example<T> example) {
        return new ExampleLoops(example);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        if (warmUp != null) {
            warmUp.run(group, Timeline.recording(), new TimeScale(0.01)).awaitUninterruptibly(60, TimeUnit.SECONDS);
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** The group, shut down after the class's last test. */
    public EventLoopGroup group() {
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

    /** Waits (at most 10 s, on the test thread) for {@code f} to complete, and fails if it does not. */
    public static <F extends Future<?>> F done(F f) {
        assertThat(f.awaitUninterruptibly(10, TimeUnit.SECONDS)).as("completed within 10 s: %s", f).isTrue();
        return f;
    }
}
