package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleMain;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class SemaphoreVsBoundedTest {

    private static EventLoopGroup group;

    @BeforeAll
    static void start() {
        group = ExampleMain.newGroup(2);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void anExtraReleaseRaisesASemaphoreButIsRefusedByABoundedOne() {
        var run = ExampleRuns.run(group, SemaphoreVsBounded::run);
        assertThat(run.result().semaphorePermits()).isEqualTo(3);
        assertThat(run.result().boundedError()).as("timeline:%n%s", run.timeline())
                .isNotNull().contains("maximum of 2");
        assertThat(run.result().boundedPermits()).isEqualTo(2);
        assertThat(run.indexOf("IllegalStateException")).isGreaterThan(run.indexOf("Semaphore(2).release()"));
    }
}
