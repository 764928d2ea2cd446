package dev.nettysync.bench.load;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The server-side latency reader: bucket deltas between two scrapes, fallbacks, absence. */
class PromHistogramTest {

    static String describe(Path after, Path before, String... tags) throws Exception {
        PromHistogram p = new PromHistogram();
        List<String> args = new java.util.ArrayList<>(List.of("--name", "demo_response_latency_seconds"));
        for (String t : tags) {
            args.add("--tag");
            args.add(t);
        }
        if (before != null) {
            args.add("--before");
            args.add(before.toString());
        }
        args.add(after.toString());
        new CommandLine(p).parseArgs(args.toArray(new String[0]));
        return p.describe();
    }

    @Test
    void percentilesOfTheWindowBetweenTwoScrapes(@TempDir Path dir) throws Exception {
        Path before = dir.resolve("before.prom");
        Path after = dir.resolve("after.prom");
        // before: 100 slow answers (warm-up) in the 4-8 ms bucket, which the window must not see
        Files.write(before, List.of(
                "# TYPE demo_response_latency_seconds histogram",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"0.0005\",} 0.0",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"0.001\",} 0.0",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"0.004\",} 0.0",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"0.008\",} 100.0",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"+Inf\",} 100.0",
                "demo_response_latency_seconds_bucket{status=\"200\",le=\"+Inf\",} 5.0"));
        // after: + 1000 answers, 900 under 0.5 ms and 100 between 0.5 and 1 ms
        Files.write(after, List.of(
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"0.0005\",} 900.0",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"0.001\",} 1000.0",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"0.004\",} 1000.0",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"0.008\",} 1100.0",
                "demo_response_latency_seconds_bucket{status=\"503\",le=\"+Inf\",} 1100.0",
                "demo_response_latency_seconds_bucket{status=\"200\",le=\"+Inf\",} 9.0",
                "demo_response_latency_seconds_count{status=\"503\",} 1100.0"));
        String line = describe(after, before, "status=503");
        assertThat(line).startsWith("demo_response_latency_seconds count 1000 ");
        // p50: rank 500 of 900 in [0, 0.5 ms] -> 0.278 ms; p99: rank 990, 90 of 100 into (0.5, 1] -> 0.95 ms
        assertThat(line).contains("p50_ms 0.278").contains("p99_ms 0.950").endsWith("source buckets (after - before)");
        // without the before scrape the warm-up's slow answers are in
        assertThat(describe(after, null, "status=503")).contains("count 1100");
    }

    @Test
    void quantileGaugesWhenThereAreNoBuckets(@TempDir Path dir) throws Exception {
        Path after = dir.resolve("after.prom");
        Files.write(after, List.of(
                "demo_response_latency_seconds{status=\"503\",quantile=\"0.5\",} 2.0E-4",
                "demo_response_latency_seconds{status=\"503\",quantile=\"0.99\",} 8.0E-4"));
        assertThat(describe(after, null, "status=503"))
                .contains("p50_ms 0.200").contains("p99_ms 0.800").contains("p99.9_ms n/a").contains("client-side quantiles");
    }

    @Test
    void aServerWithoutTheTimerIsReportedAbsent(@TempDir Path dir) throws Exception {
        Path after = dir.resolve("after.prom");
        Files.write(after, List.of("demo_http_requests_seconds_count{route=\"items\",status=\"503\",} 5.0"));
        assertThat(describe(after, null, "status=503")).isEqualTo("demo_response_latency_seconds absent");
        assertThat(describe(dir.resolve("missing.prom"), null)).endsWith("absent");
    }

    @Test
    void quantileInterpolatesInsideTheBucketLikePrometheus() {
        TreeMap<Double, Double> c = new TreeMap<>();
        c.put(1.0, 10.0);
        c.put(2.0, 20.0);
        c.put(Double.POSITIVE_INFINITY, 30.0);
        assertThat(PromHistogram.quantile(c, 0.5)).isCloseTo(1.5, within(1e-9));
        assertThat(PromHistogram.quantile(c, 0.99)).as("in +Inf: the highest finite bound").isEqualTo(2.0);
        assertThat(PromHistogram.quantile(new TreeMap<>(), 0.5)).isNaN();
    }
}
