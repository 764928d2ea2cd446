package dev.nettysync.testing;

import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Turns Netty's leak tracking off for a test class and restores the level after it. For the
 * Lincheck classes whose operations make permits: Lincheck makes
 * {@code System.identityHashCode} deterministic, which trips an assertion in Netty's tracker (it
 * compares the hash at track and at close). For the allocation guards: the tracker samples one
 * permit in 128 at random, which would make their byte counts random too. The tracker itself is
 * tested elsewhere ({@code AbstractPermitLeakTest}).
 * <pre>{@code
 * @ExtendWith(NoLeakTracking.class)
 * public class KeyedLimiterLincheckTest extends AbstractLincheckTest { ... }
 * }</pre>
 */
public final class NoLeakTracking implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(NoLeakTracking.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getStore(NAMESPACE).put("level", ResourceLeakDetector.getLevel());
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        ResourceLeakDetector.setLevel(context.getStore(NAMESPACE).get("level", ResourceLeakDetector.Level.class));
    }
}
