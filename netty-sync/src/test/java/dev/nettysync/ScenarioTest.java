package dev.nettysync;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The harness of the primitives' scenario tests: {@link #IMMEDIATE} for stories whose order
 * must be exact (listeners run inline), {@link #loops} for real event loops (shut down after
 * each test), and {@link #invariants}, which checks every primitive a test hands it after the
 * test.
 */
abstract class ScenarioTest {
    static final EventExecutor IMMEDIATE = ImmediateEventExecutor.INSTANCE;

    @RegisterExtension
    final EventLoops loops = new EventLoops();
    @RegisterExtension
    final Invariants invariants = new Invariants();
}
