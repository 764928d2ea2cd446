package dev.nettysync.bench.load;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The load tools against each other on 127.0.0.1, briefly: counts add up, latencies make sense. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LoadToolsSmokeTest {

    private static OpenLoopClient client(int port, String path) {
        OpenLoopClient c = new OpenLoopClient();
        new CommandLine(c).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--url", "http://127.0.0.1:" + port + path, "--rates", "200",
                "--duration", "1", "--warmup", "0.3", "--connections", "8", "--drain-timeout", "5");
        return c;
    }

    private static HelloServer server(String... args) {
        HelloServer s = new HelloServer();
        new CommandLine(s).setCaseInsensitiveEnumValuesAllowed(true).parseArgs(args);
        return s;
    }

    @Test
    void openLoopClientAgainstHelloServer() throws Exception {
        HelloServer hello = server("--port", "0", "--io-threads", "1");
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, hello.transport.ioHandlerFactory());
        try {
            Channel ch = hello.bind(group, hello.upstream());
            int port = ((InetSocketAddress) ch.localAddress()).getPort();
            OpenLoopClient.Summary s = client(port, "/api/items/1").runOnce(200);
            assertThat(s.ok.getTotalCount()).as("about 200 requests due in the 1 s window").isBetween(190L, 210L);
            assertThat(s.errors + s.unfinished + s.dropped + s.s503.getTotalCount() + s.other.getTotalCount()).isZero();
            assertThat(s.csvRow()).startsWith("run,200,");
            assertThat(s.csvRow().split(",")).as("one value per CSV column")
                    .hasSameSizeAs(OpenLoopClient.CSV_HEADER.split(","));
            assertThat(s.genLag.getTotalCount()).as("the generator's lag is recorded for every due request")
                    .isEqualTo(s.ok.getTotalCount());
            assertThat(s.describe()).contains("generator lag at the same percentile");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void upstreamModeTakesItsDelay() throws Exception {
        HelloServer upstream = server("--port", "0", "--io-threads", "1", "--delay-ms", "20", "--capacity", "4");
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, upstream.transport.ioHandlerFactory());
        try {
            Channel ch = upstream.bind(group, upstream.upstream());
            int port = ((InetSocketAddress) ch.localAddress()).getPort();
            OpenLoopClient.Summary s = client(port, "/items/1").runOnce(50);   // capacity 200/s: not saturated
            assertThat(s.ok.getTotalCount()).isBetween(45L, 55L);
            assertThat(s.ok.getValueAtPercentile(50)).as("p50 µs").isGreaterThanOrEqualTo(19_000L);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void refusesNonLoopbackTargets() {
        OpenLoopClient c = new OpenLoopClient();
        int code = new CommandLine(c).setCaseInsensitiveEnumValuesAllowed(true).execute("--url", "http://192.0.2.1:80/", "--rates", "1");
        assertThat(code).isNotZero();
    }

    @Test
    void plotsACsv(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path csv = dir.resolve("r.csv");
        Files.write(csv, List.of(OpenLoopClient.CSV_HEADER,
                "limited,100,1.0,100.0,100.0,100,0,0,0,0,0,1.0,2.0,3.0,4.0,5.0,3.0,NaN,NaN,NaN,0.1",
                "limited,200,1.0,200.0,200.0,200,0,0,0,0,0,1.5,2.5,3.5,4.5,5.5,3.5,NaN,NaN,NaN,0.1"));
        Path png = dir.resolve("p.png");
        int code = new CommandLine(new LatencyPlot()).execute("--capacity", "150", "--out", png.toString(), csv.toString());
        assertThat(code).isZero();
        assertThat(Files.size(png)).isPositive();
    }
}
