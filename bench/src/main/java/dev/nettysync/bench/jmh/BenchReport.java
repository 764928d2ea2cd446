package dev.nettysync.bench.jmh;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The Markdown report of one or more JMH JSON result files. Reads JMH's JSON (the per-iteration
 * raw data included), so any run can be re-summarised later:
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.nettysync.bench.jmh.BenchReport [--md OUT] FILE[=LABEL]...
 * </pre>
 *
 * <p>For every row it gives the <b>median</b> of the measured iterations (of all forks) and the
 * <b>mean</b> (JMH's score) with JMH's 99.9% half-interval, the allocation per op
 * ({@code -prof gc}) and the collectors' accumulated collection time over the measured time
 * (from {@code gc.time}; the JVM's per-collector time, which is pause time for stop-the-world
 * collections but not for concurrent phases). Ratios between rows are computed from medians: one slow iteration (a GC, a
 * neighbour on the machine) moves a mean, not a median. Rows run under a non-default collector
 * ({@code -jvmArgs -XX:+UseParallelGC}) get a {@code gc=...} group of their own.
 *
 * <p>With several files, each file's label (after {@code =}; default "after" for the first,
 * "before" for the second, else the file name) becomes a {@code version} column: the first file
 * is the version under test, every other one a baseline. netty-sync is compared with its own
 * baseline rows ("after vs before") and with the peers; a peer measured in several files shows
 * how much the machine drifted between the runs.
 */
public final class BenchReport {

    static final String REFERENCE = "nettysync";
    /** The promise-only floor of the handoff rows (single-threaded, not a peer). */
    static final String FLOOR = "floor";
    static final String FLOOR_ATOMIC = "floorAtomic";       // not a peer either: the floor plus one CAS per call
    static final String IMPL = "impl";
    static final String BARE_HOP = CrossLoopHandoffBenchmark.BARE_HOP;

    /** One JMH result (benchmark method × parameters × version). */
    record Row(String version, String benchmark, String method, Map<String, String> params, String gc,
               double mean, double error, double median, double min, double max, int samples, String unit,
               Double bytesPerOp, Double gcShare, boolean higherIsBetter) {

        String impl() {
            return params.getOrDefault(IMPL, "");
        }

        /** The parameters other than impl, plus the collector when not the default. */
        String group() {
            String g = params.entrySet().stream().filter(e -> !e.getKey().equals(IMPL))
                    .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", "));
            if (!gc.isEmpty()) {
                g = g.isEmpty() ? "gc=" + gc : g + ", gc=" + gc;
            }
            return g;
        }

        String param(String k) {
            return params.get(k);
        }

        String label() {
            return impl() + (version.isEmpty() ? "" : " @" + version);
        }
    }

    // ------------------------------------------------------------------ reading

    /** Reads the rows of one JMH JSON file, labelled {@code version}. */
    static List<Row> read(Path json, String version) throws IOException {
        try (Reader r = Files.newBufferedReader(json, StandardCharsets.UTF_8)) {
            return rows(JsonParser.parseReader(r).getAsJsonArray(), version);
        }
    }

    static List<Row> rows(JsonArray results, String version) {
        List<Row> rows = new ArrayList<>();
        for (JsonElement e : results) {
            JsonObject o = e.getAsJsonObject();
            String full = o.get("benchmark").getAsString();
            int dot = full.lastIndexOf('.');
            String cls = full.substring(full.lastIndexOf('.', dot - 1) + 1, dot);
            Map<String, String> params = new LinkedHashMap<>();
            if (o.has("params")) {
                for (Map.Entry<String, JsonElement> p : o.getAsJsonObject("params").entrySet()) {
                    params.put(p.getKey(), p.getValue().getAsString());
                }
            }
            JsonObject primary = o.getAsJsonObject("primaryMetric");
            double[] raw = rawData(primary);
            double[] sorted = raw.clone();
            Arrays.sort(sorted);
            Double bytes = null;
            Double gcShare = null;
            JsonObject secondary = o.has("secondaryMetrics") ? o.getAsJsonObject("secondaryMetrics") : new JsonObject();
            if (secondary.has("gc.alloc.rate.norm")) {
                bytes = secondary.getAsJsonObject("gc.alloc.rate.norm").get("score").getAsDouble();
            }
            if (secondary.has("gc.count")) {     // -prof gc ran: no gc.time entry means no GC pause at all
                double gcMs = secondary.has("gc.time") ? secondary.getAsJsonObject("gc.time").get("score").getAsDouble() : 0;
                // gc.time is summed (JMH's SUM policy) over every measured iteration of every fork
                double measuredMs = Math.max(1, o.get("forks").getAsInt()) * o.get("measurementIterations").getAsInt()
                        * durationMs(o.get("measurementTime").getAsString());
                gcShare = measuredMs > 0 ? gcMs / measuredMs : null;
            }
            rows.add(new Row(version, cls, full.substring(dot + 1), params, collector(o.getAsJsonArray("jvmArgs")),
                    primary.get("score").getAsDouble(), errorOf(primary), median(sorted),
                    sorted.length == 0 ? Double.NaN : sorted[0], sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1],
                    sorted.length, primary.get("scoreUnit").getAsString(), bytes, gcShare,
                    "thrpt".equals(o.get("mode").getAsString())));
        }
        return rows;
    }

    /** Every measured iteration of every fork. */
    static double[] rawData(JsonObject primary) {
        List<Double> v = new ArrayList<>();
        if (primary.has("rawData")) {
            for (JsonElement fork : primary.getAsJsonArray("rawData")) {
                for (JsonElement it : fork.getAsJsonArray()) {
                    v.add(it.getAsDouble());
                }
            }
        }
        if (v.isEmpty()) {
            v.add(primary.get("score").getAsDouble());
        }
        return v.stream().mapToDouble(Double::doubleValue).toArray();
    }

    static double errorOf(JsonObject primary) {
        JsonElement e = primary.get("scoreError");
        if (e == null || e.isJsonNull()) {
            return Double.NaN;
        }
        try {
            return e.getAsDouble();
        } catch (NumberFormatException | UnsupportedOperationException notANumber) {   // "NaN" with one iteration
            return Double.NaN;
        }
    }

    static double median(double[] sorted) {
        int n = sorted.length;
        if (n == 0) {
            return Double.NaN;
        }
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** JMH's time values: "1 s", "200 ms", "500 us". */
    static double durationMs(String s) {
        String[] p = s.trim().split("\\s+");
        double v = Double.parseDouble(p[0]);
        switch (p.length > 1 ? p[1] : "s") {
            case "s": return v * 1e3;
            case "ms": return v;
            case "us": return v / 1e3;
            case "ns": return v / 1e6;
            case "min": return v * 60e3;
            default: return Double.NaN;
        }
    }

    /** "" for the default collector (G1), else the collector named by the JVM arguments. */
    static String collector(JsonArray jvmArgs) {
        String gc = "";
        if (jvmArgs != null) {
            for (JsonElement a : jvmArgs) {
                String s = a.getAsString();
                if (s.startsWith("-XX:+Use") && s.endsWith("GC")) {
                    gc = s.substring("-XX:+Use".length(), s.length() - 2);
                }
            }
        }
        return gc.equals("G1") ? "" : gc.equals("Z") ? "ZGC" : gc;
    }

    // ------------------------------------------------------------------ report

    /** Versions in file order; the first is the one under test. */
    static String markdown(List<Row> rows, List<String> versions, String header) {
        StringWriter out = new StringWriter();
        PrintWriter w = new PrintWriter(out);
        w.println("# netty-sync JMH results");
        w.println();
        if (!header.isEmpty()) {
            w.println(header);
            w.println();
        }
        String main = versions.get(0);
        boolean multi = versions.size() > 1;
        w.println("median: of all measured iterations; mean ± JMH's 99.9% half-interval (`n/a` with one iteration); "
                + "B/op from `-prof gc`; GC: the collectors' accumulated collection time (`-prof gc`'s gc.time) over the measured time "
                + "(blank without `-prof gc`; it is the time the JVM reports per collector, which for concurrent phases is not pause time, "
                + "so with short iterations on a busy machine it can exceed 100%). "
                + "**× netty-sync**: how many times better netty-sync" + (multi ? " @" + main : "")
                + "'s median is than the row's (> 1: netty-sync is faster; for time/op lower is better, for ops/s higher)."
                + (multi ? " Rows of other versions: the same code measured with another build of the library"
                + " (netty-sync) or the same peer measured again (its ratio to its other row shows the machine's drift)." : ""));
        w.println();
        Map<String, List<Row>> byMethod = new TreeMap<>();
        for (Row r : rows) {
            byMethod.computeIfAbsent(r.benchmark() + "." + r.method(), k -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<Row>> e : byMethod.entrySet()) {
            w.println("## " + e.getKey());
            w.println();
            boolean perWaiter = e.getValue().stream().anyMatch(r -> r.params().containsKey("waiters")
                    && r.benchmark().equals("EventBroadcastBenchmark"));
            boolean hop = e.getValue().stream().anyMatch(r -> r.impl().equals(BARE_HOP));
            w.println("| group | impl" + (multi ? " @version" : "") + " | median | mean | ± | unit | B/op | GC | × netty-sync |"
                    + (hop ? " × bare hop |" : "") + (perWaiter ? " ns per waiter |" : ""));
            w.println("|---|---|---:|---:|---:|---|---:|---:|---:|" + (hop ? "---:|" : "") + (perWaiter ? "---:|" : ""));
            Map<String, List<Row>> groups = new LinkedHashMap<>();
            for (Row r : e.getValue()) {
                groups.computeIfAbsent(r.group(), k -> new ArrayList<>()).add(r);
            }
            for (Map.Entry<String, List<Row>> g : groups.entrySet()) {
                List<Row> rs = new ArrayList<>(g.getValue());
                rs.sort(Comparator.comparing((Row r) -> !r.impl().equals(REFERENCE)).thenComparing(Row::impl)
                        .thenComparing(r -> versions.indexOf(r.version())));
                Row ref = pick(rs, REFERENCE, main);
                Row bare = rs.stream().filter(r -> r.impl().equals(BARE_HOP)).findFirst().orElse(null);
                for (Row r : rs) {
                    String ratio = ref == null ? "" : fmt(advantage(ref, r)) + "×";
                    String hopCol = !hop ? "" : " " + (bare == null || !r.higherIsBetter() ? "" : fmt(r.median() / bare.median()) + "×") + " |";
                    String pw = "";
                    if (perWaiter) {
                        pw = " " + fmt(toNanos(r.median(), r.unit()) / Double.parseDouble(r.param("waiters"))) + " |";
                    }
                    w.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |%s%s%n", g.getKey(),
                            multi ? r.label() : r.impl(), fmt(r.median()), fmt(r.mean()), fmt(r.error()), r.unit(),
                            r.bytesPerOp() == null ? "" : fmt(r.bytesPerOp()),
                            r.gcShare() == null ? "" : pct(r.gcShare()), ratio, hopCol, pw);
                }
            }
            w.println();
        }
        if (multi) {
            versionTable(rows, versions, w);
        }
        goals(rows, versions, w);
        w.flush();
        return out.toString();
    }

    /** netty-sync's median in each version, row by row, and how many times better the first version is. */
    static void versionTable(List<Row> rows, List<String> versions, PrintWriter w) {
        String main = versions.get(0);
        w.println("## netty-sync " + String.join(" vs ", versions));
        w.println();
        StringBuilder head = new StringBuilder("| benchmark | group | unit |");
        StringBuilder rule = new StringBuilder("|---|---|---|");
        for (String v : versions) {
            head.append(" ").append(v).append(" |");
            rule.append("---:|");
        }
        for (String v : versions.subList(1, versions.size())) {
            head.append(" ").append(main).append(" vs ").append(v).append(" |");
            rule.append("---:|");
        }
        w.println(head);
        w.println(rule);
        Map<String, Map<String, Row>> byKey = new TreeMap<>();
        for (Row r : rows) {
            if (r.impl().equals(REFERENCE)) {
                byKey.computeIfAbsent(r.benchmark() + "." + r.method() + "\t" + r.group(), k -> new LinkedHashMap<>())
                        .put(r.version(), r);
            }
        }
        for (Map.Entry<String, Map<String, Row>> e : byKey.entrySet()) {
            String[] k = e.getKey().split("\t", 2);
            Row any = e.getValue().values().iterator().next();
            StringBuilder sb = new StringBuilder("| " + k[0] + " | " + k[1] + " | " + any.unit() + " |");
            for (String v : versions) {
                Row r = e.getValue().get(v);
                sb.append(" ").append(r == null ? "–" : fmt(r.median())
                        + (r.bytesPerOp() == null ? "" : " (" + fmt(r.bytesPerOp()) + " B)")).append(" |");
            }
            Row ref = e.getValue().get(main);
            for (String v : versions.subList(1, versions.size())) {
                Row r = e.getValue().get(v);
                sb.append(" ").append(ref == null || r == null ? "–" : "**" + fmt(advantage(ref, r)) + "×**").append(" |");
            }
            w.println(sb);
        }
        w.println();
        w.println("\"" + main + " vs X\": how many times better " + main + "'s median is (> 1: faster). B: bytes per op.");
        w.println();
    }

    static Row pick(List<Row> rows, String impl, String version) {
        return rows.stream().filter(r -> r.impl().equals(impl) && r.version().equals(version)).findFirst().orElse(null);
    }

    /** How many times better {@code ref}'s median is than {@code r}'s. */
    static double advantage(Row ref, Row r) {
        return ref.higherIsBetter() ? ref.median() / r.median() : r.median() / ref.median();
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

    /** The row of {@code benchmark.method} for {@code impl} @ {@code version} whose params include {@code other}. */
    static Row find(List<Row> rows, String benchmark, String method, String impl, String version,
                    Map<String, String> other, String gc) {
        for (Row r : rows) {
            if (r.benchmark().equals(benchmark) && r.method().equals(method) && r.impl().equals(impl)
                    && r.version().equals(version) && r.gc().equals(gc)
                    && other.entrySet().stream().allMatch(e -> Objects.equals(r.param(e.getKey()), e.getValue()))) {
                return r;
            }
        }
        return null;
    }

    // ------------------------------------------------------------------ goals

    /** A goal's measured value for one version: the number, how it was computed, whether it is met. */
    record Measured(double value, String text) {
    }

    interface Goal {
        Measured measure(List<Row> rows, String version);
    }

    /**
     * The goals of issues 5 and 14, each computed for every version that has the rows it needs:
     * "after" decides the verdict, the baselines are there to compare.
     */
    static void goals(List<Row> rows, List<String> versions, PrintWriter w) {
        String main = versions.get(0);
        List<String> cols = new ArrayList<>(versions);
        w.println("## Goals (computed from the medians above)");
        w.println();
        StringBuilder head = new StringBuilder("| goal | target |");
        StringBuilder rule = new StringBuilder("|---|---|");
        for (String v : cols) {
            head.append(" ").append(v.isEmpty() ? "measured" : v).append(" |");
            rule.append("---|");
        }
        head.append(" verdict").append(cols.size() > 1 ? " (" + main + ")" : "").append(" |");
        rule.append("---|");
        w.println(head);
        w.println(rule);

        // P1 (issue 5: ≤ 1.2×; issue 14: unchanged, ≤ 1.1×)
        for (String m : List.of("tryAcquireRelease", "acquireRelease")) {
            goal(w, rows, cols, "P1 " + m + " vs j.u.c.Semaphore tryAcquire+release", "≤ 1.1×", x -> x <= 1.1,
                    (rs, v) -> {
                        Row ns = find(rs, "UncontendedBenchmark", m, REFERENCE, v, Map.of(), "");
                        Row jdk = firstOf(rs, "UncontendedBenchmark", "tryAcquireRelease", "jdk", v, main);
                        return ns == null || jdk == null ? null : ratio(ns.median(), jdk.median(), ns.unit(), jdk.version(), v);
                    });
            goal(w, rows, cols, "P1 " + m + " vs asyncutil " + m, "(context)", null,
                    (rs, v) -> {
                        Row ns = find(rs, "UncontendedBenchmark", m, REFERENCE, v, Map.of(), "");
                        Row au = firstOf(rs, "UncontendedBenchmark", m, "asyncutil", v, main);
                        return ns == null || au == null ? null : ratio(ns.median(), au.median(), ns.unit(), au.version(), v);
                    });
            goal(w, rows, cols, "P1 " + m + " allocation", m.equals("tryAcquireRelease") ? "0 B/op" : "(reported)",
                    m.equals("tryAcquireRelease") ? x -> x < 1.0 : null,
                    (rs, v) -> {
                        Row ns = find(rs, "UncontendedBenchmark", m, REFERENCE, v, Map.of(), "");
                        return ns == null || ns.bytesPerOp() == null ? null
                                : new Measured(ns.bytesPerOp(), fmt(ns.bytesPerOp()) + " B/op");
                    });
        }
        // The same acquire for several loops in turn: every loop's succeeded future stays cached
        for (String n : distinct(rows, "UncontendedBenchmark", "loopCount")) {
            goal(w, rows, cols, "P1 acquireRelease for " + n + " loops in turn: allocation", "0 B/op", x -> x < 1.0,
                    (rs, v) -> {
                        Row ns = find(rs, "UncontendedBenchmark", "acquireReleaseManyLoops", REFERENCE, v,
                                Map.of("loopCount", n), "");
                        return ns == null || ns.bytesPerOp() == null ? null
                                : new Measured(ns.bytesPerOp(), fmt(ns.bytesPerOp()) + " B/op");
                    });
        }
        // Same-loop handoff
        for (String n : distinct(rows, "SameLoopHandoffBenchmark", "waiters")) {
            goal(w, rows, cols, "same-loop handoff, " + n + " waiters: netty-sync / best peer", "≤ 0.9×", x -> x <= 0.9,
                    (rs, v) -> {
                        Row ns = find(rs, "SameLoopHandoffBenchmark", "handoff", REFERENCE, v, Map.of("waiters", n), "");
                        Row best = best(rs, "SameLoopHandoffBenchmark", "handoff", v, main, Map.of("waiters", n),
                                BenchReport::isSameLoopPeer);
                        return ns == null || best == null ? null : new Measured(ns.median() / best.median(),
                                fmt(ns.median()) + " / " + fmt(best.median()) + " ns (" + best.impl() + ") = **"
                                        + fmt(ns.median() / best.median()) + "×**");
                    });
            goal(w, rows, cols, "same-loop handoff, " + n + " waiters: B/op vs naive", "≤ naive", x -> x <= 1.0,
                    (rs, v) -> {
                        Row ns = find(rs, "SameLoopHandoffBenchmark", "handoff", REFERENCE, v, Map.of("waiters", n), "");
                        Row naive = firstOf(rs, "SameLoopHandoffBenchmark", "handoff", "naive", v, main, Map.of("waiters", n));
                        if (ns == null || naive == null || ns.bytesPerOp() == null || naive.bytesPerOp() == null) {
                            return null;
                        }
                        double nb = Math.max(naive.bytesPerOp(), 0.5);   // JMH leaves fractions of a byte
                        return new Measured(ns.bytesPerOp() / nb, fmt(ns.bytesPerOp()) + " vs " + fmt(naive.bytesPerOp()) + " B/op");
                    });
        }
        // The promise floor (not a peer): how much of each handoff is the semaphore's own work
        for (String n : distinct(rows, "SameLoopHandoffBenchmark", "waiters")) {
            aboveFloor(w, rows, cols, "same-loop handoff, " + n + " waiters", "SameLoopHandoffBenchmark", "handoff",
                    main, Map.of("waiters", n));
        }
        aboveFloor(w, rows, cols, "releaseAndRequeue, depth 10", "DeepQueueBenchmark", "releaseAndRequeue",
                main, Map.of("depth", "10"));
        // Whether a time goal asks for less than any shareable semaphore can cost (a measured limit)
        for (String n : distinct(rows, "SameLoopHandoffBenchmark", "waiters")) {
            targetVsSharedFloor(w, rows, cols, "same-loop handoff, " + n + " waiters", "SameLoopHandoffBenchmark",
                    "handoff", main, Map.of("waiters", n), 0.9, BenchReport::isSameLoopPeer);
        }
        targetVsSharedFloor(w, rows, cols, "releaseAndRequeue, depth 10", "DeepQueueBenchmark", "releaseAndRequeue",
                main, Map.of("depth", "10"), 1.0, r -> r.impl().equals("naive"));
        // releaseAndRequeue at depth 10 vs naive
        goal(w, rows, cols, "releaseAndRequeue, depth 10: netty-sync / naive", "≤ 1×", x -> x <= 1.0,
                (rs, v) -> {
                    Row ns = find(rs, "DeepQueueBenchmark", "releaseAndRequeue", REFERENCE, v, Map.of("depth", "10"), "");
                    Row naive = firstOf(rs, "DeepQueueBenchmark", "releaseAndRequeue", "naive", v, main, Map.of("depth", "10"));
                    return ns == null || naive == null ? null : ratio(ns.median(), naive.median(), ns.unit(), naive.version(), v);
                });
        // Cross-loop vs bare hop
        for (String b : distinct(rows, "CrossLoopHandoffBenchmark", "burst")) {
            goal(w, rows, cols, "cross-loop handoff, burst " + b + ": netty-sync / bare hop", "≥ 0.9×", x -> x >= 0.9,
                    (rs, v) -> {
                        Row ns = find(rs, "CrossLoopHandoffBenchmark", "handoff", REFERENCE, v, Map.of("burst", b), "");
                        Row hop = firstOf(rs, "CrossLoopHandoffBenchmark", "handoff", BARE_HOP, v, main, Map.of("burst", b));
                        return ns == null || hop == null ? null : new Measured(ns.median() / hop.median(),
                                fmt(ns.median()) + " / " + fmt(hop.median()) + " ops/s = **" + fmt(ns.median() / hop.median()) + "×**");
                    });
            goal(w, rows, cols, "cross-loop handoff, burst " + b + ": netty-sync / best peer", "(context)", null,
                    (rs, v) -> {
                        Row ns = find(rs, "CrossLoopHandoffBenchmark", "handoff", REFERENCE, v, Map.of("burst", b), "");
                        Row best = best(rs, "CrossLoopHandoffBenchmark", "handoff", v, main, Map.of("burst", b),
                                r -> !r.impl().equals(REFERENCE) && !r.impl().equals(BARE_HOP));
                        return ns == null || best == null ? null : new Measured(ns.median() / best.median(),
                                fmt(ns.median()) + " / " + fmt(best.median()) + " (" + best.impl() + ") = " + fmt(ns.median() / best.median()) + "×");
                    });
        }
        // Issue 5's P2 (kept for continuity): handoffs/s vs asyncutil and naive
        for (String p : distinct(rows, "ContendedHandoffBenchmark", "permits")) {
            for (String peer : List.of("asyncutil", "asyncutilInline", "naive")) {
                goal(w, rows, cols, "P2 contended handoff (permits " + p + ", alternate) vs " + peer,
                        peer.equals("asyncutil") ? "≥ 2× (issue 5)" : "(context)", peer.equals("asyncutil") ? x -> x >= 2 : null,
                        (rs, v) -> {
                            Row ns = find(rs, "ContendedHandoffBenchmark", "handoff", REFERENCE, v,
                                    Map.of("permits", p, "pattern", "alternate"), "");
                            Row o = firstOf(rs, "ContendedHandoffBenchmark", "handoff", peer, v, main,
                                    Map.of("permits", p, "pattern", "alternate"));
                            return ns == null || o == null ? null : new Measured(ns.median() / o.median(),
                                    fmt(ns.median()) + " / " + fmt(o.median()) + " ops/s = " + fmt(ns.median() / o.median()) + "×");
                        });
            }
        }
        // Deep queue: cancel at the deepest vs depth 10, per collector; GC share
        for (String gc : distinctGc(rows, "DeepQueueBenchmark")) {
            String gcName = gc.isEmpty() ? "G1" : gc;
            for (String m : List.of("cancelAndRequeue", "releaseAndRequeue", "randomTouch")) {
                boolean isGoal = m.equals("cancelAndRequeue");
                goal(w, rows, cols, "P3 " + m + " (" + gcName + "): deepest / depth 10" + (m.equals("randomTouch") ? " (control)" : ""),
                        isGoal ? "≤ 5×" : "(context)", isGoal ? x -> x <= 5 : null,
                        (rs, v) -> {
                            List<Row> series = rs.stream().filter(r -> r.benchmark().equals("DeepQueueBenchmark")
                                            && r.method().equals(m) && r.impl().equals(REFERENCE) && r.version().equals(v)
                                            && r.gc().equals(gc) && r.params().containsKey("depth"))
                                    .sorted(Comparator.comparingInt(r -> Integer.parseInt(r.param("depth"))))
                                    .collect(Collectors.toList());
                            if (series.size() < 2) {
                                return null;
                            }
                            Row base = series.get(0);
                            Row deep = series.get(series.size() - 1);
                            String detail = series.stream().map(r -> r.param("depth") + ": " + fmt(r.median())
                                    + (r.gcShare() == null ? "" : " (GC " + pct(r.gcShare()) + ")")).collect(Collectors.joining(", "));
                            double x = deep.median() / base.median();
                            return new Measured(x, "**" + fmt(x) + "×** (" + base.unit() + " " + detail + ")");
                        });
            }
        }
        w.println();
        w.println("Ratios to a peer use the peer's row of the same version when there is one, else the first version's. "
                + "Bytes per queued waiter: the WaiterFootprint table; the demo overload rows: the load report.");
    }

    interface Verdict {
        boolean met(double x);
    }

    static void goal(PrintWriter w, List<Row> rows, List<String> versions, String name, String target, Verdict ok, Goal g) {
        List<Measured> ms = new ArrayList<>();
        boolean any = false;
        for (String v : versions) {
            Measured m = g.measure(rows, v);
            ms.add(m);
            any |= m != null;
        }
        if (!any) {
            return;
        }
        StringBuilder sb = new StringBuilder("| " + name + " | " + target + " |");
        for (Measured m : ms) {
            sb.append(" ").append(m == null ? "–" : m.text()).append(" |");
        }
        Measured main = ms.get(0);
        sb.append(" ").append(ok == null || main == null ? "-" : ok.met(main.value()) ? "met" : "MISSED").append(" |");
        w.println(sb);
    }

    static Measured ratio(double a, double b, String unit, String peerVersion, String version) {
        double x = a / b;
        return new Measured(x, fmt(a) + " / " + fmt(b) + " " + unit + (peerVersion.equals(version) ? "" : " (peer @" + peerVersion + ")")
                + " = **" + fmt(x) + "×**");
    }

    /** The peer's row in {@code version}, else in {@code fallback}. */
    static Row firstOf(List<Row> rows, String b, String m, String impl, String version, String fallback) {
        return firstOf(rows, b, m, impl, version, fallback, Map.of());
    }

    /**
     * A context row: netty-sync's and naive's time above the {@code floor} row (the same promises
     * with no lock, single-threaded), i.e. what each semaphore adds to the promise's own cost.
     */
    private static void aboveFloor(PrintWriter w, List<Row> rows, List<String> cols, String what, String b, String m,
                                   String main, Map<String, String> other) {
        goal(w, rows, cols, what + ": above the promise floor, netty-sync vs naive", "(context)", null,
                (rs, v) -> {
                    Row ns = find(rs, b, m, REFERENCE, v, other, "");
                    Row naive = firstOf(rs, b, m, "naive", v, main, other);
                    Row floor = firstOf(rs, b, m, FLOOR, v, main, other);
                    if (ns == null || naive == null || floor == null) {
                        return null;
                    }
                    double mine = ns.median() - floor.median();
                    double theirs = naive.median() - floor.median();
                    return new Measured(theirs > 0 ? mine / theirs : Double.NaN, "floor " + fmt(floor.median())
                            + " ns; netty-sync +" + fmt(mine) + ", naive +" + fmt(theirs) + " ns");
                });
    }

    /** The same-loop goal's peers: not netty-sync, not the floors, not asyncutil's hop through the task queue. */
    static boolean isSameLoopPeer(Row r) {
        return !r.impl().equals(REFERENCE) && !r.impl().equals("asyncutil") && !r.impl().equals("nettysyncTimed")
                && !r.impl().equals(FLOOR) && !r.impl().equals(FLOOR_ATOMIC);
    }

    /**
     * A time goal's target ({@code factor} × the best of {@code peers}) against {@code floorAtomic},
     * the promise floor plus one uncontended CAS per call: the least a semaphore that other threads
     * can share must cost. A target below it cannot be met by any such semaphore on Netty promises.
     */
    private static void targetVsSharedFloor(PrintWriter w, List<Row> rows, List<String> cols, String what, String b,
                                            String m, String main, Map<String, String> other, double factor,
                                            Predicate<Row> peers) {
        goal(w, rows, cols, what + ": the time target vs floorAtomic (the least a shareable semaphore costs)",
                "(limit)", null,
                (rs, v) -> {
                    Row best = best(rs, b, m, v, main, other, peers);
                    Row floor = firstOf(rs, b, m, FLOOR_ATOMIC, v, main, other);
                    if (best == null || floor == null) {
                        return null;
                    }
                    double target = factor * best.median();
                    return new Measured(target / floor.median(), "target " + fmt(target) + " ns (" + fmt(factor)
                            + "× " + best.impl() + ") vs floorAtomic " + fmt(floor.median()) + " ns: "
                            + (target < floor.median() ? "**below the floor**" : "above the floor"));
                });
    }

    static Row firstOf(List<Row> rows, String b, String m, String impl, String version, String fallback, Map<String, String> other) {
        Row r = find(rows, b, m, impl, version, other, "");
        return r != null ? r : find(rows, b, m, impl, fallback, other, "");
    }

    /** The best peer row (by median) satisfying {@code which}, from {@code version}, else from {@code fallback}. */
    static Row best(List<Row> rows, String b, String m, String version, String fallback, Map<String, String> other,
                    Predicate<Row> which) {
        for (String v : List.of(version, fallback)) {
            Row best = null;
            for (Row r : rows) {
                if (r.benchmark().equals(b) && r.method().equals(m) && r.version().equals(v) && r.gc().isEmpty()
                        && which.test(r)
                        && other.entrySet().stream().allMatch(e -> Objects.equals(r.param(e.getKey()), e.getValue()))) {
                    if (best == null || (r.higherIsBetter() ? r.median() > best.median() : r.median() < best.median())) {
                        best = r;
                    }
                }
            }
            if (best != null) {
                return best;
            }
        }
        return null;
    }

    static List<String> distinct(List<Row> rows, String benchmark, String param) {
        return rows.stream().filter(r -> r.benchmark().equals(benchmark) && r.params().containsKey(param))
                .map(r -> r.param(param)).distinct().sorted(Comparator.comparingDouble(Double::parseDouble))
                .collect(Collectors.toList());
    }

    static List<String> distinctGc(List<Row> rows, String benchmark) {
        return rows.stream().filter(r -> r.benchmark().equals(benchmark)).map(Row::gc).distinct().sorted()
                .collect(Collectors.toList());
    }

    static String pct(double share) {
        return String.format(Locale.ROOT, share < 0.1 ? "%.1f%%" : "%.0f%%", share * 100);
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

    // ------------------------------------------------------------------ command line

    public static void main(String[] args) throws IOException {
        Path md = null;
        String header = "";
        List<Row> rows = new ArrayList<>();
        List<String> versions = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if ("--md".equals(args[i]) && i + 1 < args.length) {
                md = Path.of(args[++i]);
            } else if ("--header".equals(args[i]) && i + 1 < args.length) {
                header = args[++i];
            } else if (args[i].startsWith("-")) {
                System.err.println("usage: BenchReport [--md OUT] [--header TEXT] FILE[=LABEL]...");
                System.exit(2);
            } else {
                String a = args[i];
                int eq = a.lastIndexOf('=');
                Path file = Path.of(eq > 0 ? a.substring(0, eq) : a);
                String label = eq > 0 ? a.substring(eq + 1) : null;
                if (label == null || !versions.contains(label)) {   // several files may share a label
                    versions.add(label);
                }
                rows.addAll(read(file, label == null ? "\0" + versions.size() : label));
            }
        }
        if (versions.isEmpty()) {
            System.err.println("usage: BenchReport [--md OUT] [--header TEXT] FILE[=LABEL]...");
            System.exit(2);
        }
        // default labels: one file -> none; several -> after, before, then the index
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < versions.size(); i++) {
            String l = versions.get(i);
            labels.add(l != null ? l : versions.size() == 1 ? "" : i == 0 ? "after" : i == 1 ? "before" : "v" + (i + 1));
        }
        List<Row> relabelled = new ArrayList<>();
        for (Row r : rows) {
            String v = r.version();
            if (v.startsWith("\0")) {
                v = labels.get(Integer.parseInt(v.substring(1)) - 1);
            }
            relabelled.add(new Row(v, r.benchmark(), r.method(), r.params(), r.gc(), r.mean(), r.error(), r.median(),
                    r.min(), r.max(), r.samples(), r.unit(), r.bytesPerOp(), r.gcShare(), r.higherIsBetter()));
        }
        String report = markdown(relabelled, labels, header);
        if (md != null) {
            Files.writeString(md, report, StandardCharsets.UTF_8);
            System.out.println("Markdown report: " + md);
        } else {
            System.out.print(report);
        }
    }

    private BenchReport() {
    }
}
