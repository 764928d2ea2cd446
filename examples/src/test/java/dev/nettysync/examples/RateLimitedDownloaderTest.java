package dev.nettysync.examples;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.examples.support.ExampleLoops;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.bootstrap.Bootstrap;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class RateLimitedDownloaderTest {

    @RegisterExtension
    static final ExampleLoops loops = new ExampleLoops();

    @BeforeAll
    static void warmUp() {
        RateLimitedDownloader.runBlocking(loops.group(), Timeline.recording(), new TimeScale(0.01));   // warm-up
    }

    @Test
    void tenRealDownloadsThreeAtATimeInAboutFourSeconds() {
        Timeline t = Timeline.recording();
        var outcome = RateLimitedDownloader.runBlocking(loops.group(), t, new TimeScale(ExampleRuns.SCALE));

        assertThat(outcome.bodies()).containsExactlyElementsOf(IntStream.range(0, 10).mapToObj(SlowFileServer::contents).toList());
        // counted by the server: the limit holds where it matters, and it is reached
        assertThat(outcome.serverMaxInFlight()).as("timeline:%n%s", t).isEqualTo(3);
        int clientMax = ExampleRuns.maxOpen(t.messages(), s -> s.endsWith("downloading..."), s -> s.contains(": done,"));
        assertThat(clientMax).isEqualTo(3);
        // four waves of 1 s (3 + 3 + 3 + 1)
        double expected = 4 * ExampleRuns.SCALE;
        assertThat(outcome.seconds()).as("timeline:%n%s", t).isBetween(expected * 0.98, expected * 1.5 + 1.0);
        assertThat(t.messages().get(t.messages().size() - 1)).startsWith("Total: ");
    }

    @Test
    void aFailedDownloadFailsWithAClearMessageAndReleasesItsPermit() throws Exception {
        OnePermitDownloads d = new OnePermitDownloads(0.01);
        try (d) {
            Future<String> missing = d.download("/nope");
            Future<String> good = d.download("/file7");

            assertThat(missing.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(missing.cause()).isInstanceOf(IOException.class)
                    .hasMessageContaining("/nope").hasMessageContaining("404 Not Found");
            assertThat(good.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(good.getNow()).isEqualTo(SlowFileServer.contents(7));   // the permit came back
            assertThat(d.server.served()).isEqualTo(1);
        }
        URI refused;
        try (ServerSocket s = new ServerSocket(0)) {
            refused = URI.create("http://127.0.0.1:" + s.getLocalPort() + "/file1");
        }
        Future<String> noServer = d.download(refused);
        assertThat(noServer.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(noServer.cause()).isInstanceOf(IOException.class).hasMessageContaining("cannot connect");
        assertThat(d.sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void theServerAnswersBadRequestsWith4xxAndKeepsServing() {
        TimeScale time = new TimeScale(0.01);
        try (SlowFileServer server = SlowFileServer.start(loops.group(), time.nanos(1.0))) {
            Bootstrap http = RateLimitedDownloader.client(loops.group());
            EventExecutor ex = loops.group().next();
            List<String> bad = List.of("/", "/file", "/filex", "/FILE1", "/file1/", "/file1234567", "/../etc/passwd", "/file-1");
            for (String path : bad) {
                Future<String> f = RateLimitedDownloader.httpGet(http, URI.create(server.baseUrl() + path), ex);
                assertThat(f.awaitUninterruptibly(30, TimeUnit.SECONDS)).as(path).isTrue();
                assertThat(f.cause()).as(path).hasMessageContaining("404");
            }
            Future<String> good = RateLimitedDownloader.httpGet(http, URI.create(server.baseUrl() + "/file3?mirror=2"), ex);
            assertThat(good.awaitUninterruptibly(30, TimeUnit.SECONDS)).isTrue();
            assertThat(good.getNow()).isEqualTo(SlowFileServer.contents(3));
        }
    }

    @Test
    void cancellingAQueuedDownloadTakesItOutOfTheQueueAndItNeverReachesTheServer() throws Exception {
        try (OnePermitDownloads d = new OnePermitDownloads(0.2)) {
            Future<String> first = d.download("/file1");
            Future<String> queued = d.download("/file2");
            assertThat(queued.cancel(false)).isTrue();
            assertThat(first.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(first.getNow()).isEqualTo(SlowFileServer.contents(1));
            assertThat(d.server.served()).isEqualTo(1);
            assertThat(d.timeline.messages()).noneMatch(m -> m.contains("/file2"));
            assertThat(d.sem.availablePermits()).isEqualTo(1);
        }
    }

    /**
     * Downloads one at a time (a semaphore of one permit) from a {@link SlowFileServer} that takes
     * one tutorial second per file at {@code scale}, recorded on one timeline; closing it stops
     * the server (the client side stays usable).
     */
    private static final class OnePermitDownloads implements AutoCloseable {
        final Timeline timeline = Timeline.recording();
        final AsyncSemaphore sem = new AsyncSemaphore(1);
        final Bootstrap http = RateLimitedDownloader.client(loops.group());
        final EventExecutor executor = loops.group().next();
        final SlowFileServer server;

        OnePermitDownloads(double scale) {
            server = SlowFileServer.start(loops.group(), new TimeScale(scale).nanos(1.0));
        }

        Future<String> download(String path) {
            return download(URI.create(server.baseUrl() + path));
        }

        Future<String> download(URI uri) {
            return RateLimitedDownloader.download(uri, sem, http, executor, timeline);
        }

        @Override
        public void close() {
            server.close();
        }
    }
}
