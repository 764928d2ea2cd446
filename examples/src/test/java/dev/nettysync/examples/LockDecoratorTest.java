package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleMain;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class LockDecoratorTest {

    private static EventLoopGroup group;

    @BeforeAll
    static void start() {
        group = ExampleMain.newGroup(2);
        ExampleRuns.warmUp(group, LockDecorator::run);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void callsTakeTurnsInCallOrderAndTakeAboutThreeSeconds() {
        var run = ExampleRuns.run(group, LockDecorator::run);
        assertThat(run.messages()).containsExactly(
                "  A entered critical section", "  A leaving critical section",
                "  B entered critical section", "  B leaving critical section",
                "  C entered critical section", "  C leaving critical section");
        run.tookAbout(3.0);
    }
}
