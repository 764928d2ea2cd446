package dev.nettysync.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bench scripts' own command line, which a user tries before anything else: {@code --help}
 * prints the script's usage and every setting it reads, and a script whose settings are all
 * environment variables refuses an argument at once (it used to ignore it and start a run of
 * minutes), and {@code redis.sh} refuses a {@code BENCH} it does not have. Nothing is measured
 * or started here; each case takes a fraction of a second.
 */
class ScriptsTest {

    /** A setting read with a default: {@code NAME="${NAME:-...}"} or {@code NAME="${NAME-...}"}. */
    private static final Pattern SETTING = Pattern.compile("^\\s*([A-Z][A-Z0-9_]+)=\"\\$\\{\\1:?-", Pattern.MULTILINE);

    @ParameterizedTest
    @ValueSource(strings = {"jmh.sh", "load.sh", "openloop.sh", "run-all.sh", "run-issue14.sh", "redis.sh",
            "fleet.sh", "adaptive.sh"})
    void helpPrintsTheHeaderWithEverySettingTheScriptReads(String script) throws Exception {
        Result r = run(script, "--help");
        assertThat(r.status).as(r.toString()).isZero();
        assertThat(r.stdout).as(r.toString()).isNotBlank().doesNotContain("#!/usr/bin/env", "set -euo", "error:");
        Matcher m = SETTING.matcher(Files.readString(Path.of("scripts", script)));
        List<String> missing = new ArrayList<>();
        while (m.find()) {
            if (!r.stdout.contains(m.group(1))) {
                missing.add(m.group(1));
            }
        }
        assertThat(missing).as("settings %s reads but its --help does not name", script).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"load.sh", "openloop.sh", "run-all.sh", "run-issue14.sh", "fleet.sh", "adaptive.sh"})
    void aScriptConfiguredByTheEnvironmentRefusesAnArgument(String script) throws Exception {
        Result r = run(script, "10s");
        assertThat(r.status).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr).contains(script + " takes no argument ('10s')", "--help");
        assertThat(r.stdout).isEmpty();
    }

    @Test
    void redisRefusesABenchItDoesNotHaveBeforeStartingAnything() throws Exception {
        Result r = run(Map.of("BENCH", "ratelimiter"), "redis.sh");
        assertThat(r.status).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr).contains("BENCH=ratelimiter: expected semaphore or rate");
        assertThat(r.stdout).isEmpty();
    }

    record Result(int status, String stdout, String stderr) { }

    private static Result run(String script, String... args) throws IOException, InterruptedException {
        return run(Map.of(), script, args);
    }

    private static Result run(Map<String, String> env, String script, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", "scripts/" + script));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().putAll(env);
        Process p = builder.start();
        p.getOutputStream().close();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(script + " did not exit within 20 s");
        }
        return new Result(p.exitValue(),
                new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
