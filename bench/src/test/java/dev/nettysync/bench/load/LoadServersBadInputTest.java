package dev.nettysync.bench.load;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The load tools' servers answer bad input with a 4xx and close, and honour
 * {@code Connection: close}, so that a load run never hangs on one connection: a raw client on
 * 127.0.0.1 (the JDK's client would not send a malformed request).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LoadServersBadInputTest {

    /** A request Netty's decoder refuses: a Content-Length that is not a number. */
    static final String MALFORMED = "GET /items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n";

    /** Everything the server sends until it closes, or what came within 5 s if it does not. */
    static Exchange exchange(int port, String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    got.write(buf, 0, n);
                }
                return new Exchange(got.toString(StandardCharsets.ISO_8859_1), true);
            } catch (SocketTimeoutException stillOpen) {
                return new Exchange(got.toString(StandardCharsets.ISO_8859_1), false);
            }
        }
    }

    record Exchange(String response, boolean closedByServer) {
    }

    @Test
    void helloServerAnswersAMalformedRequest400AndCloses() throws Exception {
        // It answered 200 keep-alive, then the decoder discarded everything that followed: the
        // connection hung, every later request on it unanswered.
        HelloServer hello = new HelloServer();
        new CommandLine(hello).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--port", "0", "--io-threads", "1");
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, hello.transport.ioHandlerFactory());
        try {
            Channel ch = hello.bind(group, hello.upstream());
            int port = ((InetSocketAddress) ch.localAddress()).getPort();
            Exchange e = exchange(port, MALFORMED + "GET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(e.response()).startsWith("HTTP/1.1 400 Bad Request");
            assertThat(e.response().split("HTTP/1\\.1 ", -1)).as("one answer").hasSize(2);
            assertThat(e.closedByServer()).as("closed after the 400").isTrue();
            assertThat(exchange(port, "GET /items/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").response())
                    .as("still serving").startsWith("HTTP/1.1 200 OK");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void helloServerInUpstreamModeAnswersAMalformedRequest400AndCloses() throws Exception {
        HelloServer hello = new HelloServer();
        new CommandLine(hello).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--port", "0", "--io-threads", "1",
                "--delay-ms", "5", "--capacity", "1");
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, hello.transport.ioHandlerFactory());
        try {
            HelloServer.SlowUpstream upstream = hello.upstream();
            Channel ch = hello.bind(group, upstream);
            int port = ((InetSocketAddress) ch.localAddress()).getPort();
            Exchange e = exchange(port, MALFORMED);
            assertThat(e.response()).startsWith("HTTP/1.1 400 Bad Request");
            assertThat(e.closedByServer()).as("closed after the 400").isTrue();
            synchronized (upstream) {
                assertThat(upstream.busy).as("no upstream slot taken by the bad request").isZero();
            }
            assertThat(exchange(port, "GET /items/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").response())
                    .as("still serving").startsWith("HTTP/1.1 200 OK");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void peakUpstreamAnswersAMalformedRequest400AndClosesWithoutCountingIt() throws Exception {
        // It served a malformed request as an item request (counted, answered 200 after the delay,
        // keep-alive), then the decoder discarded everything that followed.
        PeakUpstream up = new PeakUpstream();
        new CommandLine(up).parseArgs("--port=0", "--delay-ms=1");
        up.start();
        try {
            Exchange e = exchange(up.port(), MALFORMED);
            assertThat(e.response()).startsWith("HTTP/1.1 400 Bad Request");
            assertThat(e.closedByServer()).as("closed after the 400").isTrue();
            assertThat(up.total.get()).as("not counted as an item request").isZero();
            assertThat(exchange(up.port(), "GET /peak HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").response())
                    .as("still serving").startsWith("HTTP/1.1 200 OK");
        } finally {
            up.stop();
        }
    }

    @Test
    void peakUpstreamClosesAfterAnsweringConnectionClose() throws Exception {
        // It answered "Connection: close" and kept the connection open: a client that reads to
        // the end of the stream (HTTP/1.0 style) waited for ever.
        PeakUpstream up = new PeakUpstream();
        new CommandLine(up).parseArgs("--port=0", "--delay-ms=1");
        up.start();
        try {
            Exchange item = exchange(up.port(), "GET /items/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertThat(item.response()).startsWith("HTTP/1.1 200 OK").containsIgnoringCase("connection: close");
            assertThat(item.closedByServer()).as("closed after the answer").isTrue();
            Exchange peak = exchange(up.port(), "GET /peak HTTP/1.0\r\n\r\n");
            assertThat(peak.response()).startsWith("HTTP/1.1 200 OK");
            assertThat(peak.closedByServer()).as("HTTP/1.0 without keep-alive: closed after the answer").isTrue();
        } finally {
            up.stop();
        }
    }
}
