package dev.nettysync.demo;

import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Test;

import static dev.nettysync.demo.TestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/** Native epoll when available, NIO on request or as the fallback; both serve. */
class TransportTest {

    @Test
    void autoUsesEpollExactlyWhenItIsAvailable() throws Exception {
        GatewayServer server = start("--transport=auto");
        try {
            assertThat(server.isEpoll()).isEqualTo(Epoll.isAvailable());
            assertThat(get(server, "/api/items/1").statusCode()).isEqualTo(200);
        } finally {
            stop(server);
        }
    }

    @Test
    void nioServesToo() throws Exception {
        GatewayServer server = start("--transport=nio");
        try {
            assertThat(server.isEpoll()).isFalse();
            assertThat(get(server, "/api/items/1").statusCode()).isEqualTo(200);
            assertThat(get(server, "/readyz").statusCode()).isEqualTo(200);
        } finally {
            stop(server);
        }
    }
}
