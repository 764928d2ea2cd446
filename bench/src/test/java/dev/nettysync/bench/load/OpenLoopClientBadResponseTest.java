package dev.nettysync.bench.load;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The load generator against a server whose first answer is malformed (a raw server on
 * 127.0.0.1, since no HTTP library sends one): that answer is an error and costs the generator
 * one connection, not the rest of the run.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class OpenLoopClientBadResponseTest {

    static final String OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static final String MALFORMED = "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";

    @Test
    void aMalformedResponseIsAnErrorAndItsConnectionIsReplaced() throws Exception {
        // It was recorded as an answer (status 999, "other") and the connection kept: its decoder
        // then discarded everything, so every later request on it waited until the end of the run.
        AtomicBoolean first = new AtomicBoolean(true);
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        Thread t = new Thread(() -> serve(s, first), "bad-response-conn");
                        t.setDaemon(true);
                        t.start();
                    } catch (IOException closed) {
                        return;
                    }
                }
            }, "bad-response-accept");
            acceptor.setDaemon(true);
            acceptor.start();

            OpenLoopClient c = new OpenLoopClient();
            new CommandLine(c).setCaseInsensitiveEnumValuesAllowed(true).parseArgs(
                    "--url", "http://127.0.0.1:" + server.getLocalPort() + "/x", "--rates", "50",
                    "--duration", "1", "--warmup", "0", "--connections", "1", "--threads", "1",
                    "--drain-timeout", "3");
            OpenLoopClient.Summary s = c.runOnce(50);

            assertThat(s.errors).as("the malformed answer is an error").isEqualTo(1);
            assertThat(s.other.getTotalCount()).as("not an answer").isZero();
            assertThat(s.unfinished).as("no request left waiting on the dead connection").isZero();
            assertThat(s.ok.getTotalCount()).as("the rest served on a new connection").isGreaterThanOrEqualTo(45);
        }
    }

    /** Answers each request (headers up to a blank line; no bodies) of one connection. */
    private static void serve(Socket s, AtomicBoolean first) {
        try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
            OutputStream out = s.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isEmpty()) {
                    out.write((first.getAndSet(false) ? MALFORMED : OK).getBytes(StandardCharsets.ISO_8859_1));
                    out.flush();
                }
            }
        } catch (IOException closed) {
            // the client went away
        }
    }
}
