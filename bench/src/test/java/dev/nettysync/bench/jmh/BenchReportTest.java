package dev.nettysync.bench.jmh;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/** The report reads JMH's JSON: medians from the raw iterations, GC share, versions, goals. */
class BenchReportTest {

    /** One JMH JSON result entry, in the shape JMH 1.37 writes. */
    static String result(String benchmark, String mode, String unit, String impl, String extraParams,
                         double score, String rawData, String jvmArgs, Double bytes, Double gcMs) {
        StringBuilder secondary = new StringBuilder();
        if (bytes != null) {
            secondary.append("\"gc.alloc.rate.norm\": {\"score\": ").append(bytes).append(", \"scoreUnit\": \"B/op\"},")
                    .append("\"gc.count\": {\"score\": 1.0, \"scoreUnit\": \"counts\"}");
            if (gcMs != null) {
                secondary.append(", \"gc.time\": {\"score\": ").append(gcMs).append(", \"scoreUnit\": \"ms\"}");
            }
        }
        return String.format(Locale.ROOT, "{\"jmhVersion\": \"1.37\", \"benchmark\": \"dev.nettysync.bench.jmh.%s\","
                + " \"mode\": \"%s\", \"threads\": 1, \"forks\": 1, \"jvmArgs\": [%s],"
                + " \"measurementIterations\": 4, \"measurementTime\": \"500 ms\","
                + " \"params\": {\"impl\": \"%s\"%s},"
                + " \"primaryMetric\": {\"score\": %s, \"scoreError\": \"NaN\", \"scoreUnit\": \"%s\", \"rawData\": [%s]},"
                + " \"secondaryMetrics\": {%s}}",
                benchmark, mode, jvmArgs, impl, extraParams, score, unit, rawData, secondary);
    }

    static Path write(Path dir, String name, String... results) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, "[" + String.join(",", results) + "]", StandardCharsets.UTF_8);
        return p;
    }

    @Test
    void medianComesFromTheRawIterationsAndRatiosUseIt(@TempDir Path dir) throws Exception {
        Path after = write(dir, "after.json",
                result("SameLoopHandoffBenchmark.handoff", "avgt", "ns/op", "nettysync", ", \"waiters\": \"16\"",
                        40.0, "[10.0, 11.0, 12.0, 127.0]", "\"-Xmx1g\"", 16.0, 100.0),
                result("SameLoopHandoffBenchmark.handoff", "avgt", "ns/op", "naive", ", \"waiters\": \"16\"",
                        20.0, "[20.0, 20.0, 22.0, 22.0]", "\"-Xmx1g\"", 32.0, null));
        List<BenchReport.Row> rows = BenchReport.read(after, "");
        BenchReport.Row ns = rows.get(0);
        assertThat(ns.median()).as("median of 10, 11, 12, 127").isEqualTo(11.5);
        assertThat(ns.mean()).isEqualTo(40.0);
        assertThat(ns.samples()).isEqualTo(4);
        assertThat(ns.gcShare()).as("100 ms of GC in 4 x 500 ms").isEqualTo(0.05);
        assertThat(rows.get(1).gcShare()).as("-prof gc ran, no pause").isEqualTo(0.0);
        assertThat(ns.error()).isNaN();

        String md = BenchReport.markdown(rows, List.of(""), "");
        // by the medians netty-sync (11.5) beats naive (21): the mean (40 vs 20) would say the opposite
        assertThat(md).contains("| waiters=16 | naive | 21.0 | 20.0 | n/a | ns/op | 32.0 | 0.0% | 1.83× |");
        assertThat(md).contains("| same-loop handoff, 16 waiters: netty-sync / best peer | ≤ 0.9× | 11.5 / 21.0 ns (naive) = **0.55×** | met |");
        assertThat(md).contains("| same-loop handoff, 16 waiters: B/op vs naive | ≤ naive | 16.0 vs 32.0 B/op | met |");
    }

    @Test
    void theAllocationOfAnAcquireForSeveralLoopsIsAGoalReportedPerVersion(@TempDir Path dir) throws Exception {
        // Before the two-choice cache, loops sharing a slot evicted each other's succeeded future.
        Path after = write(dir, "after.json",
                result("UncontendedBenchmark.acquireReleaseManyLoops", "avgt", "ns/op", "nettysync",
                        ", \"loopCount\": \"16\"", 8.5, "[8.5, 8.5]", "\"-Xmx1g\"", 0.0, null));
        Path before = write(dir, "before.json",
                result("UncontendedBenchmark.acquireReleaseManyLoops", "avgt", "ns/op", "nettysync",
                        ", \"loopCount\": \"16\"", 11.2, "[11.2, 11.2]", "\"-Xmx1g\"", 12.0, null));
        List<BenchReport.Row> rows = new java.util.ArrayList<>(BenchReport.read(after, "after"));
        rows.addAll(BenchReport.read(before, "before"));

        String md = BenchReport.markdown(rows, List.of("after", "before"), "");
        assertThat(md).contains("| P1 acquireRelease for 16 loops in turn: allocation | 0 B/op | 0.00 B/op | 12.0 B/op | met |");
    }

    @Test
    void beforeAndAfterAreComparedRowByRowAndTheCollectorIsAGroup(@TempDir Path dir) throws Exception {
        Path after = write(dir, "after.json",
                result("CrossLoopHandoffBenchmark.handoff", "thrpt", "ops/s", "nettysync", ", \"burst\": \"1\"",
                        90_000, "[90000, 90000, 90000]", "", null, null),
                result("CrossLoopHandoffBenchmark.handoff", "thrpt", "ops/s", "bareHop", ", \"burst\": \"1\"",
                        100_000, "[100000, 100000, 100000]", "", null, null),
                result("DeepQueueBenchmark.cancelAndRequeue", "avgt", "ns/op", "nettysync", ", \"depth\": \"10\"",
                        100, "[100]", "\"-XX:+UseParallelGC\"", 64.0, 0.0),
                result("DeepQueueBenchmark.cancelAndRequeue", "avgt", "ns/op", "nettysync", ", \"depth\": \"1000000\"",
                        600, "[600]", "\"-XX:+UseParallelGC\"", 64.0, 1000.0));
        Path before = write(dir, "before.json",
                result("CrossLoopHandoffBenchmark.handoff", "thrpt", "ops/s", "nettysync", ", \"burst\": \"1\"",
                        60_000, "[60000, 60000, 60000]", "", null, null));
        List<BenchReport.Row> rows = new java.util.ArrayList<>(BenchReport.read(after, "after"));
        rows.addAll(BenchReport.read(before, "before"));
        String md = BenchReport.markdown(rows, List.of("after", "before"), "");
        assertThat(md).contains("| CrossLoopHandoffBenchmark.handoff | burst=1 | ops/s | 90,000 | 60,000 | **1.50×** |");
        assertThat(md).contains("| burst=1 | bareHop @after | 100,000 |");
        assertThat(md).contains("| cross-loop handoff, burst 1: netty-sync / bare hop | ≥ 0.9× | 90,000 / 100,000 ops/s = **0.90×** "
                + "| 60,000 / 100,000 ops/s = **0.60×** | met |");
        assertThat(md).as("rows under another collector form their own group").contains("| depth=10, gc=Parallel |");
        assertThat(md).contains("| P3 cancelAndRequeue (Parallel): deepest / depth 10 | ≤ 5× | **6.00×**");
        assertThat(md).contains("MISSED");
    }

    @Test
    void aTargetBelowTheSharedFloorIsSaidToBe(@TempDir Path dir) throws Exception {
        Path after = write(dir, "after.json",
                result("SameLoopHandoffBenchmark.handoff", "avgt", "ns/op", "nettysync", ", \"waiters\": \"16\"",
                        80, "[80]", "", null, null),
                result("SameLoopHandoffBenchmark.handoff", "avgt", "ns/op", "naive", ", \"waiters\": \"16\"",
                        60, "[60]", "", null, null),
                result("SameLoopHandoffBenchmark.handoff", "avgt", "ns/op", "floorAtomic", ", \"waiters\": \"16\"",
                        55, "[55]", "", null, null),
                result("DeepQueueBenchmark.releaseAndRequeue", "avgt", "ns/op", "nettysync", ", \"depth\": \"10\"",
                        50, "[50]", "", null, null),
                result("DeepQueueBenchmark.releaseAndRequeue", "avgt", "ns/op", "naive", ", \"depth\": \"10\"",
                        28, "[28]", "", null, null),
                result("DeepQueueBenchmark.releaseAndRequeue", "avgt", "ns/op", "floorAtomic", ", \"depth\": \"10\"",
                        20, "[20]", "", null, null));
        String md = BenchReport.markdown(BenchReport.read(after, ""), List.of(""), "");
        assertThat(md).as("floorAtomic is not the best peer")
                .contains("| same-loop handoff, 16 waiters: netty-sync / best peer | ≤ 0.9× | 80.0 / 60.0 ns (naive) = **1.33×** | MISSED |");
        assertThat(md).contains("| same-loop handoff, 16 waiters: the time target vs floorAtomic (the least a shareable "
                + "semaphore costs) | (limit) | target 54.0 ns (0.90× naive) vs floorAtomic 55.0 ns: **below the floor** | - |");
        assertThat(md).contains("| releaseAndRequeue, depth 10: the time target vs floorAtomic (the least a shareable "
                + "semaphore costs) | (limit) | target 28.0 ns (1.00× naive) vs floorAtomic 20.0 ns: above the floor | - |");
    }

    @Test
    void jmhDurations() {
        assertThat(BenchReport.durationMs("1 s")).isEqualTo(1000.0);
        assertThat(BenchReport.durationMs("200 ms")).isEqualTo(200.0);
        assertThat(BenchReport.durationMs("500 us")).isEqualTo(0.5);
    }
}
