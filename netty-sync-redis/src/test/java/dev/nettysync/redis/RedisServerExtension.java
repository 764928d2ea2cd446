package dev.nettysync.redis;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Starts one {@link RedisServer} per test class (before all, stopped after all) and injects it
 * into test methods, constructors and lifecycle methods that take a {@code RedisServer}.
 *
 * <pre>{@code
 * @ExtendWith(RedisServerExtension.class)
 * class SomeTest {
 *     @Test void works(RedisServer redis) { ... redis.uri() ... }
 * }
 * }</pre>
 */
public final class RedisServerExtension implements BeforeAllCallback, AfterAllCallback, ParameterResolver {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(RedisServerExtension.class);

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        // java.util.logging sets up its root handlers on the first record that passes the level,
        // under a lock. With the tests' WARNING level that first record may be Lettuce's
        // "Cannot reconnect" from two of its I/O threads at once, when a test stops the server:
        // the second would park on that lock (BlockHound fails the test). Set them up here.
        java.util.logging.Logger.getLogger("").getHandlers();
        context.getStore(NS).put("server", RedisServer.start());
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        RedisServer s = context.getStore(NS).remove("server", RedisServer.class);
        if (s != null) {
            s.close();
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
        return p.getParameter().getType() == RedisServer.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext e) {
        ExtensionContext c = e;
        while (c != null) {
            RedisServer s = c.getStore(NS).get("server", RedisServer.class);
            if (s != null) {
                return s;
            }
            c = c.getParent().orElse(null);
        }
        throw new IllegalStateException("no RedisServer started for " + e.getDisplayName());
    }
}
