package dev.nettysync.bench.load;

import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Draws {@link OpenLoopTimeline} CSV files over time: one chart per group (e.g. offered load),
 * stacked in one PNG; in each, goodput (2xx/s) above and the 2xx p50 (solid) and p99 (dashed)
 * latencies (log scale) below, one colour per label (e.g. limit config), and vertical markers
 * for events (e.g. the backend's capacity changing). Headless.
 *
 * <p>Run: {@code java -cp bench/target/benchmarks.jar dev.nettysync.bench.load.TimelinePlot
 * --out timeline.png --marker "20=capacity halved" --marker "40=capacity restored" timeline.csv}
 */
@Command(name = "timeline-plot", mixinStandardHelpOptions = true,
        description = "Plot goodput and latency over time (PNG) from open-loop timeline CSV files.")
public final class TimelinePlot implements Callable<Integer> {

    @Parameters(arity = "1..*", description = "CSV files written by OpenLoopTimeline --csv.")
    List<Path> inputs;

    @Option(names = "--out", required = true, description = "PNG file to write.")
    Path out;

    @Option(names = "--title", defaultValue = "goodput and latency over time (open loop)")
    String title;

    @Option(names = "--marker", description = "A vertical line at T seconds with a text: T=TEXT (repeatable).")
    List<String> markers;

    @Option(names = "--width", defaultValue = "1100") int width;
    @Option(names = "--height", defaultValue = "520", description = "Height of one group's chart.") int height;

    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
            new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b)};

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(new CommandLine(new TimelinePlot()).execute(args));
    }

    /** label -> series, per group, in the order first seen. */
    private final Map<String, Map<String, XYSeries[]>> groups = new LinkedHashMap<>();

    @Override
    public Integer call() throws IOException {
        for (Path in : inputs) {
            read(in);
        }
        if (groups.isEmpty()) {
            throw new IllegalArgumentException("no rows in " + inputs);
        }
        BufferedImage all = new BufferedImage(width, height * groups.size(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = all.createGraphics();
        int row = 0;
        for (Map.Entry<String, Map<String, XYSeries[]>> e : groups.entrySet()) {
            String name = e.getKey().isEmpty() ? title : title + " — " + e.getKey();
            JFreeChart chart = chart(name, e.getValue());
            g.drawImage(chart.createBufferedImage(width, height), 0, row++ * height, null);
        }
        g.dispose();
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        ImageIO.write(all, "png", out.toFile());
        System.out.println("plot written to " + out);
        return 0;
    }

    private void read(Path in) throws IOException {
        List<String> lines = Files.readAllLines(in, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            return;
        }
        List<String> header = Arrays.asList(lines.get(0).split(",", -1));
        int label = column(header, "label", in);
        int group = column(header, "group", in);
        int t = column(header, "t_s", in);
        int ok = column(header, "ok_rps", in);
        int p50 = column(header, "ok_p50_ms", in);
        int p99 = column(header, "ok_p99_ms", in);
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            XYSeries[] s = groups.computeIfAbsent(f[group], k -> new LinkedHashMap<>())
                    .computeIfAbsent(f[label], k -> new XYSeries[] {
                            new XYSeries(k + " goodput"), new XYSeries(k + " p50"), new XYSeries(k + " p99")});
            double x = Double.parseDouble(f[t]);
            s[0].add(x, Double.parseDouble(f[ok]));
            addLatency(s[1], x, f[p50]);
            addLatency(s[2], x, f[p99]);
        }
    }

    private static void addLatency(XYSeries s, double x, String v) {
        double ms = Double.parseDouble(v);
        if (!Double.isNaN(ms)) {
            s.add(x, Math.max(ms, 0.01));
        }
    }

    private static int column(List<String> header, String name, Path in) {
        int c = header.indexOf(name);
        if (c < 0) {
            throw new IllegalArgumentException(in + " is not an OpenLoopTimeline CSV (no column " + name + ")");
        }
        return c;
    }

    private JFreeChart chart(String name, Map<String, XYSeries[]> byLabel) {
        XYSeriesCollection goodput = new XYSeriesCollection();
        XYSeriesCollection latency = new XYSeriesCollection();
        XYLineAndShapeRenderer gr = new XYLineAndShapeRenderer(true, false);
        XYLineAndShapeRenderer lr = new XYLineAndShapeRenderer(true, false);
        BasicStroke solid = new BasicStroke(2f);
        BasicStroke dashed = new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f);
        int i = 0;
        for (XYSeries[] s : byLabel.values()) {
            Color c = PALETTE[i % PALETTE.length];
            goodput.addSeries(s[0]);
            gr.setSeriesPaint(i, c);
            gr.setSeriesStroke(i, solid);
            latency.addSeries(s[1]);
            latency.addSeries(s[2]);
            lr.setSeriesPaint(2 * i, c);
            lr.setSeriesStroke(2 * i, solid);
            lr.setSeriesPaint(2 * i + 1, c);
            lr.setSeriesStroke(2 * i + 1, dashed);
            i++;
        }
        XYPlot top = new XYPlot(goodput, null, new NumberAxis("goodput (2xx/s)"), gr);
        LogAxis y = new LogAxis("2xx latency ms (p50 solid, p99 dashed; log)");
        y.setSmallestValue(0.01);
        y.setNumberFormatOverride(new DecimalFormat("#,##0.###"));
        y.setTickUnit(new NumberTickUnit(1.0));
        y.setMinorTickCount(9);
        XYPlot bottom = new XYPlot(latency, null, y, lr);
        CombinedDomainXYPlot plot = new CombinedDomainXYPlot(new NumberAxis("time (s)"));
        plot.setGap(8);
        for (XYPlot p : List.of(top, bottom)) {
            p.setBackgroundPaint(Color.WHITE);
            p.setDomainGridlinePaint(Color.LIGHT_GRAY);
            p.setRangeGridlinePaint(Color.LIGHT_GRAY);
            for (String m : markers == null ? List.<String>of() : markers) {
                int eq = m.indexOf('=');
                if (eq < 0) {
                    throw new IllegalArgumentException("--marker must be T=TEXT, was " + m);
                }
                ValueMarker vm = new ValueMarker(Double.parseDouble(m.substring(0, eq)), Color.GRAY, new BasicStroke(1.5f));
                if (p == top) {
                    vm.setLabel(m.substring(eq + 1));
                    vm.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
                    vm.setLabelTextAnchor(TextAnchor.TOP_LEFT);
                }
                p.addDomainMarker(vm);
            }
            plot.add(p, 1);
        }
        JFreeChart chart = new JFreeChart(name, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        return chart;
    }
}
