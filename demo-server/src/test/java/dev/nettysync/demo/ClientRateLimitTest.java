package dev.nettysync.demo;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The per-client key: the peer's address, or with {@code --trust-forwarded-for} the first
 * {@code X-Forwarded-For} element parsed as an IP address, so that a key is at most 39
 * characters whatever a client writes there (before: the raw text, up to the header limit).
 */
class ClientRateLimitTest {

    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 40000);

    private final ClientRateLimit trusting = new ClientRateLimit(10, 10, 100, true);
    private final ClientRateLimit direct = new ClientRateLimit(10, 10, 100, false);

    private static HttpHeaders xff(String value) {
        // Not validated: the decoder trims what it received, but a test may pass any text.
        return DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders()
                .add("X-Forwarded-For", value);
    }

    @Test
    void theKeyIsTheFirstForwardedAddressInCanonicalForm() throws Exception {
        assertThat(trusting.clientOf(PEER, xff("10.0.0.1, 192.168.1.1"))).isEqualTo("10.0.0.1");
        assertThat(trusting.clientOf(PEER, xff(" 10.0.0.1 "))).isEqualTo("10.0.0.1");
        assertThat(trusting.clientOf(PEER, xff("10.0.0.1:8080"))).as("a port is dropped").isEqualTo("10.0.0.1");
        assertThat(trusting.clientOf(PEER, xff("2001:DB8:0:0:0:0:0:1"))).isEqualTo("2001:db8::1");
        assertThat(trusting.clientOf(PEER, xff("[2001:db8::1]:443"))).isEqualTo("2001:db8::1");
        assertThat(trusting.clientOf(PEER, xff("[2001:db8::1]"))).isEqualTo("2001:db8::1");
        assertThat(trusting.clientOf(PEER, xff("::ffff:10.0.0.1"))).as("IPv4-mapped").isEqualTo("10.0.0.1");
        assertThat(trusting.clientOf(PEER, xff("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")))
                .hasSize(39);
    }

    @Test
    void withoutTheHeaderOrTrustTheKeyIsThePeer() throws Exception {
        assertThat(trusting.clientOf(PEER, new DefaultHttpHeaders())).isEqualTo("127.0.0.1");
        assertThat(direct.clientOf(PEER, xff("x".repeat(8000)))).isEqualTo("127.0.0.1");
        assertThat(direct.clientOf(new InetSocketAddress("::1", 1), new DefaultHttpHeaders())).isEqualTo("::1");
    }

    @Test
    void aForwardedElementThatIsNotAnIpAddressIsRefused400() {
        for (String bad : new String[] {"x".repeat(8000), "client-7", "unknown", "", " , 10.0.0.1",
                "10.0.0.256", "10.0.0.1:99999", "10.0.0.1:", "[2001:db8::1", "fe80::1%eth0",
                "1.2.3.4.5", "[10.0.0.1]"}) {
            assertThatThrownBy(() -> trusting.clientOf(PEER, xff(bad)))
                    .as("'%s'", bad.length() > 40 ? bad.substring(0, 40) + "..." : bad)
                    .isInstanceOf(HttpStatusException.class)
                    .satisfies(e -> assertThat(((HttpStatusException) e).status().code()).isEqualTo(400))
                    .hasMessageContaining("X-Forwarded-For");
        }
    }

    @Test
    void aReasonNeverEchoesAnOverlongValue() {
        assertThatThrownBy(() -> trusting.clientOf(PEER, xff("y".repeat(8000))))
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(200));
    }
}
