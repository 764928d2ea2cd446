package dev.nettysync.redis;

import dev.nettysync.testing.BlockHoundSessionListener;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Proves that BlockHound watches Lettuce's own threads in this module's tests: a sleep in a
 * reply callback (Lettuce's I/O thread) and on its computation executor is caught. (The test
 * drains what it provoked, so the after-each check does not fail it.)
 */
@ExtendWith(RedisServerExtension.class)
class BlockHoundCoversLettuceTest {

    @Test
    void blockingOnLettuceThreadsIsCaught(RedisServer server) throws Exception {
        try (TestFleet fleet = new TestFleet(server, 1)) {
            RedisClient client = fleet.client();
            BlockHoundSessionListener.drainBlockingCalls();
            try (StatefulRedisConnection<String, String> c = client.connect()) {
                // A reply that arrives before thenRun attaches runs the callback on this thread, not
                // Lettuce's: ask again until the callback runs on the I/O thread (a fast machine wins
                // that race often).
                Throwable onIo = null;
                for (int attempt = 0; attempt < 1000 && onIo == null; attempt++) {
                    CompletableFuture<Throwable> seen = new CompletableFuture<>();
                    c.async().ping().thenRun(() -> {
                        if (!Thread.currentThread().getName().startsWith("lettuce-nioEventLoop")) {
                            seen.complete(null);            // ran here: not the case under test
                            return;
                        }
                        try {
                            Thread.sleep(1);
                            seen.complete(null);
                        } catch (Throwable t) {
                            seen.complete(t);
                        }
                    });
                    onIo = seen.get(10, TimeUnit.SECONDS);
                }
                assertThat(onIo).as("blocking on an I/O thread").isNotNull();

                CompletableFuture<Throwable> onComputation = new CompletableFuture<>();
                client.getResources().eventExecutorGroup().next().execute(() -> {
                    try {
                        Thread.sleep(1);
                        onComputation.complete(null);
                    } catch (Throwable t) {
                        onComputation.complete(t);
                    }
                });
                assertThat(onComputation.get(10, TimeUnit.SECONDS)).as("blocking on a computation thread").isNotNull();
            }
            List<String> calls = BlockHoundSessionListener.drainBlockingCalls();
            assertThat(calls).anyMatch(c -> c.contains("lettuce-nioEventLoop"));
            assertThat(calls).anyMatch(c -> c.contains("lettuce-eventExecutorLoop"));
        }
    }
}
