package dev.nettysync.demo;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a user of {@code loadtest.sh} and {@code loadtest-fairness.sh} hits before any load is
 * sent: {@code --help}, a stray argument, a missing {@code wrk}, {@code START_SERVER=1} on a
 * port already in use, a port where nothing answers; and how the fairness script counts a polite
 * request that fails. No demo-server is started (stand-ins listen on loopback ports, and a
 * {@code wrk} that does nothing), each case ends within a few seconds; the load runs themselves
 * are not tested here (they take seconds of two cores and their figures are noise on a shared
 * machine).
 */
class LoadtestScriptsTest {

    @ParameterizedTest
    @ValueSource(strings = {"loadtest.sh", "loadtest-fairness.sh"})
    void helpPrintsTheUsageAndEverySettingTheScriptReads(String script) throws Exception {
        Result r = run(script, Map.of(), "--help");
        assertThat(r.status).as(r.toString()).isZero();
        assertThat(r.stdout).contains("Usage", "Environment", "Exit statuses");
        String source = Files.readString(Path.of(script));
        for (String setting : List.of("URL", "DURATION", "START_SERVER", "SERVER_ARGS", "JAR")) {
            assertThat(source).contains(setting + "=\"${" + setting + ":-");
            assertThat(r.stdout).as("--help names %s", setting).contains(setting);
        }
        assertThat(r.stdout).doesNotContain("#!/usr/bin/env", "set -euo");
    }

    @ParameterizedTest
    @ValueSource(strings = {"loadtest.sh", "loadtest-fairness.sh"})
    void anArgumentIsRefusedWithStatus2(String script) throws Exception {
        Result r = run(script, Map.of(), "--duration=5");
        assertThat(r.status).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr).contains("unknown argument '--duration=5'", "environment variables", "--help");
    }

    @ParameterizedTest
    @ValueSource(strings = {"loadtest.sh", "loadtest-fairness.sh"})
    void aMissingWrkIsNamedWithHowToInstallIt(String script, @TempDir Path bin) throws Exception {
        for (String tool : List.of("dirname", "curl", "awk", "sed")) {
            Path found = onPath(tool);
            if (found != null) {
                Files.createSymbolicLink(bin.resolve(tool), found);
            }
        }
        Result r = run(script, Map.of("PATH", bin.toString()));
        assertThat(r.status).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr).contains("wrk not found", "apt-get install -y wrk curl");
    }

    @ParameterizedTest
    @ValueSource(strings = {"loadtest.sh", "loadtest-fairness.sh"})
    void startServerOnAPortInUseIsRefusedAtOnce(String script, @TempDir Path bin) throws Exception {
        // stand-ins, so that the case does not depend on wrk and curl being installed
        for (String tool : List.of("wrk", "curl")) {
            Path fake = bin.resolve(tool);
            Files.writeString(fake, "#!/bin/sh\nexit 0\n");
            Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Result r = run(script, Map.of(
                    "PATH", bin + ":" + System.getenv("PATH"),
                    "START_SERVER", "1",
                    "URL", "http://127.0.0.1:" + taken.getLocalPort() + "/api/items/42",
                    "JAR", bin.resolve("no-such.jar").toString()));
            assertThat(r.status).as(r.toString()).isEqualTo(2);
            assertThat(r.stderr).contains("127.0.0.1:" + taken.getLocalPort() + " is already in use");
            assertThat(r.stdout).doesNotContain("started demo-server");
        }
    }

    /**
     * Something listens on the port but never answers (a hung server, another service): the
     * wait for {@code /readyz} ends after {@code READY_WAIT} seconds, not never. Before, each
     * readiness check was a curl without a time limit, and the script hung on the first one.
     */
    @ParameterizedTest
    @ValueSource(strings = {"loadtest.sh", "loadtest-fairness.sh"})
    void aServerThatNeverAnswersEndsTheWaitForReadiness(String script, @TempDir Path bin) throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {   // never accepts
            Result r = run(script, Map.of(
                    "PATH", fakeWrk(bin) + ":" + System.getenv("PATH"),
                    "READY_WAIT", "2",
                    "URL", "http://127.0.0.1:" + silent.getLocalPort() + "/api/items/42"));
            assertThat(r.status).as(r.toString()).isEqualTo(script.equals("loadtest.sh") ? 1 : 2);
            assertThat(r.stderr).contains("127.0.0.1:" + silent.getLocalPort() + "/readyz is not 200 after 2 s");
        }
    }

    /**
     * A polite request that fails (here: the connection closed without an answer) is one line of
     * the fairness script's counts, like any other. Before, curl's own {@code 000} line and the
     * script's fallback {@code 000 0} were both written: each failure counted twice, with a
     * made-up latency of 0.
     */
    @Test
    void aFailedPoliteRequestIsCountedOnce(@TempDir Path bin) throws Exception {
        AtomicInteger itemRequests = new AtomicInteger();
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread answering = new Thread(() -> readyButClosingOnItems(server, itemRequests), "fake-demo-server");
            answering.start();
            Result r = run("loadtest-fairness.sh", Map.of(
                    "PATH", fakeWrk(bin) + ":" + System.getenv("PATH"),
                    "URL", "http://127.0.0.1:" + server.getLocalPort() + "/api/items/42",
                    "DURATION", "1", "RATE", "20", "POLITE", "1", "GREEDY", "0"));
            server.close();
            answering.join(TimeUnit.SECONDS.toMillis(5));
            assertThat(r.status).as(r.toString()).isEqualTo(1);
            Matcher counts = Pattern.compile("polite: (\\d+) requests, 0 answered 429, (\\d+) other non-200").matcher(r.stdout);
            int requests = 0;
            while (counts.find()) {
                assertThat(counts.group(2)).as(r.stdout).isEqualTo(counts.group(1));
                requests += Integer.parseInt(counts.group(1));
            }
            assertThat(requests).as("requests counted by the script (both phases) vs received:\n%s", r.stdout)
                    .isEqualTo(itemRequests.get()).isPositive();
        }
    }

    /** A stand-in demo-server: {@code /readyz} answers 200; an item request is read, counted and closed unanswered. */
    private static void readyButClosingOnItems(ServerSocket server, AtomicInteger itemRequests) {
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                String line = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                        StandardCharsets.US_ASCII)).readLine();
                if (line != null && line.contains("/readyz")) {
                    s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nready"
                            .getBytes(StandardCharsets.US_ASCII));
                } else if (line != null) {
                    itemRequests.incrementAndGet();
                }
            } catch (IOException e) {
                // closed by the test; or the client went away
            }
        }
    }

    /** A {@code wrk} that does nothing, in {@code bin}, for cases that send no load. */
    private static Path fakeWrk(Path bin) throws IOException {
        Path fake = bin.resolve("wrk");
        Files.writeString(fake, "#!/bin/sh\nexit 0\n");
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin;
    }

    record Result(int status, String stdout, String stderr) { }

    private static Result run(String script, Map<String, String> env, String... args)
            throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("bash", script));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        // the outputs are small: read them after the exit
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(script + " did not exit within 20 s");
        }
        return new Result(p.exitValue(),
                new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    private static Path onPath(String tool) {
        for (String dir : System.getenv("PATH").split(":")) {
            Path candidate = Path.of(dir, tool);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
