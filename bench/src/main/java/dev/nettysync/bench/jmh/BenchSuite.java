package dev.nettysync.bench.jmh;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Main class of {@code benchmarks.jar}: runs JMH with the usual command line and, in addition,
 * writes the JSON result and a Markdown report: one table per benchmark with the peers side by
 * side and their ratio to netty-sync, then the goals P1–P3 computed from the same results.
 *
 * <pre>
 * java -jar bench/target/benchmarks.jar [--json FILE] [--md FILE] [JMH options and regexps]
 * </pre>
 * Without {@code --json}/{@code --md} it is plain JMH ({@code -h} for JMH's help).
 */
public final class BenchSuite {

    static final String REFERENCE = "nettysync";
    static final String IMPL = "impl";

    public static void main(String[] args) throws Exception {
        Path json = null;
        Path md = null;
        List<String> jmhArgs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if ("--json".equals(args[i]) && i + 1 < args.length) {
                json = Path.of(args[++i]);
            } else if ("--md".equals(args[i]) && i + 1 < args.length) {
                md = Path.of(args[++i]);
            } else {
                jmhArgs.add(args[i]);
            }
        }
        CommandLineOptions cmd = new CommandLineOptions(jmhArgs.toArray(new String[0]));
        if (json == null && md == null) {
            org.openjdk.jmh.Main.main(jmhArgs.toArray(new String[0]));
            return;
        }
        OptionsBuilder builder = new OptionsBuilder();
        builder.parent(cmd);
        if (json != null) {
            builder.result(json.toString()).resultFormat(ResultFormatType.JSON);
        }
        Options options = builder.build();
        Collection<RunResult> results = new Runner(options).run();
        if (md != null) {
            Files.writeString(md, markdown(results, String.join(" ", jmhArgs)), StandardCharsets.UTF_8);
            System.out.println("Markdown report: " + md);
        }
        if (json != null) {
            System.out.println("JSON results: " + json);
        }
    }

    // ------------------------------------------------------------------ report

    /** One row of a table. */
    record Row(String benchmark, String method, Map<String, String> params, double score,
               double error, String unit, Double bytesPerOp, boolean higherIsBetter) {

        String impl() {
            return params.getOrDefault(IMPL, "");
        }

        /** The parameters other than impl, which define the group the peers are compared in. */
        String group() {
            return params.entrySet().stream().filter(e -> !e.getKey().equals(IMPL))
                    .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", "));
        }
    }

    @SuppressWarnings("rawtypes")   // JMH's getSecondaryResults() is a Map<String, Result>
    static List<Row> rows(Collection<RunResult> results) {
        List<Row> rows = new ArrayList<>();
        for (RunResult rr : results) {
            BenchmarkParams p = rr.getParams();
            String full = p.getBenchmark();
            int dot = full.lastIndexOf('.');
            String cls = full.substring(full.lastIndexOf('.', dot - 1) + 1, dot);
            Map<String, String> params = new LinkedHashMap<>();
            for (String k : p.getParamsKeys()) {
                params.put(k, p.getParam(k));
            }
            Result<?> primary = rr.getPrimaryResult();
            Double bytes = null;
            for (Map.Entry<String, Result> e : rr.getSecondaryResults().entrySet()) {
                if (e.getKey().endsWith("gc.alloc.rate.norm")) {
                    bytes = e.getValue().getScore();
                }
            }
            boolean higher = p.getMode() == org.openjdk.jmh.annotations.Mode.Throughput;
            rows.add(new Row(cls, full.substring(dot + 1), params, primary.getScore(),
                    primary.getScoreError(), primary.getScoreUnit(), bytes, higher));
        }
        return rows;
    }

    static String markdown(Collection<RunResult> results, String commandLine) {
        List<Row> rows = rows(results);
        StringWriter out = new StringWriter();
        PrintWriter w = new PrintWriter(out);
        w.println("# netty-sync JMH results");
        w.println();
        w.println("JMH arguments: `" + (commandLine.isEmpty() ? "(defaults)" : commandLine) + "`  ");
        w.println("Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name")
                + "), " + Runtime.getRuntime().availableProcessors() + " CPUs, "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        w.println();
        w.println("\"× netty-sync\" is how many times better netty-sync's score is than the row's "
                + "(> 1: netty-sync is faster; for ns/op and µs/op lower is better, for ops/s higher). "
                + "B/op comes from `-prof gc` (blank without it). ± is JMH's 99.9% confidence half-interval.");
        w.println();

        Map<String, List<Row>> byMethod = new TreeMap<>();
        for (Row r : rows) {
            byMethod.computeIfAbsent(r.benchmark() + "." + r.method(), k -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<Row>> e : byMethod.entrySet()) {
            w.println("## " + e.getKey());
            w.println();
            boolean perWaiter = e.getValue().stream().anyMatch(r -> r.params().containsKey("waiters"));
            w.println("| group | impl | score | ± | unit | B/op | × netty-sync |"
                    + (perWaiter ? " ns per waiter |" : ""));
            w.println("|---|---|---:|---:|---|---:|---:|" + (perWaiter ? "---:|" : ""));
            Map<String, List<Row>> groups = new LinkedHashMap<>();
            for (Row r : e.getValue()) {
                groups.computeIfAbsent(r.group(), k -> new ArrayList<>()).add(r);
            }
            for (Map.Entry<String, List<Row>> g : groups.entrySet()) {
                Row ref = g.getValue().stream().filter(r -> REFERENCE.equals(r.impl())).findFirst().orElse(null);
                for (Row r : g.getValue()) {
                    String ratio = ref == null ? "" : fmt(advantage(ref, r)) + "×";
                    String pw = "";
                    if (perWaiter) {
                        double waiters = Double.parseDouble(r.params().get("waiters"));
                        pw = " " + fmt(toNanos(r.score(), r.unit()) / waiters) + " |";
                    }
                    w.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s |%s%n", g.getKey(), r.impl(),
                            fmt(r.score()), fmt(r.error()), r.unit(),
                            r.bytesPerOp() == null ? "" : fmt(r.bytesPerOp()), ratio, pw);
                }
            }
            w.println();
        }
        goals(rows, w);
        w.flush();
        return out.toString();
    }

    /** How many times better {@code ref}'s score is than {@code r}'s. */
    static double advantage(Row ref, Row r) {
        return ref.higherIsBetter() ? ref.score() / r.score() : r.score() / ref.score();
    }

    static double toNanos(double score, String unit) {
        switch (unit) {
            case "ns/op": return score;
            case "us/op": return score * 1e3;
            case "ms/op": return score * 1e6;
            case "s/op": return score * 1e9;
            default: return Double.NaN;
        }
    }

    static Row find(List<Row> rows, String benchmark, String method, String impl, Map<String, String> other) {
        for (Row r : rows) {
            if (r.benchmark().equals(benchmark) && r.method().equals(method) && r.impl().equals(impl)
                    && other.entrySet().stream().allMatch(e -> Objects.equals(r.params().get(e.getKey()), e.getValue()))) {
                return r;
            }
        }
        return null;
    }

    static void goals(List<Row> rows, PrintWriter w) {
        w.println("## Goals (computed from the rows above)");
        w.println();
        w.println("| goal | measured | target | verdict |");
        w.println("|---|---|---|---|");
        // P1
        Row jdk = find(rows, "UncontendedBenchmark", "tryAcquireRelease", "jdk", Map.of());
        for (String m : List.of("tryAcquireRelease", "acquireRelease")) {
            Row ns = find(rows, "UncontendedBenchmark", m, REFERENCE, Map.of());
            if (ns != null && jdk != null) {
                double ratio = ns.score() / jdk.score();
                w.printf(Locale.ROOT, "| P1 %s vs JDK Semaphore tryAcquire+release | %s / %s %s = %s× | ≤ 1.2× | %s |%n",
                        m, fmt(ns.score()), fmt(jdk.score()), ns.unit(), fmt(ratio), ratio <= 1.2 ? "met" : "MISSED");
            }
            if (ns != null && ns.bytesPerOp() != null) {
                boolean zeroRequired = m.equals("tryAcquireRelease");
                w.printf(Locale.ROOT, "| P1 %s allocation | %s B/op | %s | %s |%n", m, fmt(ns.bytesPerOp()),
                        zeroRequired ? "0 B/op" : "(reported)",
                        zeroRequired ? (ns.bytesPerOp() < 1.0 ? "met" : "MISSED") : "-");
            }
        }
        // P2
        for (Row ns : rows) {
            if (!ns.benchmark().equals("ContendedHandoffBenchmark") || !ns.impl().equals(REFERENCE)) {
                continue;
            }
            Map<String, String> other = new LinkedHashMap<>(ns.params());
            other.remove(IMPL);
            Row au = find(rows, ns.benchmark(), ns.method(), "asyncutil", other);
            Row naive = find(rows, ns.benchmark(), ns.method(), "naive", other);
            // The goal is the scenario where every handoff crosses loops; "free" rows are context.
            boolean context = "free".equals(ns.params().get("pattern"));
            if (au != null) {
                double x = ns.score() / au.score();
                w.printf(Locale.ROOT, "| P2 handoff vs asyncutil (%s) | %s / %s %s = %s× | %s | %s |%n",
                        ns.group(), fmt(ns.score()), fmt(au.score()), ns.unit(), fmt(x),
                        context ? "(context)" : "≥ 2×", context ? "-" : x >= 2 ? "met" : "MISSED");
            }
            Row auInline = find(rows, ns.benchmark(), ns.method(), "asyncutilInline", other);
            if (auInline != null) {
                double x = ns.score() / auInline.score();
                w.printf(Locale.ROOT, "| P2 handoff vs asyncutil with Netty's hop policy (%s) | %s / %s %s = %s× | (context) | - |%n",
                        ns.group(), fmt(ns.score()), fmt(auInline.score()), ns.unit(), fmt(x));
            }
            if (naive != null) {
                double x = ns.score() / naive.score();
                w.printf(Locale.ROOT, "| P2 handoff vs naive (%s) | %s / %s %s = %s× | %s | %s |%n",
                        ns.group(), fmt(ns.score()), fmt(naive.score()), ns.unit(), fmt(x),
                        context ? "(context)" : "> 1×", context ? "-" : x > 1 ? "met" : "MISSED");
            }
        }
        // P3
        for (String m : List.of("releaseAndRequeue", "cancelAndRequeue", "randomTouch")) {
            boolean control = m.equals("randomTouch");
            List<Row> series = rows.stream()
                    .filter(r -> r.benchmark().equals("DeepQueueBenchmark") && r.method().equals(m)
                            && r.impl().equals(REFERENCE) && r.params().containsKey("depth"))
                    .sorted((a, b) -> Integer.compare(Integer.parseInt(a.params().get("depth")),
                            Integer.parseInt(b.params().get("depth"))))
                    .collect(Collectors.toList());
            if (series.size() < 2) {
                continue;
            }
            Row base = series.get(0);
            double worst = 0;
            StringBuilder sb = new StringBuilder();
            for (Row r : series) {
                double dev = r.score() / base.score() - 1;
                if (Math.abs(dev) > Math.abs(worst)) {
                    worst = dev;
                }
                sb.append(r.params().get("depth")).append(": ").append(fmt(r.score())).append(", ");
            }
            sb.setLength(sb.length() - 2);
            w.printf(Locale.ROOT, "| P3 %s%s %s across depths (%s) | worst %+.0f%% vs depth %s | %s | %s |%n",
                    control ? "control: " : "", m, base.unit(), sb, worst * 100, base.params().get("depth"),
                    control ? "(cost of one random memory touch)" : "within ±25%",
                    control ? "-" : Math.abs(worst) <= 0.25 ? "met" : "MISSED");
        }
        w.println();
        w.println("P3 bytes per queued waiter: see the WaiterFootprint table. P4 is measured by `bench/scripts/load.sh`.");
    }

    static String fmt(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        double a = Math.abs(v);
        if (a >= 1000) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (a >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        if (a >= 0.01 || a == 0) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return String.format(Locale.ROOT, "%.2g", v);
    }

    private BenchSuite() {
    }

    static void write(Path p, String s) throws IOException {
        Files.writeString(p, s, StandardCharsets.UTF_8);
    }
}
