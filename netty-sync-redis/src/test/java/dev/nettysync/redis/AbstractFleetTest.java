package dev.nettysync.redis;

import io.netty.channel.EventLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The set-up of the scenario tests on one real server (started once per class by
 * {@link RedisServerExtension}): before each test a {@link TestFleet} with two caller loops,
 * {@link RedisLimiters} on one client of it, and the loop the test waits on; after each test the
 * fleet is closed.
 */
@ExtendWith(RedisServerExtension.class)
abstract class AbstractFleetTest {
    TestFleet fleet;          // set before each test, read by the test thread
    RedisLimiters limiters;   // idem
    EventLoop loop;           // idem

    @BeforeEach
    void openFleet(RedisServer server) {
        fleet = new TestFleet(server, 2);
        limiters = fleet.limiters();
        loop = fleet.loops.next();
    }

    @AfterEach
    void closeFleet() throws Exception {
        fleet.close();
    }
}
