package dev.nettysync.bench.jmh;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code BenchSuite}'s own command line: a mistake is one line and status 1, nothing written. */
class BenchSuiteTest {

    static {
        // JMH takes a machine-wide lock before it even looks for benchmarks; no benchmark runs
        // here, so another JMH run on the machine must not turn the refusal into a lock error.
        // (Read once, when JMH's Runner class initializes; nothing else in this JVM uses it.)
        System.setProperty("jmh.ignoreLock", "true");
    }

    @Test
    void aRegexpMatchingNoBenchmarkIsOneLineAndStatus1(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = BenchSuite.run(new String[] {"--json", dir.resolve("r.json").toString(),
                "--md", dir.resolve("r.md").toString(), "NoSuchBenchmarkAnywhere"}, new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(status).isEqualTo(1);
        assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("No matching benchmarks").contains("NoSuchBenchmarkAnywhere")
                .doesNotContain("\tat ");
        assertThat(dir.resolve("r.md")).doesNotExist();
    }

    @Test
    void aBadJmhOptionIsOneLineAndStatus1(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = BenchSuite.run(new String[] {"--md", dir.resolve("r.md").toString(), "-i", "many"},
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(status).isEqualTo(1);
        assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("Error parsing command line: ").doesNotContain("\tat ");
        assertThat(Files.exists(dir.resolve("r.md"))).isFalse();
    }

    @Test
    void helpAndListsWithAReportAnswerAndRunNothing(@TempDir Path dir) throws Exception {
        for (String option : new String[] {"-h", "-l", "-lp"}) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = BenchSuite.run(new String[] {"--md", dir.resolve("r.md").toString(), option, "UncontendedBenchmark"},
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            assertThat(status).as(option).isZero();
            assertThat(dir.resolve("r.md")).as(option).doesNotExist();
            assertThat(dir.resolve("r.md.json")).as(option).doesNotExist();
        }
    }
}
