package dev.nettysync.demo;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.nettysync.demo.TestSupport.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The real {@code main} in a child JVM: exit statuses and what an operator reads on stderr.
 * (The child runs without the BlockHound agent: these tests are about the process, not loops.)
 */
class DemoServerMainProcessTest {

    private Process process;
    private Path stderrFile;               // the child's stderr (a file: Process.destroy() would close a pipe)

    @AfterEach
    void tearDown() throws IOException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
        if (stderrFile != null) {
            Files.deleteIfExists(stderrFile);
        }
    }

    private void launch(String... args) throws IOException {
        launch(java.util.Map.of(), args);
    }

    /** As {@link #launch(String...)}, with {@code env} added to the child's environment. */
    private void launch(java.util.Map<String, String> env, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Xshare:auto"));
        if (Runtime.version().feature() >= 24) {
            // what the jar's manifest (Enable-Native-Access) does for java -jar: without it, Netty's
            // epoll library makes Java 24+ print a JNI warning block (JEP 472) to stderr
            command.add("--enable-native-access=ALL-UNNAMED");
        }
        command.add(DemoServerMain.class.getName());
        command.addAll(List.of(args));
        stderrFile = Files.createTempFile("demo-server-stderr", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(stderrFile.toFile());
        pb.environment().keySet().removeIf(name -> name.startsWith("DEMO_"));
        pb.environment().putAll(env);
        process = pb.start();
    }

    /** The child's stderr so far. */
    private List<String> stderr() throws IOException {
        return Files.readAllLines(stderrFile, StandardCharsets.UTF_8);
    }

    /** Waits for the exit; fails (and kills the child) if it does not come within {@link TestSupport#PATIENCE}. */
    private int exitCode() throws InterruptedException, IOException {
        boolean exited = process.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        assertThat(exited).as("the process exits by itself; stderr so far: %s", stderr()).isTrue();
        return process.exitValue();
    }

    /**
     * The child refused its flags as picocli errors are reported: exit 2, one line of its own
     * naming what was wrong (it contains every one of {@code fragments}), then "Try --help.".
     */
    private void assertRefusedAsABadFlag(String... fragments) throws Exception {
        assertThat(exitCode()).as("stderr: %s", stderr()).isEqualTo(2);
        assertThat(ownLines()).first().asString().startsWith("demo-server: ").contains(fragments);
        assertThat(ownLines()).hasSize(2).last().isEqualTo("Try --help.");
    }

    /** Lines of the child's stderr, without the JVM's own warnings. */
    private List<String> ownLines() throws IOException {
        return stderr().stream().filter(l -> !l.startsWith("OpenJDK") && !l.startsWith("WARNING: ")).toList();
    }

    @Test
    void aPortAlreadyInUseExits1WithOneLine() throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            long t0 = System.nanoTime();
            launch("--host=127.0.0.1", "--port=" + taken.getLocalPort(), "--db-ready-delay=0");
            assertThat(exitCode()).as("stderr: %s", stderr()).isEqualTo(1);
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
            assertThat(ownLines()).as("one line, no stack trace").singleElement().asString()
                    .startsWith("demo-server: cannot listen on 127.0.0.1:" + taken.getLocalPort() + ": ")
                    .containsIgnoringCase("address already in use");
            assertThat(seconds).as("exit time, JVM start included").isLessThan(PATIENCE.toSeconds());
        }
    }

    @Test
    void aDurationTooLongExits2NamingTheFlag() throws Exception {
        launch("--host=127.0.0.1", "--port=0", "--drain-timeout=PT2600000H");
        assertRefusedAsABadFlag("--drain-timeout", "too long");
    }

    @Test
    void anUnresolvableHostExits2NamingTheFlag() throws Exception {
        // Before: exit 1 with "cannot start: java.nio.channels.UnresolvedAddressException".
        launch("--host=bogus.invalid", "--port=0");
        assertRefusedAsABadFlag("--host", "bogus.invalid");
    }

    @Test
    void aMaxBodyOverTheCapExits2NamingTheFlag() throws Exception {
        launch("--host=127.0.0.1", "--port=0", "--max-body=2147483647");
        assertRefusedAsABadFlag("--max-body");
    }

    @Test
    void aFleetRateFromTheEnvironmentWithoutRedisExits2NamingTheFlag() throws Exception {
        launch(java.util.Map.of("DEMO_FLEET_RATE", "10"), "--host=127.0.0.1", "--port=0");
        assertRefusedAsABadFlag("--fleet-rate needs --redis", "(set by DEMO_FLEET_RATE in the environment)");
    }

    /**
     * A bad value that came from a {@code DEMO_*} variable names that variable too: the flag
     * alone sends the operator looking for a flag that is on no command line. Before, the
     * message named only the flag ({@code --port}, {@code --max-queue}).
     */
    @Test
    void aBadValueFromTheEnvironmentNamesItsVariable() throws Exception {
        launch(java.util.Map.of("DEMO_PORT", "eighty"), "--host=127.0.0.1");
        assertRefusedAsABadFlag("'--port'", "'eighty'", "(set by DEMO_PORT in the environment)");
    }

    @Test
    void aValueRefusedByTheChecksNamesItsVariableUnlessTheFlagIsOnTheCommandLine() throws Exception {
        launch(java.util.Map.of("DEMO_MAX_QUEUE", "-5", "DEMO_PORT", "-1"), "--host=127.0.0.1", "--port", "0");
        assertRefusedAsABadFlag("--max-queue must be >= 0", "(set by DEMO_MAX_QUEUE in the environment)");
        assertThat(ownLines().get(0)).as("--port is on the command line: not from the environment")
                .doesNotContain("DEMO_PORT");
    }

    @Test
    void anAbsurdFleetRateExits2NamingTheFlag() throws Exception {
        // Validated before anything connects: no Redis needs to listen on this port.
        launch("--host=127.0.0.1", "--port=0", "--redis=redis://127.0.0.1:1", "--fleet-rate", "1e-300");
        assertRefusedAsABadFlag("--fleet-rate");
    }

    /**
     * SIGTERM with one request stuck in the backend and a short drain timeout: every step of the
     * drain reaches stderr, in order, before the JVM exits (143).
     */
    @Test
    void sigtermLogsEveryDrainStep() throws Exception {
        launch("--host=127.0.0.1", "--port=0", "--io-threads=1", "--db-ready-delay=0", "--backend-latency=60s",
                "--backend-timeout=60s", "--drain-timeout=500ms");
        Pattern listening = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");
        int port = -1;
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (port < 0) {
            for (String line : stderr()) {
                Matcher m = listening.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
            assertThat(process.isAlive()).as("started; stderr: %s", stderr()).isTrue();
            assertThat(System.nanoTime()).as("listening within %s; stderr: %s", PATIENCE, stderr()).isLessThan(deadline);
            Thread.sleep(50);
        }
        try (Socket stuck = new Socket("127.0.0.1", port)) {
            OutputStream out = stuck.getOutputStream();
            out.write("GET /api/items/stuck HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            awaitInFlight(port);
            process.toHandle().destroy();             // SIGTERM
            assertThat(exitCode()).as("stderr: %s", stderr()).isEqualTo(143);
        }
        List<String> lines = ownLines();
        assertThat(lines).as("stderr").anySatisfy(l -> assertThat(l).contains("signal received: shutting down"));
        assertThat(String.join("\n", lines)).as("the drain steps, in order")
                .containsSubsequence(
                        "signal received: shutting down",
                        "draining: /readyz now answers 503",
                        "1 request(s) in progress",
                        "drain timeout of 500ms reached with 1 request(s) in flight",
                        "closing 1 connection(s), the backend and the event loops",
                        "demo-server stopped");
    }

    /** Polls the child's /metrics until the stuck request holds a permit. */
    private static void awaitInFlight(int port) throws Exception {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (true) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout((int) PATIENCE.toMillis());
                s.getOutputStream().write("GET /metrics HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                String text = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (text.contains("\ndemo_limiter_in_flight 1.0")) {
                    return;
                }
            }
            assertThat(System.nanoTime()).as("the stuck request reached the backend").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
