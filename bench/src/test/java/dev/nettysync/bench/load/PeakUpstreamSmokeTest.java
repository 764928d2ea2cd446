package dev.nettysync.bench.load;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The fleet script's upstream counts what it holds: 5 concurrent slow requests make a peak of 5. */
class PeakUpstreamSmokeTest {

    @Test
    void recordsThePeakOfConcurrentRequests() throws Exception {
        PeakUpstream up = new PeakUpstream();
        new CommandLine(up).parseArgs("--port=0", "--delay-ms=2000");
        up.start();
        try {
            HttpClient client = HttpClient.newHttpClient();
            List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                calls.add(client.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + up.port() + "/items/" + i)).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            for (CompletableFuture<HttpResponse<String>> c : calls) {
                assertThat(c.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            }
            String peak = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + up.port() + "/peak")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(peak).startsWith("peak=5 current=0 total=5");
        } finally {
            up.stop();
        }
    }
}
