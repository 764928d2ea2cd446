package dev.nettysync.demo;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a user of {@code loadtest.sh} and {@code loadtest-fairness.sh} hits before any load is
 * sent: {@code --help}, a stray argument, a missing {@code wrk}, and {@code START_SERVER=1} on a
 * port already in use. Each case ends in well under a second (no server is started, no request
 * leaves the machine); the load runs themselves are not tested here (they take seconds of two
 * cores and their figures are noise on a shared machine).
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
