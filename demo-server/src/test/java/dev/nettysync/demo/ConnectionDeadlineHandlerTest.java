package dev.nettysync.demo;

import io.micrometer.core.instrument.Timer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The connection deadlines on an {@link EmbeddedChannel} with a frozen, hand-advanced clock. */
class ConnectionDeadlineHandlerTest {

    private static final long IDLE_MS = 1_000;
    private static final long READ_MS = 500;

    private final DemoMetrics metrics = new DemoMetrics();
    private ConnectionDeadlineHandler deadline;
    private EmbeddedChannel ch;

    @BeforeEach
    void setUp() {
        deadline = new ConnectionDeadlineHandler(TimeUnit.MILLISECONDS.toNanos(IDLE_MS),
                TimeUnit.MILLISECONDS.toNanos(READ_MS), metrics);
        ch = new EmbeddedChannel();
        ch.freezeTime();
        ch.pipeline().addLast(deadline, GatewayServer.newCodec(TestSupport.config(), deadline), new HttpObjectAggregator(1024));
        ch.pipeline().fireChannelActive();
    }

    private void advance(long ms) {
        ch.advanceTimeBy(ms, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
    }

    private void receive(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
    }

    private String written() {
        StringBuilder out = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            out.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return out.toString();
    }

    /** Open until the idle timeout, counted from now, then closed at once ({@code why}). */
    private void assertClosedAfterTheIdleTimeout(String why) {
        advance(IDLE_MS - 1);
        assertThat(ch.isActive()).isTrue();
        advance(1);
        assertThat(ch.isActive()).as("closed: %s", why).isFalse();
    }

    /** As {@link #assertClosedAfterTheIdleTimeout}, without an answer. */
    private void assertClosedSilentlyAfterTheIdleTimeout() {
        assertClosedAfterTheIdleTimeout("idle");
        assertThat(written()).isEmpty();
    }

    @Test
    void silentConnectionIsClosedAfterTheIdleTimeoutWithoutAResponse() {
        assertClosedSilentlyAfterTheIdleTimeout();
    }

    @Test
    void tricklingHeadersGet408WhenTheReadDeadlineExpires() {
        // One byte every 100 ms: a read-idle timer would never fire; the request deadline does.
        String head = "GET /livez HTTP/1.1\r\n";
        for (int i = 0; i < 4; i++) {             // bytes at t = 0, 100, 200, 300 ms
            receive(head.substring(i, i + 1));
            advance(100);
        }
        assertThat(ch.isActive()).as("t = 400 ms < read deadline").isTrue();
        assertThat(written()).isEmpty();
        advance(READ_MS - 400);                   // t = 500 ms after the first byte
        assertThat(written()).startsWith("HTTP/1.1 408 Request Timeout").containsIgnoringCase("connection: close");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void aRequestBegunLateInTheIdlePeriodHasItsWholeReadTimeout() {
        // The idle deadline armed at the connection's start must not fire once a request began:
        // its first byte at t = 900 ms, its 408 at 900 + 500, not at the idle timeout (1000).
        advance(IDLE_MS - 100);
        receive("GET /livez HTTP/1.1\r\n");
        advance(READ_MS - 1);
        assertThat(ch.isActive()).as("1 ms before the read deadline, past the idle one").isTrue();
        assertThat(written()).isEmpty();
        advance(1);
        assertThat(written()).startsWith("HTTP/1.1 408 Request Timeout");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void the408IsCountedAsARequestOfTheReadTimeoutAndTimedToItsFlush() throws InterruptedException {
        List<ChannelPromise> held = holdWrites();
        receive("GET /livez HTTP/1.1\r\n");
        advance(READ_MS);
        assertThat(held).as("the 408, not written yet").hasSize(1);
        Timer request = metrics.registry().get("demo.http.requests")
                .tag("route", "other").tag("status", "408").timer();
        assertThat(request.count()).isEqualTo(1);
        assertThat(request.totalTime(TimeUnit.NANOSECONDS)).as("from the first byte: the read timeout")
                .isEqualTo((double) TimeUnit.MILLISECONDS.toNanos(READ_MS));

        Thread.sleep(20);                          // the flush takes 20 ms or more
        held.get(0).setSuccess();
        Timer flushed = metrics.registry().get("demo.response.latency")
                .tag("status", "408").timer();
        assertThat(flushed.count()).isEqualTo(1);
        assertThat(flushed.totalTime(TimeUnit.MILLISECONDS)).as("the read timeout, then the flush's 20 ms or more")
                .isGreaterThanOrEqualTo(READ_MS + 20).isLessThan(READ_MS + 30_000);
        assertThat(ch.isActive()).as("closed once written").isFalse();
    }

    @Test
    void a408TheClientDoesNotReadClosesTheConnectionAfterTheIdleTimeout() {
        List<ChannelPromise> held = holdWrites();
        receive("GET /livez HTTP/1.1\r\n");
        advance(READ_MS);
        assertThat(held).as("the 408, not written yet").hasSize(1);
        assertClosedAfterTheIdleTimeout("the client did not read its 408");
    }

    @Test
    void aRequestReceivedWhileAnAnswerWaitsToBeWrittenKeepsTheWriteDeadline() {
        // A client that keeps sending requests but does not read: a complete request decoded
        // meanwhile must not cancel the deadline of the answer it does not read.
        receive("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
        FullHttpRequest first = ch.readInbound();
        first.release();
        deadline.requestStarted();
        deadline.writePending();
        advance(IDLE_MS / 2);
        receive("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
        FullHttpRequest second = ch.readInbound();
        assertThat(second).isNotNull();
        second.release();
        advance(IDLE_MS / 2 - 1);
        assertThat(ch.isActive()).isTrue();
        advance(1);
        assertThat(ch.isActive()).as("closed at the idle timeout after the write began").isFalse();
    }

    /** Writes that reach the channel are held, their promises not completed: a client that does not read. */
    private List<ChannelPromise> holdWrites() {
        List<ChannelPromise> held = new ArrayList<>();
        ch.pipeline().addFirst(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                ReferenceCountUtil.release(msg);
                held.add(promise);
            }
        });
        return held;
    }

    @Test
    void aPipelinedRequestCutMidWayGets408AfterTheResponseBeforeIt() {
        // One read brings a whole request and the first part of the next. Before, the deadline
        // went back to the idle timer after the first response: the connection was closed
        // silently at the idle timeout instead of answered 408 at the read timeout.
        receive("GET /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost:");
        answerOne();
        advance(READ_MS - 1);
        assertThat(ch.isActive()).isTrue();
        assertThat(written()).isEmpty();
        advance(1);
        assertThat(written()).startsWith("HTTP/1.1 408 Request Timeout").containsIgnoringCase("connection: close");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void headersWithoutTheirBlankLineSentDuringAResponseGet408AfterIt() {
        receive("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
        FullHttpRequest first = ch.readInbound();
        first.release();
        deadline.requestStarted();
        receive("GET /readyz HTTP/1.1\r\nHost: x\r\n");        // while the first is processed
        advance(IDLE_MS * 3);
        assertThat(ch.isActive()).as("no deadline while a request is processed").isTrue();
        deadline.responseDone();
        advance(READ_MS);
        assertThat(written()).startsWith("HTTP/1.1 408 Request Timeout");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void aBlankLineAfterARequestIsNotTheStartOfAnother() {
        // RFC 9112 §2.2: a server ignores empty lines before a request line (old clients send
        // CRLF after a body): such a connection is idle, closed silently at the idle timeout.
        receive("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n\r\n");
        answerOne();
        assertClosedSilentlyAfterTheIdleTimeout();
    }

    @Test
    void anAnswerTheClientDoesNotReadClosesTheConnectionAfterTheIdleTimeout() {
        receive("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
        FullHttpRequest request = ch.readInbound();
        request.release();
        deadline.requestStarted();
        advance(IDLE_MS * 3);
        assertThat(ch.isActive()).as("no deadline while the answer is being made").isTrue();
        deadline.writePending();           // the answer did not go out at once
        assertClosedAfterTheIdleTimeout("the client did not read its answer");
    }

    /** What the gateway does with one decoded request: starts it, answers nothing, ends it. */
    private void answerOne() {
        FullHttpRequest request = ch.readInbound();
        assertThat(request).isNotNull();
        request.release();
        deadline.requestStarted();
        deadline.responseDone();
    }

    @Test
    void noDeadlineWhileARequestIsProcessedThenIdleAgain() {
        receive("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
        FullHttpRequest request = ch.readInbound();
        assertThat(request).isNotNull();
        request.release();
        deadline.requestStarted();
        advance(IDLE_MS * 5);
        assertThat(ch.isActive()).as("a slow backend call is not a slow client").isTrue();

        deadline.responseDone();
        assertClosedSilentlyAfterTheIdleTimeout();
    }
}
