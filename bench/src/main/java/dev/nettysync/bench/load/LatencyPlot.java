package dev.nettysync.bench.load;

import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.text.DecimalFormat;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Draws latency percentiles against offered load from {@link OpenLoopClient} CSV files: one line
 * per (label, percentile), log-scaled latency, one PNG. Headless (no display needed).
 *
 * <p>Run: {@code java -Djava.awt.headless=true -cp bench/target/benchmarks.jar
 * dev.nettysync.bench.load.LatencyPlot --out latency.png results.csv}
 */
@Command(name = "latency-plot", mixinStandardHelpOptions = true,
        description = "Plot latency percentiles vs offered load (PNG) from open-loop CSV files.")
public final class LatencyPlot implements Callable<Integer> {

    @Parameters(arity = "1..*", description = "CSV files written by OpenLoopClient --csv.")
    List<Path> inputs;

    @Option(names = "--out", required = true, description = "PNG file to write.")
    Path out;

    @Option(names = "--percentiles", split = ",", defaultValue = "p50_ms,p99_ms,p999_ms",
            description = "CSV columns to draw (default ${DEFAULT-VALUE}).")
    List<String> columns;

    @Option(names = "--title", defaultValue = "demo-server: latency vs offered load (open loop, from intended send time)")
    String title;

    @Option(names = "--capacity", description = "Draw a vertical line at this offered load (e.g. N/L).")
    Double capacity;

    @Option(names = "--linear-x", description = "Linear offered-load axis (default: log).")
    boolean linearX;

    @Option(names = "--width", defaultValue = "1100") int width;
    @Option(names = "--height", defaultValue = "650") int height;

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(new CommandLine(new LatencyPlot()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        Map<String, XYSeries> series = new LinkedHashMap<>();
        for (Path in : inputs) {
            List<String> lines = Files.readAllLines(in, StandardCharsets.UTF_8);
            if (lines.isEmpty()) {
                continue;
            }
            List<String> header = Arrays.asList(lines.get(0).split(","));
            int labelCol = header.indexOf("label");
            int rateCol = header.indexOf("offered_rps");
            if (labelCol < 0 || rateCol < 0) {
                throw new IllegalArgumentException(in + " is not an OpenLoopClient CSV (no label/offered_rps)");
            }
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.split(",");
                for (String col : columns) {
                    int c = header.indexOf(col);
                    if (c < 0) {
                        throw new IllegalArgumentException("no column " + col + " in " + in);
                    }
                    double v = Double.parseDouble(f[c]);
                    if (Double.isNaN(v)) {
                        continue;
                    }
                    String key = f[labelCol] + " " + col.replace("_ms", "").replace("p999", "p99.9");
                    series.computeIfAbsent(key, XYSeries::new)
                            .add(Double.parseDouble(f[rateCol]), Math.max(v, 0.001));
                }
            }
        }
        XYSeriesCollection data = new XYSeriesCollection();
        series.values().forEach(data::addSeries);
        org.jfree.chart.axis.ValueAxis x;
        if (linearX) {
            x = new NumberAxis("offered load (requests/s)");
        } else {
            LogAxis lx = new LogAxis("offered load (requests/s, log scale)");
            lx.setNumberFormatOverride(new DecimalFormat("#,##0"));
            lx.setMinorTickCount(9);
            x = lx;
        }
        LogAxis y = new LogAxis("latency (ms, log scale)");
        y.setSmallestValue(0.01);
        y.setNumberFormatOverride(new DecimalFormat("#,##0.###"));
        y.setTickUnit(new NumberTickUnit(1.0));    // one label per decade
        y.setMinorTickCount(9);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        Color[] palette = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
                new Color(0x9467bd), new Color(0x8c564b)};
        List<String> labels = series.keySet().stream().map(k -> k.substring(0, k.lastIndexOf(' '))).distinct().toList();
        int i = 0;
        for (String key : series.keySet()) {
            String label = key.substring(0, key.lastIndexOf(' '));
            String pct = key.substring(key.lastIndexOf(' ') + 1);
            renderer.setSeriesPaint(i, palette[labels.indexOf(label) % palette.length]);
            float[] dash = pct.equals("p50") ? null : pct.equals("p99") ? new float[] {6f, 4f} : new float[] {2f, 3f};
            renderer.setSeriesStroke(i, dash == null ? new BasicStroke(2f)
                    : new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, dash, 0f));
            i++;
        }
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        if (capacity != null) {
            ValueMarker m = new ValueMarker(capacity, Color.GRAY, new BasicStroke(1.5f));
            m.setLabel("N/L = " + new DecimalFormat("#,##0").format(capacity) + "/s");
            m.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
            m.setLabelTextAnchor(TextAnchor.TOP_LEFT);
            plot.addDomainMarker(m);
        }
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        ChartUtils.saveChartAsPNG(out.toFile(), chart, width, height);
        System.out.println("plot written to " + out);
        return 0;
    }
}
