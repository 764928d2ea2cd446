package dev.nettysync.bench.load;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@link OpenLoopClient}'s generator run once at a constant rate for a long run, reporting every
 * interval instead of once: goodput (2xx completed per second), 503s, errors and the 2xx latency
 * percentiles of the requests that completed in that interval, measured from their intended
 * send time. For watching a server adapt over time (the adaptive-limit experiment,
 * {@code bench/scripts/adaptive.sh}); {@link TimelinePlot} draws the CSV.
 *
 * <p>Same generator, same rules and options as {@code OpenLoopClient} ({@link OpenLoopGenerator}
 * and its {@code Worker}s: intended-time schedule, client-side backlog, loopback only); the only
 * difference is that the histograms and counters are taken and reset on each worker's loop at
 * every interval boundary.
 *
 * <p>Run: {@code java -cp bench/target/benchmarks.jar dev.nettysync.bench.load.OpenLoopTimeline
 * --url http://127.0.0.1:8080/api/items/1 --rate 2000 --duration 60 --label adaptive --csv t.csv}
 */
@Command(name = "open-loop-timeline", mixinStandardHelpOptions = true,
        description = "Constant-rate open-loop HTTP load, reported per interval (CSV).")
public final class OpenLoopTimeline implements Callable<Integer> {

    static final String CSV_HEADER = "label,group,offered_rps,t_s,ok_rps,s503_rps,other_rps,errors,"
            + "ok_p50_ms,ok_p99_ms,s503_p99_ms,gen_lag_p99_ms";

    @Mixin
    OpenLoopGenerator generator = new OpenLoopGenerator(1024);   // --url, --connections, --threads, ...

    @Option(names = "--rate", required = true, description = "Offered requests per second.")
    int rate;

    @Option(names = "--duration", defaultValue = "60", description = "Seconds of load (default ${DEFAULT-VALUE}).")
    double durationSeconds;

    @Option(names = "--interval", defaultValue = "1", description = "Seconds per reported row (default ${DEFAULT-VALUE}).")
    double intervalSeconds;

    @Option(names = "--label", defaultValue = "run", description = "Series label (e.g. the server's limit config).")
    String label;

    @Option(names = "--group", defaultValue = "", description = "Chart group (e.g. the offered-load factor).")
    String group;

    @Option(names = "--csv", description = "Append one row per interval to this CSV file (header written if new).")
    Path csv;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;   // injected by picocli: errors go to the caller's CommandLine

    public static void main(String[] args) {
        System.exit(new CommandLine(new OpenLoopTimeline()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        generator.check();
        if (rate <= 0 || durationSeconds <= 0 || durationSeconds > 3600 || intervalSeconds < 0.1) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "need --rate > 0, --duration in (0, 3600] and --interval >= 0.1");
        }
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(generator.threads, generator.transport.ioHandlerFactory());
        List<String> rows = new ArrayList<>();
        try {
            List<OpenLoopClient.Worker> workers = generator.connectWorkers(loops, rate);
            long durationNanos = (long) (durationSeconds * 1e9);
            long intervalNanos = (long) (intervalSeconds * 1e9);
            long t0 = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
            long end = t0 + durationNanos;
            for (OpenLoopClient.Worker w : workers) {
                w.loop.execute(() -> w.start(t0, t0, end));   // sends until `end`, records every request due before it
            }
            // Intervals by completion time, up to the end of the load and its drain.
            long drainDeadline = end + (long) (generator.drainSeconds * 1e9);
            for (long k = 1; ; k++) {
                long boundary = t0 + k * intervalNanos;
                OpenLoopGenerator.sleepUntil(boundary);
                Interval iv = take(workers);
                double secs = intervalNanos / 1e9;
                String row = iv.csvRow(label, group, rate, k * intervalSeconds, secs);
                rows.add(row);
                System.out.println(row);
                if (boundary >= end && (iv.outstanding == 0 || boundary >= drainDeadline)) {
                    break;
                }
            }
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        if (csv != null) {
            OpenLoopGenerator.appendCsv(csv, CSV_HEADER, rows);
        }
        return 0;
    }

    /** What the workers completed since the last call, taken and reset on each worker's loop. */
    private static Interval take(List<OpenLoopClient.Worker> workers) throws InterruptedException {
        Interval iv = new Interval();
        for (OpenLoopClient.Worker w : workers) {
            w.loop.submit(() -> {
                iv.add(w);
                iv.errors += w.errors;
                iv.outstanding += w.outstanding();
                w.reset();
                w.errors = 0;
                return null;
            }).sync();
        }
        return iv;
    }

    private static final class Interval extends OpenLoopClient.Latencies {
        long errors;
        long outstanding;

        String csvRow(String label, String group, int rate, double t, double secs) {
            return String.format(Locale.ROOT, "%s,%s,%d,%.1f,%.1f,%.1f,%.1f,%d,%.3f,%.3f,%.3f,%.3f",
                    label, group, rate, t, ok.getTotalCount() / secs, s503.getTotalCount() / secs,
                    other.getTotalCount() / secs, errors, OpenLoopClient.Summary.ms(ok, 50),
                    OpenLoopClient.Summary.ms(ok, 99), OpenLoopClient.Summary.ms(s503, 99),
                    OpenLoopClient.Summary.ms(genLag, 99));
        }
    }
}
