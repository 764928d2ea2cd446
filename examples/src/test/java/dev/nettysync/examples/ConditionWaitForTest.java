package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleMain;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class ConditionWaitForTest {

    private static EventLoopGroup group;

    @BeforeAll
    static void start() {
        group = ExampleMain.newGroup(2);
        ExampleRuns.warmUp(group, ConditionWaitFor::run);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void bothConsumersGetTheDataOnlyAfterTheProviderSetsIt() {
        var run = ExampleRuns.run(group, ConditionWaitFor::run);
        assertThat(run.messages()).as("timeline:%n%s", run.timeline()).hasSize(3);
        assertThat(run.messages().get(0)).isEqualTo("Provider: data is ready");
        assertThat(run.messages().subList(1, 3)).containsExactlyInAnyOrder("C1: got data!", "C2: got data!");
        run.tookAbout(1.0);
    }
}
