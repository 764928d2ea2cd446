package dev.nettysync.bench.jmh;

import dev.nettysync.AsyncSemaphore;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.NoBenchmarksException;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.List;

/**
 * Main class of {@code benchmarks.jar}: runs JMH with the usual command line and, in addition,
 * writes the JSON result and a Markdown report made from it by {@link BenchReport}: one table
 * per benchmark with the peers side by side (median, mean, B/op, GC share) and their ratio to
 * netty-sync, then the goals computed from the same results.
 *
 * <pre>
 * java -jar bench/target/benchmarks.jar [--json FILE] [--md FILE] [JMH options and regexps]
 * </pre>
 * Without {@code --json}/{@code --md} it is plain JMH ({@code -h} for JMH's help). With
 * {@code --md} alone the JSON goes next to it ({@code FILE.json}). {@code --library} prints the
 * jar the library's classes are loaded from and exits (a before/after run puts another build of
 * the library first on the class path and checks it with this). A bad JMH option or a regexp that
 * matches no benchmark is one line on stderr and exit status 1, as with plain JMH.
 */
public final class BenchSuite {

    public static void main(String[] args) throws Exception {
        int status = run(args, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** {@link #main} without the exit: 0, or 1 after one line on {@code err} for a bad command line. */
    static int run(String[] args, PrintStream err) throws Exception {
        Path json = null;
        Path md = null;
        List<String> jmhArgs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if ("--library".equals(args[i])) {          // which build of netty-sync this class path runs
                System.out.println(librarySource());
                return 0;
            } else if ("--json".equals(args[i]) && i + 1 < args.length) {
                json = Path.of(args[++i]);
            } else if ("--md".equals(args[i]) && i + 1 < args.length) {
                md = Path.of(args[++i]);
            } else {
                jmhArgs.add(args[i]);
            }
        }
        if (json == null && md == null) {
            org.openjdk.jmh.Main.main(jmhArgs.toArray(new String[0]));
            return 0;
        }
        if (json == null) {
            json = Path.of(md + ".json");
        }
        try {
            CommandLineOptions cmd = new CommandLineOptions(jmhArgs.toArray(new String[0]));
            if (cmd.shouldHelp() || cmd.shouldList() || cmd.shouldListWithParams() || cmd.shouldListProfilers()
                    || cmd.shouldListResultFormats()) {
                // -h, -l, -lp, -lprof, -lrf: JMH answers and runs nothing (the Runner would run the suite)
                org.openjdk.jmh.Main.main(jmhArgs.toArray(new String[0]));
                return 0;
            }
            new Runner(new OptionsBuilder().parent(cmd).result(json.toString()).resultFormat(ResultFormatType.JSON).build()).run();
        } catch (CommandLineOptionException e) {
            err.println("Error parsing command line: " + e.getMessage());
            return 1;
        } catch (NoBenchmarksException e) {
            err.println("No matching benchmarks. Miss-spelled regexp? (JMH arguments: " + String.join(" ", jmhArgs) + ")");
            return 1;
        }
        System.out.println("JSON results: " + json);
        if (md != null) {
            String header = "JMH arguments: `" + (jmhArgs.isEmpty() ? "(defaults)" : String.join(" ", jmhArgs)) + "`  \n"
                    + "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + "), "
                    + Runtime.getRuntime().availableProcessors() + " CPUs, " + System.getProperty("os.name") + " "
                    + System.getProperty("os.arch") + "  \nnetty-sync classes loaded from: `" + librarySource() + "`";
            Files.writeString(md, BenchReport.markdown(BenchReport.read(json, ""), List.of(""), header), StandardCharsets.UTF_8);
            System.out.println("Markdown report: " + md);
        }
        return 0;
    }

    /** Where the library's classes come from (a before/after run puts another build first on the class path). */
    static String librarySource() {
        CodeSource cs = AsyncSemaphore.class.getProtectionDomain().getCodeSource();
        return cs == null || cs.getLocation() == null ? "unknown" : Path.of(cs.getLocation().getPath()).getFileName().toString();
    }

    private BenchSuite() {
    }
}
