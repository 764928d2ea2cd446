package dev.nettysync;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.spi.ToolProvider;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The layers of docs/limiters.md ("Layers"), checked on the compiled classes with {@code jdeps}
 * (so a fully qualified name in code counts, a Javadoc mention does not):
 * {@code dev.nettysync} (primitives) &larr; {@code dev.nettysync.limit} &larr;
 * {@code dev.nettysync.channel}, with {@code dev.nettysync.internal} under all of them, using only
 * {@code WaitTimeoutException} of the primitives; nothing in a lower layer uses a higher one. And
 * the core library depends on Netty only (and the JDK).
 */
class LayersTest {

    /** Each package, and the packages of this library it may use. */
    private static final Map<String, Set<String>> MAY_USE = Map.of(
            "dev.nettysync.internal", Set.of(),
            "dev.nettysync", Set.of("dev.nettysync.internal"),
            "dev.nettysync.limit", Set.of("dev.nettysync", "dev.nettysync.internal"),
            "dev.nettysync.channel", Set.of("dev.nettysync.limit", "dev.nettysync", "dev.nettysync.internal"));

    /** What the wait queue may use of the primitives: the exception its timeouts fail with. */
    private static final Set<String> INTERNAL_MAY_USE = Set.of("dev.nettysync.WaitTimeoutException");

    @Test
    void noLowerLayerUsesAHigherOneAndTheCoreDependsOnNettyOnly() throws Exception {
        List<String> broken = new ArrayList<>();
        Set<String> external = new TreeSet<>();
        for (String line : jdeps("-verbose:class", "-filter:none", classes().toString())) {
            String[] f = line.trim().split("\\s+");
            if (!line.startsWith(" ") || f.length < 4 || !f[1].equals("->")) {
                continue;                         // a summary line ("classes -> java.base"), not a class's
            }
            String from = f[0];
            String to = f[2];
            String fromPackage = packageOf(from);
            String toPackage = packageOf(to);
            if (!to.startsWith("dev.nettysync.")) {
                external.add(toPackage);
                continue;
            }
            if (fromPackage.equals(toPackage)) {
                continue;
            }
            Set<String> allowed = MAY_USE.get(fromPackage);
            assertThat(allowed).as("a package of the core library that the layers do not name: %s", fromPackage)
                    .isNotNull();
            boolean ok = allowed.contains(toPackage)
                    || fromPackage.equals("dev.nettysync.internal") && INTERNAL_MAY_USE.contains(to);
            if (!ok) {
                broken.add(from + " -> " + to);
            }
        }
        assertThat(broken).as("uses of a higher layer").isEmpty();
        assertThat(external).as("the core library's dependencies outside itself")
                .allMatch(p -> p.startsWith("java.") || p.startsWith("io.netty."), "the JDK or Netty");
        assertThat(external).as("jdeps read the classes").contains("io.netty.util.concurrent");
    }

    private static String packageOf(String className) {
        int dot = className.lastIndexOf('.');
        return dot < 0 ? "" : className.substring(0, dot);
    }

    /** The directory (or jar) the library's classes were loaded from. */
    private static Path classes() throws URISyntaxException {
        return Path.of(AsyncSemaphore.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static List<String> jdeps(String... args) {
        ToolProvider jdeps = ToolProvider.findFirst("jdeps")
                .orElseThrow(() -> new AssertionError("jdeps not found: the tests need a JDK (module jdk.jdeps)"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), args);
        assertThat(rc).as("jdeps: %s", err).isZero();
        return out.toString().lines().toList();
    }
}
