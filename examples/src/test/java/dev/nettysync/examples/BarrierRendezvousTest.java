package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleMain;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class BarrierRendezvousTest {

    private static EventLoopGroup group;

    @BeforeAll
    static void start() {
        group = ExampleMain.newGroup(2);
        ExampleRuns.warmUp(group, BarrierRendezvous::run);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void nobodyProceedsUntilAllThreeHaveArrived() {
        var run = ExampleRuns.run(group, BarrierRendezvous::run);
        int lastArrival = Math.max(run.indexOf("A: waiting at barrier"),
                Math.max(run.indexOf("B: waiting at barrier"), run.indexOf("C: waiting at barrier")));
        for (String name : new String[] {"A", "B", "C"}) {
            assertThat(run.indexOf(name + ": barrier released")).as("timeline:%n%s", run.timeline()).isGreaterThan(lastArrival);
        }
        assertThat(run.result()).containsExactlyInAnyOrder(0, 1, 2);
        run.tookAbout(0.5);
    }
}
