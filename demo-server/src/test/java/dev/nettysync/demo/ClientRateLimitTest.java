package dev.nettysync.demo;

import dev.nettysync.limit.AbstractPermit;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.KeyedLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RateLimitedException;
import dev.nettysync.testing.ManualExecutor;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The per-client key: the peer's address, or with {@code --trust-forwarded-for} the first
 * {@code X-Forwarded-For} element parsed as an IP address, so that a key is at most 39
 * characters whatever a client writes there (before: the raw text, up to the header limit).
 *
 * <p>And {@link ClientRateLimit#admit} with a key limiter that does not decide at once (its wait
 * is still pending when {@code acquire} returns, as the rate limiter's is not with a zero
 * timeout, but another limiter's could be): the request is refused 429 and the wait cancelled,
 * or, if the wait was granted as it was cancelled, its permit ended, never left held for
 * nobody. Before, a future not yet done was taken for an admission (its cause was
 * {@code null}): the request went through unlimited and the permit granted later was never
 * ended.
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
    void aForwardedPortIsOneToFiveDigitsIn1To65535() throws Exception {
        for (String ok : new String[] {"10.0.0.1:1", "10.0.0.1:9", "10.0.0.1:65535", "[2001:db8::1]:1",
                "[2001:db8::1]:65535"}) {
            assertThat(trusting.clientOf(PEER, xff(ok))).as("'%s'", ok).isIn("10.0.0.1", "2001:db8::1");
        }
        for (String bad : new String[] {"10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:000080", "10.0.0.1:8a",
                "[2001:db8::1]:0", "[2001:db8::1]:65536", "[2001:db8::1]:", "[2001:db8::1]443", "[2001:db8::1]:44x"}) {
            assertThatThrownBy(() -> trusting.clientOf(PEER, xff(bad))).as("'%s'", bad)
                    .isInstanceOf(HttpStatusException.class);
        }
    }

    @Test
    void aRefusedElementIsEchoedAsPrintableAsciiAtMost40Characters() {
        assertThatThrownBy(() -> trusting.clientOf(PEER, xff("caf\u00e9\tname \u007f~")))
                .hasMessageEndingWith("was 'caf??name ?~'");
        assertThatThrownBy(() -> trusting.clientOf(PEER, xff("h".repeat(40))))
                .hasMessageEndingWith("was '" + "h".repeat(40) + "'");
        assertThatThrownBy(() -> trusting.clientOf(PEER, xff("h".repeat(41))))
                .hasMessageEndingWith("was '" + "h".repeat(40) + "...'");
    }

    @Test
    void aNewClientPastMaxKeysWhileNoneIsAtRestIs503() {
        ClientRateLimit oneClient = new ClientRateLimit(1, 1, 1, false);
        assertThat(oneClient.admit("10.0.0.1", ImmediateEventExecutor.INSTANCE)).isNull();
        assertThat(oneClient.admit("10.0.0.2", ImmediateEventExecutor.INSTANCE))
                .isInstanceOf(HttpStatusException.class).hasMessage("too many clients tracked by the rate limit")
                .satisfies(e -> assertThat(((HttpStatusException) e).status().code()).isEqualTo(503));
    }

    @Test
    void theRateLimitHeadersGiveTheBurstAndTheSecondsItTakesToRefill() {
        HttpHeaders h = new DefaultHttpHeaders();
        new ClientRateLimit(5, 12, 10, false).addHeaders(h, new RateLimitedException("over", 1_500_000_000L));
        assertThat(h.get("RateLimit-Policy")).isEqualTo("\"per-client\";q=12;w=3");
        assertThat(h.get("RateLimit")).isEqualTo("\"per-client\";r=0;t=2");
    }

    @Test
    void aReasonNeverEchoesAnOverlongValue() {
        assertThatThrownBy(() -> trusting.clientOf(PEER, xff("y".repeat(8000))))
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(200));
    }

    // ---------------------------------------------------------------- admit

    private static final String CLIENT = "10.0.0.1";

    /** A limiter whose waits the test completes; each granted permit counts its ends. */
    private static final class DeferredLimiter implements AsyncLimiter {
        final List<Wait> waits = new CopyOnWriteArrayList<>();
        final boolean grantWhenCancelled;

        DeferredLimiter(boolean grantWhenCancelled) {
            this.grantWhenCancelled = grantWhenCancelled;
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor) {
            Wait w = new Wait(executor, grantWhenCancelled);
            waits.add(w);
            return w;
        }

        @Override
        public Future<Permit> acquire(EventExecutor executor, long timeout, TimeUnit unit) {
            return acquire(executor);
        }

        @Override
        public Permit tryAcquire() {
            return null;
        }

        @Override
        public LimiterStatistics statistics() {
            return new LimiterStatistics(1, 0, 1, 0);
        }
    }

    /** A wait that, if asked to, is granted at the moment it is cancelled (the race, made certain). */
    private static final class Wait extends DefaultPromise<Permit> {
        final CountingPermit permit = new CountingPermit();
        private final boolean grantWhenCancelled;

        Wait(EventExecutor executor, boolean grantWhenCancelled) {
            super(executor);
            this.grantWhenCancelled = grantWhenCancelled;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (grantWhenCancelled) {
                trySuccess(permit);
            }
            return super.cancel(mayInterruptIfRunning);
        }
    }

    private static final class CountingPermit extends AbstractPermit {
        final List<Outcome> ends = new CopyOnWriteArrayList<>();

        @Override
        protected void onEnd(Outcome outcome) {
            ends.add(outcome);
        }
    }

    private static ClientRateLimit over(DeferredLimiter limiter) {
        return new ClientRateLimit(KeyedLimiter.builder((String client) -> limiter).maxKeys(10)
                .idleTime(Duration.ZERO).build(), 10, 10, false);
    }

    @Test
    void aWaitNotDecidedAtOnceIsCancelledAndTheRequestRefused429() {
        DeferredLimiter limiter = new DeferredLimiter(false);
        ClientRateLimit rate = over(limiter);

        Throwable refused = rate.admit(CLIENT, ImmediateEventExecutor.INSTANCE);

        assertThat(refused).as("refused, as over the rate").isInstanceOf(RateLimitedException.class);
        assertThat(((RateLimitedException) refused).retryAfterSeconds()).isEqualTo(1);
        assertThat(limiter.waits).hasSize(1);
        Wait w = limiter.waits.get(0);
        assertThat(w.isCancelled()).as("the key limiter's wait was cancelled: nothing is granted later").isTrue();
        assertThat(w.trySuccess(w.permit)).as("a late grant finds the wait gone").isFalse();
        assertThat(rate.liveClients()).isEqualTo(1);
        assertThat(rate.evictIdle()).as("the key is let go: nothing holds it").isEqualTo(1);
    }

    @Test
    void aWaitGrantedAsItIsCancelledHasItsPermitUsedAndEnded() {
        // On the caller's executor the grant is handed over at once: the cancel fails and the
        // future is done, granted. The request is admitted and the permit ended, once.
        DeferredLimiter limiter = new DeferredLimiter(true);
        ClientRateLimit rate = over(limiter);

        Throwable refused = rate.admit(CLIENT, ImmediateEventExecutor.INSTANCE);

        assertThat(refused).as("admitted: the permit was granted").isNull();
        CountingPermit permit = limiter.waits.get(0).permit;
        assertThat(permit.ends).as("the permit ended once").containsExactly(Permit.Outcome.SUCCESS);
        assertThat(rate.evictIdle()).as("the key is let go").isEqualTo(1);
    }

    @Test
    void aWaitGrantedAsItIsCancelledButHandedOverLaterHasItsPermitEndedWhenItArrives() {
        // Off the caller's executor the grant reaches the caller's future later, as a task: the
        // cancel fails and the future is not done yet when admit returns.
        ManualExecutor executor = new ManualExecutor();
        DeferredLimiter limiter = new DeferredLimiter(true);
        ClientRateLimit rate = over(limiter);

        Throwable refused = rate.admit(CLIENT, executor);

        assertThat(refused).as("refused: it could not be told admitted at once").isInstanceOf(RateLimitedException.class);
        CountingPermit permit = limiter.waits.get(0).permit;
        assertThat(permit.ends).as("not handed over yet").isEmpty();
        assertThat(executor.runPending()).isPositive();
        assertThat(permit.ends).as("ended once it arrived").containsExactly(Permit.Outcome.IGNORED);
        assertThat(rate.evictIdle()).as("the key is let go").isEqualTo(1);
    }
}
