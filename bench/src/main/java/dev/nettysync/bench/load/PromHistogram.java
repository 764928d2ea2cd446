package dev.nettysync.bench.load;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Percentiles of a server-side latency histogram from two Prometheus text scrapes (before and
 * after a measurement window), so the load scripts can put the server's own view of a latency
 * (for the demo: decode → flush of each answer) next to the client's. The scrapes are taken with
 * {@code curl} by the scripts (a JVM start on the load generator's CPU would perturb it); this
 * tool only reads the files.
 *
 * <p>Reads a Micrometer timer exported with {@code publishPercentileHistogram()}: the
 * {@code NAME_bucket{...,le="..."}} series of every sample whose labels include the
 * {@code --tag}s are summed per bound, the "before" counts are subtracted, and each percentile is
 * interpolated inside its bucket as Prometheus's {@code histogram_quantile} does (so it is exact
 * to the bucket's width: Micrometer's buckets grow by about a third each). Without buckets, the
 * {@code NAME{quantile="..."}} gauges of the "after" scrape are printed instead (client-side
 * percentiles over Micrometer's decaying window, warm-up included), and said so.
 *
 * <p>Output, one line: {@code name count p50_ms p99_ms p999_ms source}, or
 * {@code name absent} when no scrape has the metric (exit code 0: a server build without the
 * timer is not an error of the load run).
 *
 * <p>Run: {@code java -cp bench/target/benchmarks.jar dev.nettysync.bench.load.PromHistogram
 * --name demo_response_latency_seconds --tag status=503 --before before.prom after.prom}
 */
@Command(name = "prom-histogram", mixinStandardHelpOptions = true,
        description = "Percentiles of a Prometheus histogram between two scrapes.")
public final class PromHistogram implements Callable<Integer> {

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})?\\s+(\\S+)(\\s+\\S+)?$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    @Option(names = "--name", required = true, description = "Metric base name (Prometheus spelling), e.g. demo_response_latency_seconds.")
    String name;

    @Option(names = "--tag", description = "label=value the samples must carry (repeatable), e.g. status=503.")
    List<String> tags = new ArrayList<>();

    @Option(names = "--before", description = "Scrape taken before the window; its counts are subtracted.")
    Path before;

    @Parameters(index = "0", description = "Scrape taken after the window.")
    Path after;

    @Option(names = "--percentiles", split = ",", defaultValue = "50,99,99.9",
            description = "Percentiles to print. Default ${DEFAULT-VALUE}.")
    List<Double> percentiles;

    public static void main(String[] args) {
        System.exit(new CommandLine(new PromHistogram()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        System.out.println(describe());
        return 0;
    }

    /** The one-line result (see the class comment). */
    String describe() throws IOException {
        Map<String, String> want = new LinkedHashMap<>();
        for (String t : tags) {
            int eq = t.indexOf('=');
            if (eq <= 0) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--tag must be label=value, was '" + t + "'");
            }
            want.put(t.substring(0, eq), t.substring(eq + 1));
        }
        TreeMap<Double, Double> afterBuckets = buckets(read(after), want);
        StringBuilder sb = new StringBuilder(name);
        if (!afterBuckets.isEmpty()) {
            TreeMap<Double, Double> cumulative = new TreeMap<>(afterBuckets);
            if (before != null && Files.exists(before)) {
                TreeMap<Double, Double> b = buckets(read(before), want);
                cumulative.replaceAll((le, c) -> c - b.getOrDefault(le, 0.0));
            }
            double total = cumulative.lastEntry().getValue();
            sb.append(String.format(Locale.ROOT, " count %.0f", total));
            for (double p : percentiles) {
                sb.append(String.format(Locale.ROOT, " p%s_ms %.3f", trim(p), quantile(cumulative, p / 100) * 1000));
            }
            return sb.append(" source buckets").append(before != null ? " (after - before)" : "").toString();
        }
        Map<String, Double> quantiles = quantiles(read(after), want);
        if (!quantiles.isEmpty()) {
            for (double p : percentiles) {
                Double v = quantiles.get(trim(p / 100));
                sb.append(" p").append(trim(p)).append("_ms ")
                        .append(v == null ? "n/a" : String.format(Locale.ROOT, "%.3f", v * 1000));
            }
            return sb.append(" source client-side quantiles (decaying window, warm-up included)").toString();
        }
        return sb.append(" absent").toString();
    }

    static List<String> read(Path p) throws IOException {
        return p == null || !Files.exists(p) ? List.of() : Files.readAllLines(p, StandardCharsets.UTF_8);
    }

    /** Cumulative bucket counts by upper bound, summed over the samples carrying {@code want}. */
    TreeMap<Double, Double> buckets(List<String> lines, Map<String, String> want) {
        TreeMap<Double, Double> out = new TreeMap<>();
        for (String line : lines) {
            Matcher m = match(line, name + "_bucket");
            if (m == null) {
                continue;
            }
            Map<String, String> labels = labels(m.group(3));
            if (!matches(labels, want) || !labels.containsKey("le")) {
                continue;
            }
            double le = "+Inf".equals(labels.get("le")) ? Double.POSITIVE_INFINITY : Double.parseDouble(labels.get("le"));
            out.merge(le, Double.parseDouble(m.group(4)), Double::sum);
        }
        return out;
    }

    Map<String, Double> quantiles(List<String> lines, Map<String, String> want) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (String line : lines) {
            Matcher m = match(line, name);
            if (m == null) {
                continue;
            }
            Map<String, String> labels = labels(m.group(3));
            if (matches(labels, want) && labels.containsKey("quantile")) {
                out.put(trim(Double.parseDouble(labels.get("quantile"))), Double.parseDouble(m.group(4)));
            }
        }
        return out;
    }

    private static Matcher match(String line, String metric) {
        if (line.isEmpty() || line.startsWith("#") || !line.startsWith(metric)) {
            return null;
        }
        Matcher m = SAMPLE.matcher(line.trim());
        return m.matches() && m.group(1).equals(metric) ? m : null;
    }

    static Map<String, String> labels(String s) {
        Map<String, String> out = new LinkedHashMap<>();
        if (s != null) {
            Matcher m = LABEL.matcher(s);
            while (m.find()) {
                out.put(m.group(1), m.group(2));
            }
        }
        return out;
    }

    static boolean matches(Map<String, String> labels, Map<String, String> want) {
        return want.entrySet().stream().allMatch(e -> e.getValue().equals(labels.get(e.getKey())));
    }

    /**
     * Prometheus's histogram_quantile: the bucket holding rank {@code q × total}, linear inside it
     * (from 0 for the first bucket); the highest finite bound if the rank falls in +Inf; NaN if empty.
     */
    static double quantile(TreeMap<Double, Double> cumulative, double q) {
        double total = cumulative.isEmpty() ? 0 : cumulative.lastEntry().getValue();
        if (total <= 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double lowerBound = 0;
        double lowerCount = 0;
        for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
            if (e.getValue() >= rank) {
                if (e.getKey().isInfinite()) {
                    return lowerBound;
                }
                double inBucket = e.getValue() - lowerCount;
                return inBucket <= 0 ? e.getKey() : lowerBound + (e.getKey() - lowerBound) * (rank - lowerCount) / inBucket;
            }
            lowerBound = e.getKey();
            lowerCount = e.getValue();
        }
        return lowerBound;
    }

    static String trim(double v) {
        String s = String.format(Locale.ROOT, "%s", v);
        return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
    }
}
