package dev.nettysync.bench.load;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** OpenLoopTimeline against HelloServer on 127.0.0.1, briefly, and TimelinePlot on its CSV. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class OpenLoopTimelineTest {

    @Test
    void reportsEverySecondAndThePlotDrawsIt(@TempDir Path dir) throws Exception {
        HelloServer hello = new HelloServer();
        new CommandLine(hello).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--port", "0", "--io-threads", "1");
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, hello.transport.ioHandlerFactory());
        Path csv = dir.resolve("t.csv");
        try {
            Channel ch = hello.bind(group, hello.upstream());
            int port = ((InetSocketAddress) ch.localAddress()).getPort();
            int code = new CommandLine(new OpenLoopTimeline()).setCaseInsensitiveEnumValuesAllowed(true).execute(
                    "--url", "http://127.0.0.1:" + port + "/api/items/1", "--rate", "200", "--duration", "2",
                    "--connections", "8", "--label", "hello", "--group", "g1", "--csv", csv.toString());
            assertThat(code).isZero();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        List<String> lines = Files.readAllLines(csv);
        assertThat(lines.get(0)).isEqualTo(OpenLoopTimeline.CSV_HEADER);
        List<String[]> rows = lines.subList(1, lines.size()).stream().map(l -> l.split(",")).toList();
        // One row per second of load, then one per second of drain while answers are still
        // outstanding, up to the 10 s drain timeout: 2 or 3 on a quiet machine, more on a loaded
        // one (a run at load average 15 answered in ~2 s and wrote 7).
        assertThat(rows).as("one row per second of load, plus the drain").hasSizeBetween(2, 2 + 10 + 1);
        assertThat(rows).allSatisfy(r -> assertThat(r[0] + "," + r[1] + "," + r[2]).isEqualTo("hello,g1,200"));
        double ok = rows.stream().mapToDouble(r -> Double.parseDouble(r[4])).sum();
        assertThat(ok).as("about 400 answers in 2 s").isBetween(380.0, 420.0);

        Path png = dir.resolve("t.png");
        int code = new CommandLine(new TimelinePlot()).execute("--marker", "1=half", "--out", png.toString(), csv.toString());
        assertThat(code).isZero();
        assertThat(Files.size(png)).isPositive();
    }

    @Test
    void refusesNonLoopbackTargets() {
        java.io.StringWriter err = new java.io.StringWriter();
        CommandLine cl = new CommandLine(new OpenLoopTimeline()).setCaseInsensitiveEnumValuesAllowed(true);
        cl.setErr(new java.io.PrintWriter(err));
        int code = cl.execute("--url", "http://192.0.2.1:80/", "--rate", "1");
        assertThat(code).isNotZero();
        assertThat(err.toString()).contains("refusing non-loopback target 192.0.2.1");
    }

    @Test
    void sharesTheGeneratorOptionsButKeepsItsOwnDefaults() {
        OpenLoopTimeline timeline = new OpenLoopTimeline();
        new CommandLine(timeline).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--rate", "1");
        OpenLoopClient client = new OpenLoopClient();
        new CommandLine(client).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--rates", "1");
        assertThat(timeline.generator.connections).isEqualTo(1024);
        assertThat(client.generator.connections).isEqualTo(256);

        OpenLoopTimeline set = new OpenLoopTimeline();
        new CommandLine(set).setCaseInsensitiveEnumValuesAllowed(true)
                .parseArgs("--rate", "1", "--connections", "8", "--max-backlog", "5");
        assertThat(set.generator.connections).isEqualTo(8);
        assertThat(set.generator.maxBacklog).isEqualTo(5);
    }
}
