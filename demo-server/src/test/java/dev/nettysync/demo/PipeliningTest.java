package dev.nettysync.demo;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * HTTP/1.1 pipelining over a raw socket: N requests in one write, every one answered, in order,
 * and the connection still serves afterwards. Past the handler's read-ahead (16) it stops reading
 * (back-pressure) instead of dropping the connection.
 */
class PipeliningTest {

    private static GatewayServer server;

    @BeforeAll
    static void startServer() {
        server = start("--backend-latency=5ms");
    }

    @AfterAll
    static void stopServer() {
        stop(server);
    }

    @ParameterizedTest(name = "{0} requests in one write")
    @ValueSource(ints = {3, 16, 17, 18, 64, 100})
    void everyPipelinedRequestIsAnsweredInOrder(int n) throws Exception {
        StringBuilder all = new StringBuilder();
        for (int i = 0; i < n; i++) {
            all.append(i % 5 == 4 ? "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
                    : "GET /api/items/p" + i + " HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        try (RawClient c = new RawClient(server)) {
            c.send(all.toString());
            for (int i = 0; i < n; i++) {
                String r;
                try {
                    r = c.readResponse();
                } catch (java.io.IOException e) {
                    throw new AssertionError("response " + (i + 1) + " / " + n + ": " + e.getMessage(), e);
                }
                assertThat(status(r)).as("response %d / %d", i + 1, n).isEqualTo(200);
                if (i % 5 == 4) {
                    assertThat(r).as("response %d / %d", i + 1, n).endsWith("live\n");
                } else {
                    assertThat(r).as("response %d / %d", i + 1, n).contains("\"id\":\"p" + i + "\"");
                }
            }
            String after = c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
            assertThat(status(after)).as("the connection still serves").isEqualTo(200);
        }
    }

    /**
     * Far more requests than the bound in one write: either back-pressure carries them all, or
     * (when one socket read brings more than the bound) every request up to it is answered in
     * order, then one 503 with {@code Connection: close}, then a clean end of stream: never
     * silence, never a reset that swallows answers.
     */
    @Test
    void farBeyondTheBoundEveryAnswerArrivesThenA503AndACleanClose() throws Exception {
        int n = 3000;
        StringBuilder all = new StringBuilder();
        for (int i = 0; i < n; i++) {
            all.append("GET /api/items/q").append(i).append(" HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        try (RawClient c = new RawClient(server)) {
            c.send(all.toString());
            int answered = 0;
            while (answered < n) {
                String r = c.readResponse();
                if (status(r) == 503) {
                    assertThat(r).containsIgnoringCase("connection: close").contains("pipelined requests");
                    assertThat(answered).as("answered before the 503").isGreaterThan(GatewayHandler.DEFAULT_MAX_PIPELINED);
                    assertThat(c.socket.getInputStream().read()).as("nothing after the 503, then a clean end of stream")
                            .isEqualTo(-1);
                    return;
                }
                assertThat(r).as("response %d / %d", answered + 1, n).contains("\"id\":\"q" + answered + "\"");
                answered++;
            }
        }
    }
}
