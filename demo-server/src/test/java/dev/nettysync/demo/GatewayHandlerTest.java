package dev.nettysync.demo;

import dev.nettysync.AsyncEvent;
import dev.nettysync.limit.AsyncRateLimiter;
import dev.nettysync.limit.KeyedLimiter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The handler on an {@link EmbeddedChannel} (codec, aggregator, handler; a backend the test
 * answers): pipelining bounds exactly, and the request-parsing helpers.
 */
class GatewayHandlerTest {

    private static final int READ_AHEAD = 4;
    private static final int MAX_PIPELINED = 8;

    private TestSupport.ControlledBackend backend;
    private BackendLimiter limiter;
    private EmbeddedChannel ch;
    private DemoMetrics metrics;
    private GatewayContext context;

    @BeforeEach
    void setUp() {
        DemoConfig config = TestSupport.config();
        metrics = new DemoMetrics();
        AsyncEvent ready = new AsyncEvent();
        ready.set();
        backend = new TestSupport.ControlledBackend();
        context = new GatewayContext(ready, DemoConfig.BeforeReady.WAIT, config.readyWaitTimeout,
                limiter = new BackendLimiter(4, 10, config.maxQueueWait, metrics),
                new TimedBackend(backend, config.backendTimeout, metrics), new DrainState(), metrics, HttpErrors.of(config), null, null);
        ConnectionDeadlineHandler deadline = new ConnectionDeadlineHandler(TimeUnit.SECONDS.toNanos(60),
                TimeUnit.SECONDS.toNanos(60), metrics);
        ch = new EmbeddedChannel(deadline, GatewayServer.newCodec(config, deadline), new GatewayAggregator(config.maxBody),
                new GatewayHandler(context, deadline, READ_AHEAD, MAX_PIPELINED));
    }

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    private void receive(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
        ch.runPendingTasks();
    }

    /** Runs the loop's tasks until none is left (answers chain through listeners run as tasks). */
    private void runTasks() {
        for (int i = 0; i < 1000 && ch.hasPendingTasks(); i++) {
            ch.runPendingTasks();
        }
        ch.runPendingTasks();
    }

    private List<String> statusLines() {
        return statusLines(output());
    }

    private static List<String> statusLines(CharSequence out) {
        List<String> lines = new ArrayList<>();
        Matcher m = Pattern.compile("HTTP/1\\.1 \\d{3}[^\r]*").matcher(out);
        while (m.find()) {
            lines.add(m.group());
        }
        return lines;
    }

    private static String livez(int n) {
        return "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n".repeat(n);
    }

    /** {@code text} in pieces of {@code size} bytes, each its own read. */
    private void receiveInPieces(String text, int size) {
        for (int i = 0; i < text.length(); i += size) {
            receive(text.substring(i, Math.min(text.length(), i + size)));
        }
    }

    @Test
    void declaredChunkSizesAreFollowedAcrossReadsOfAnySize() {
        // The default --max-body, 65536, in two chunks (with an extension and trailers), in
        // reads of 1 to 7 bytes: read to its end and answered, the next request too.
        String half = "x".repeat(32768);
        String body = "8000;name=value\r\n" + half + "\r\n8000\r\n" + half + "\r\n0\r\nX-T: t\r\n\r\n";
        for (int piece = 1; piece <= 7; piece += 6) {
            receiveInPieces("GET /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body + livez(1), piece);
            assertThat(statusLines()).as("reads of %d bytes", piece).containsExactly("HTTP/1.1 200 OK", "HTTP/1.1 200 OK");
        }
        // One byte more, declared on the second chunk's size line: 413 before any of its data, then close.
        receiveInPieces("GET /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n" + half
                + "\r\n8001\r\n", 1);
        runTasks();
        assertThat(statusLines()).containsExactly("HTTP/1.1 413 Request Entity Too Large");
    }

    @Test
    void pipeliningPausesReadingAtTheReadAheadAndResumesOnceAnswered() {
        receive("GET /api/items/slow HTTP/1.1\r\nHost: x\r\n\r\n" + livez(READ_AHEAD + 1));
        assertThat(ch.config().isAutoRead()).as("reading paused: %d requests wait", READ_AHEAD + 1).isFalse();
        assertThat(statusLines()).as("nothing answered before the first request").isEmpty();

        assertThat(backend.answerOne()).isTrue();
        runTasks();

        assertThat(statusLines()).hasSize(READ_AHEAD + 2).allMatch(l -> l.startsWith("HTTP/1.1 200"));
        assertThat(ch.config().isAutoRead()).as("reading resumed").isTrue();
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void pastTheBoundEveryEarlierRequestIsAnsweredThenOne503AndTheConnectionCloses() {
        receive("GET /api/items/slow HTTP/1.1\r\nHost: x\r\n\r\n" + livez(20));
        assertThat(ch.isActive()).as("nothing is closed while the first request runs").isTrue();

        assertThat(backend.answerOne()).isTrue();
        runTasks();

        List<String> lines = statusLines();
        assertThat(lines).hasSize(1 + MAX_PIPELINED + 1);
        assertThat(lines.subList(0, 1 + MAX_PIPELINED)).allMatch(l -> l.startsWith("HTTP/1.1 200"));
        assertThat(lines.get(1 + MAX_PIPELINED)).startsWith("HTTP/1.1 503");
        assertThat(ch.isActive()).as("closed after the 503").isFalse();
    }

    @Test
    void aBackendCallThatTheBackendCancelsItselfIsAnsweredAtOnceAndGivesItsPermitBack() {
        // A Backend may end a call by cancelling its own future (a client library shutting down,
        // a pool giving up). TimedBackend ignored such a cancel: the request was left unanswered
        // (a call cancelled before fetch returned was never answered at all: no timer was armed)
        // and its permit and place were held for ever.
        receive("GET /api/items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(limiter.inFlight()).isEqualTo(1);
        backend.open.poll().cancel(false);
        runTasks();

        assertThat(statusLines()).containsExactly("HTTP/1.1 502 Bad Gateway");
        assertThat(limiter.inFlight()).as("in flight").isZero();
        assertThat(limiter.admitted()).as("admitted").isZero();
        assertThat(limiter.availablePermits()).as("permits").isEqualTo(4);
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void anExceptionThrownWhileServingIsAnswered500AndTheConnectionCloses() {
        // A bug in the request's own path (here, an admission policy that throws): before, the
        // exception reached exceptionCaught, which closed the connection without an answer.
        DemoConfig config = TestSupport.config();
        DemoMetrics metrics = new DemoMetrics();
        AsyncEvent ready = new AsyncEvent();
        ready.set();
        Admission broken = new Admission() {
            @Override
            public io.netty.util.concurrent.Future<Ticket> enter(io.netty.util.concurrent.EventExecutor executor) {
                throw new IllegalStateException("bug in the admission policy");
            }

            @Override
            public void close() {
            }
        };
        DrainState drain = new DrainState();
        GatewayContext context = new GatewayContext(ready, DemoConfig.BeforeReady.WAIT, config.readyWaitTimeout, broken,
                new TimedBackend(backend, config.backendTimeout, metrics), drain, metrics, HttpErrors.of(config), null, null);
        ConnectionDeadlineHandler deadline = new ConnectionDeadlineHandler(TimeUnit.SECONDS.toNanos(60),
                TimeUnit.SECONDS.toNanos(60), metrics);
        EmbeddedChannel other = new EmbeddedChannel(deadline, GatewayServer.newCodec(config, deadline),
                new GatewayAggregator(config.maxBody), new GatewayHandler(context, deadline));
        try {
            other.writeInbound(Unpooled.copiedBuffer("GET /api/items/1 HTTP/1.1\r\nHost: x\r\n\r\n",
                    StandardCharsets.ISO_8859_1));
            other.runPendingTasks();
            StringBuilder out = new StringBuilder();
            ByteBuf b;
            while ((b = other.readOutbound()) != null) {
                out.append(b.toString(StandardCharsets.ISO_8859_1));
                b.release();
            }
            assertThat(out.toString()).startsWith("HTTP/1.1 500 Internal Server Error")
                    .containsIgnoringCase("connection: close").endsWith("internal server error\n");
            assertThat(other.isActive()).as("closed after the 500").isFalse();
            assertThat(drain.activeRequests()).as("the request ended").isZero();
        } finally {
            other.finishAndReleaseAll();
        }
    }

    @Test
    void anExceptionFromThePipelineDuringARequestIsAnswered500AndGivesThePermitBack() {
        receive("GET /api/items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(limiter.inFlight()).isEqualTo(1);
        ch.pipeline().fireExceptionCaught(new IllegalStateException("bug in another handler"));
        runTasks();

        assertThat(statusLines()).containsExactly("HTTP/1.1 500 Internal Server Error");
        assertThat(backend.cancelled()).as("the backend call is abandoned").isEqualTo(1);
        assertThat(limiter.inFlight()).as("in flight").isZero();
        assertThat(limiter.admitted()).as("admitted").isZero();
        assertThat(limiter.availablePermits()).as("permits").isEqualTo(4);
        assertThat(ch.isActive()).as("closed after the 500").isFalse();
    }

    @Test
    void aResetByThePeerClosesQuietlyWithoutAnAnswer() {
        ch.pipeline().fireExceptionCaught(new java.io.IOException("Connection reset by peer"));
        runTasks();
        assertThat(statusLines()).isEmpty();
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void eachAnswerIsEncodedForItsOwnRequestsMethodAnInterim100TakingNone() {
        // The codec keeps the decoded requests' methods in a FIFO, one taken per final answer, to
        // leave out the body of an answer to HEAD. Were the 100 Continue to take one, the item's
        // answer would take the HEAD's (its body left out, its Content-Length kept: the client
        // would read the next answer as that body) and the HEAD's answer would get a body.
        receive("GET /api/items/1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
                + "HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n" + livez(1));
        assertThat(backend.answerOne()).isTrue();
        runTasks();
        StringBuilder out = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            out.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        String item = new String(SimulatedBackend.body("x"), StandardCharsets.UTF_8);
        assertThat(out.toString()).matches("(?s)HTTP/1\\.1 100 Continue\r\n\r\n"
                + "HTTP/1\\.1 200 OK\r\n.*?\r\n\r\n" + Pattern.quote(item)
                + "HTTP/1\\.1 200 OK\r\n[^\n]*\n[^\n]*content-length: 5\r\n\r\n"
                + "HTTP/1\\.1 200 OK\r\n.*?\r\n\r\nlive\n");
    }

    private String output() {
        StringBuilder out = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            out.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return out.toString();
    }

    @Test
    void aRequestExpecting100WhileTheServerDrainsIsAnswered503InsteadOfThe100AndItsBodyIsNotAwaited() {
        context.drain().startDraining();
        ch.pipeline().fireUserEventTriggered(GatewaySignal.DRAIN);
        receive("GET /api/items/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        runTasks();

        String out = output();
        assertThat(statusLines(out)).containsExactly("HTTP/1.1 503 Service Unavailable");
        assertThat(out).containsIgnoringCase("connection: close").endsWith("server is shutting down\n");
        assertThat(metrics.registry().get("demo.http.interim.responses").counter().count()).isZero();
        assertThat(backend.calls).hasValue(0);
        assertThat(ch.isActive()).as("closed after the 503").isFalse();
    }

    /**
     * A per-client rate of {@code burst} tokens on a clock that never moves (no refill), and the
     * handler on a fresh channel with it: the tokens a request spends are counted exactly.
     */
    private ClientRateLimit frozenPerClientRate(int burst) {
        MockTicker frozen = Ticker.newMockTicker();
        ClientRateLimit perClient = new ClientRateLimit(KeyedLimiter.<String>builder(k -> AsyncRateLimiter
                .builder(1, Duration.ofSeconds(1)).burst(burst).ticker(frozen).build()).build(), 1, burst, false);
        ch.finishAndReleaseAll();
        DemoConfig config = TestSupport.config();
        context = new GatewayContext(context.dbReady(), context.beforeReady(), context.readyWaitTimeout(),
                context.admission(), context.backend(), context.drain(), metrics, context.errors(), perClient, null);
        ConnectionDeadlineHandler deadline = new ConnectionDeadlineHandler(TimeUnit.SECONDS.toNanos(60),
                TimeUnit.SECONDS.toNanos(60), metrics);
        ch = new EmbeddedChannel(deadline, GatewayServer.newCodec(config, deadline), new GatewayAggregator(config.maxBody),
                new GatewayHandler(context, deadline, READ_AHEAD, MAX_PIPELINED));
        return perClient;
    }

    private static final String EXPECTING_ITEM =
            "GET /api/items/e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";

    @Test
    void aRequestExpecting100SpendsItsClientsTokenBeforeThe100AndNotAgainWithItsBody() {
        ClientRateLimit perClient = frozenPerClientRate(3);
        String client = "embedded";                 // an EmbeddedChannel's peer, as clientOf keys it
        receive(EXPECTING_ITEM);
        assertThat(statusLines()).containsExactly("HTTP/1.1 100 Continue");
        assertThat(perClient.statistics(client).available()).as("the token is taken before the 100").isEqualTo(2);

        receive("hi");
        assertThat(backend.answerOne()).isTrue();
        runTasks();
        assertThat(statusLines()).containsExactly("HTTP/1.1 200 OK");
        assertThat(perClient.statistics(client).available()).as("one token for the request, not two").isEqualTo(2);

        receive("GET /api/items/f HTTP/1.1\r\nHost: x\r\n\r\n");   // without Expect: one token too
        assertThat(backend.answerOne()).isTrue();
        runTasks();
        assertThat(statusLines()).containsExactly("HTTP/1.1 200 OK");
        assertThat(perClient.statistics(client).available()).isEqualTo(1);
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void aRequestExpecting100OverItsClientsRateIsAnswered429InsteadOfThe100AndItsBodyIsNotAwaited() {
        ClientRateLimit perClient = frozenPerClientRate(1);
        receive("GET /api/items/f HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(backend.answerOne()).isTrue();
        runTasks();
        assertThat(statusLines()).containsExactly("HTTP/1.1 200 OK");

        receive(EXPECTING_ITEM);
        runTasks();
        String out = output();
        assertThat(statusLines(out)).containsExactly("HTTP/1.1 429 Too Many Requests");
        assertThat(out).containsIgnoringCase("connection: close").containsIgnoringCase("retry-after: ")
                .containsIgnoringCase("ratelimit-policy: \"per-client\"").endsWith("too many requests from this client\n");
        assertThat(metrics.registry().get("demo.http.interim.responses").counter().count()).isZero();
        assertThat(backend.calls).as("only the first request called the backend").hasValue(1);
        assertThat(perClient.statistics("embedded").available()).isZero();
        assertThat(ch.isActive()).as("closed after the 429: the body is never awaited").isFalse();
    }

    @Test
    void aClientLeavingMidRequestIsNotCountedAsAnAnswer400() {
        // On close, the decoder hands over what it had: a request whose headers never ended, as
        // an invalid one. It was "answered" 400 into the closed channel and counted in
        // demo_http_requests_seconds{status="400"}, so that stopping a load generator showed
        // bad requests the server never answered.
        receive("GET /livez HTTP/1.1\r\nHost: x\r\nX-Half: ");
        ch.close();
        runTasks();
        assertThat(metrics.registry().find("demo.http.requests").timers()).as("requests counted").isEmpty();
    }

    @Test
    void aClientLeavingMidBodyIsNotLoggedAsAnUnexpectedFailure() {
        // The aggregator, closed while aggregating, fires a PrematureChannelClosureException
        // (not an IOException) before channelInactive: it was taken for a bug and logged at WARN
        // with its stack trace, "unexpected failure ... closing the connection", for every client
        // that left during its body, and for every slow body cut by the read timeout's 408.
        try (InternalErrorTest.WarningLog log = new InternalErrorTest.WarningLog()) {
            receive("POST /api/items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
            ch.close();
            runTasks();
            assertThat(log.records).as("nothing logged at WARN").isEmpty();
        }
        assertThat(metrics.registry().find("demo.http.requests").timers()).as("requests counted").isEmpty();
    }

    @Test
    void aClientLeavingMidBodyOfAPipelinedRequestEndsTheRunningOneAs499Quietly() {
        try (InternalErrorTest.WarningLog log = new InternalErrorTest.WarningLog()) {
            receive("GET /api/items/slow HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /api/items/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
            assertThat(limiter.inFlight()).isEqualTo(1);
            ch.close();
            runTasks();
            assertThat(log.records).as("nothing logged at WARN").isEmpty();
        }
        assertThat(metrics.registry().find("demo.http.requests").tag("status", "499").timers())
                .as("the running request ended as its client left").hasSize(1);
        assertThat(backend.cancelled()).as("its backend call is abandoned").isEqualTo(1);
        assertThat(limiter.inFlight()).as("in flight").isZero();
        assertThat(limiter.admitted()).as("admitted").isZero();
    }

    /**
     * The handler alone (no codec, no aggregator) fed requests built here on pooled memory, so
     * the test holds the exact buffers: {@code n} requests, the first one for the backend.
     */
    private List<FullHttpRequest> feedBare(EmbeddedChannel bare, int n) {
        List<FullHttpRequest> sent = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
                    i == 0 ? "/api/items/slow" : "/livez",
                    PooledByteBufAllocator.DEFAULT.buffer().writeBytes(new byte[] {'b', 'o', 'd', 'y'}));
            r.headers().set(HttpHeaderNames.HOST, "x").setInt(HttpHeaderNames.CONTENT_LENGTH, 4);
            sent.add(r);
            bare.writeInbound(r);
        }
        bare.runPendingTasks();
        return sent;
    }

    private EmbeddedChannel bareHandler() {
        ConnectionDeadlineHandler deadline = new ConnectionDeadlineHandler(TimeUnit.SECONDS.toNanos(60),
                TimeUnit.SECONDS.toNanos(60), metrics);
        return new EmbeddedChannel(deadline, new GatewayHandler(context, deadline, READ_AHEAD, MAX_PIPELINED));
    }

    @Test
    void requestsWaitingOrPastTheBoundAreReleasedWhenTheClientLeaves() {
        EmbeddedChannel bare = bareHandler();
        List<FullHttpRequest> sent = feedBare(bare, 1 + MAX_PIPELINED + 2);
        assertThat(sent.get(0).refCnt()).as("the running request is released once served").isZero();
        assertThat(sent.subList(1, 1 + MAX_PIPELINED)).as("the waiting ones are held").allMatch(r -> r.refCnt() == 1);
        assertThat(sent.subList(1 + MAX_PIPELINED, sent.size())).as("past the bound: released at once")
                .allMatch(r -> r.refCnt() == 0);

        bare.close();
        bare.runPendingTasks();

        assertThat(sent).as("every request released").allMatch(r -> r.refCnt() == 0);
        assertThat(bare.finishAndReleaseAll()).as("nothing was answered").isFalse();
        assertThat(limiter.admitted()).as("admitted").isZero();
    }

    @Test
    void everyRequestAndResponseIsReleasedWhenAllAreAnsweredThenTheBoundsClose() {
        EmbeddedChannel bare = bareHandler();
        List<FullHttpRequest> sent = feedBare(bare, 1 + MAX_PIPELINED + 2);
        assertThat(backend.answerOne()).isTrue();
        for (int i = 0; i < 1000 && bare.hasPendingTasks(); i++) {
            bare.runPendingTasks();
        }
        List<FullHttpResponse> answers = new ArrayList<>();
        Object o;
        while ((o = bare.readOutbound()) != null) {
            answers.add((FullHttpResponse) o);
        }
        assertThat(answers).as("every earlier request answered, then one 503").hasSize(1 + MAX_PIPELINED + 1);
        assertThat(answers.get(answers.size() - 1).status().code()).isEqualTo(503);
        assertThat(bare.isActive()).as("closed after the 503").isFalse();
        assertThat(sent).as("every request released").allMatch(r -> r.refCnt() == 0);
        answers.forEach(FullHttpResponse::release);
        bare.finishAndReleaseAll();
    }

    private long answered499() {
        var timer = metrics.registry().find("demo.http.requests").tag("status", "499").timer();
        return timer == null ? 0 : timer.count();
    }

    @Test
    void aHandlerRemovedFromThePipelineReleasesWhatItQueuedAndGivesBackWhatItsRequestHolds() {
        // Without handlerRemoved, a handler taken out of a live pipeline kept its queued requests
        // (reference-counted: leaked) and its running request's permit and place for ever.
        EmbeddedChannel bare = bareHandler();
        List<FullHttpRequest> sent = feedBare(bare, 1 + READ_AHEAD);
        assertThat(limiter.inFlight()).as("the first request holds a permit").isEqualTo(1);
        assertThat(sent.subList(1, sent.size())).as("the others wait").allMatch(r -> r.refCnt() == 1);
        assertThat(bare.config().isAutoRead()).as("reading paused at the read-ahead").isFalse();

        bare.pipeline().remove(GatewayHandler.class);
        bare.runPendingTasks();

        assertThat(sent).as("every request released").allMatch(r -> r.refCnt() == 0);
        assertThat(backend.cancelled()).as("the backend call is abandoned").isEqualTo(1);
        assertThat(limiter.inFlight()).as("in flight").isZero();
        assertThat(limiter.admitted()).as("admitted").isZero();
        assertThat(limiter.availablePermits()).as("permits").isEqualTo(4);
        assertThat(context.drain().activeRequests()).as("requests in progress").isZero();
        assertThat(answered499()).as("the running request ended once, unanswered").isEqualTo(1);
        assertThat(bare.config().isAutoRead()).as("reading turned back on for whoever reads next").isTrue();
        assertThat(bare.isActive()).as("the channel itself is left alone").isTrue();

        bare.close();                      // channelInactive reaches no handler of ours now
        bare.runPendingTasks();
        assertThat(answered499()).isEqualTo(1);
        assertThat(context.drain().activeRequests()).isZero();
        assertThat(bare.finishAndReleaseAll()).as("nothing was answered").isFalse();
    }

    @Test
    void aCloseThenTheRemovalThatFollowsItEndTheRequestOnce() {
        // Netty removes every handler after the channel closes: channelInactive, then
        // handlerRemoved. The request must end once (one 499, one place given back).
        EmbeddedChannel bare = bareHandler();
        List<FullHttpRequest> sent = feedBare(bare, 3);
        assertThat(limiter.inFlight()).isEqualTo(1);

        bare.close();
        bare.runPendingTasks();
        assertThat(bare.pipeline().get(GatewayHandler.class)).as("removed after the close").isNull();

        assertThat(sent).as("every request released").allMatch(r -> r.refCnt() == 0);
        assertThat(answered499()).as("the running request ended once").isEqualTo(1);
        assertThat(context.drain().activeRequests()).isZero();
        assertThat(limiter.inFlight()).isZero();
        assertThat(limiter.admitted()).isZero();
        assertThat(limiter.availablePermits()).isEqualTo(4);
        bare.finishAndReleaseAll();
    }

    @Test
    void targetPathAcceptsOriginAndAbsoluteForm() {
        assertThat(GatewayHandler.targetPath("/api/items/1?x=2")).isEqualTo("/api/items/1");
        assertThat(GatewayHandler.targetPath("http://h:80/api/items/1?x")).isEqualTo("/api/items/1");
        assertThat(GatewayHandler.targetPath("HTTPS://h")).isEqualTo("/");
        assertThat(GatewayHandler.targetPath("http://h?q")).isEqualTo("/");
        assertThat(GatewayHandler.targetPath("*")).isNull();
        assertThat(GatewayHandler.targetPath("ftp://h/x")).isNull();
        assertThat(GatewayHandler.targetPath("http:///x")).isNull();
        assertThat(GatewayHandler.targetPath("example.com:443")).isNull();
    }

    @Test
    void hostRules() {
        assertThat(GatewayHandler.hostProblem(headers(), false)).isEqualTo("missing Host header");
        assertThat(GatewayHandler.hostProblem(headers(), true)).as("HTTP/1.0 needs none").isNull();
        assertThat(GatewayHandler.hostProblem(headers("a", "b"), true)).isEqualTo("more than one Host header");
        assertThat(GatewayHandler.hostProblem(headers("[::1]:8080"), false)).isNull();
        assertThat(GatewayHandler.hostProblem(headers(""), false)).as("empty is allowed").isNull();
        assertThat(GatewayHandler.hostProblem(headers("a b"), false)).isEqualTo("invalid Host header");
        assertThat(GatewayHandler.hostProblem(headers("a/b"), false)).isEqualTo("invalid Host header");
    }

    private static HttpHeaders headers(String... hosts) {
        HttpHeaders h = new DefaultHttpHeaders();
        for (String host : hosts) {
            h.add("Host", host);
        }
        return h;
    }

    @Test
    void printableEscapesEverythingButPrintableAscii() {
        assertThat(GatewayHandler.printable("/ok-path_1")).isEqualTo("/ok-path_1");
        assertThat(GatewayHandler.printable("/a b\u0000\u001b\u00c3\u00a9")).isEqualTo("/a%20b%00%1B%C3%A9");
        assertThat(GatewayHandler.printable("x".repeat(500))).hasSize(203).endsWith("...");
    }

    /** The characters just inside and just outside each class each helper accepts. */
    @Test
    void theParsingHelpersAreExactAtEveryCharacterClassBoundary() {
        for (String ok : new String[] {"a", "z", "A", "Z", "0", "9", "-", "%", "h.example:80"}) {
            assertThat(GatewayHandler.hostProblem(headers(ok), false)).as("Host '%s'", ok).isNull();
        }
        for (String bad : new String[] {"`", "{", "@", "/", "\"", "<"}) {
            assertThat(GatewayHandler.hostProblem(headers(bad), false)).as("Host '%s'", bad).isEqualTo("invalid Host header");
        }

        assertThat(GatewayHandler.validId("x".repeat(64))).isTrue();
        assertThat(GatewayHandler.validId("az-AZ_09")).isTrue();
        for (String bad : new String[] {"`", "{", "@", "[", "/", ":", "."}) {
            assertThat(GatewayHandler.validId(bad)).as("id '%s'", bad).isFalse();
        }

        // Unreserved characters are decoded, at each end of each range; anything else stays encoded.
        assertThat(GatewayHandler.normalized("/%61%7A%41%5A%30%39%2D")).isEqualTo("/azAZ09-");
        assertThat(GatewayHandler.normalized("/%60%7B%40%5B%2F%3A%0A")).isEqualTo("/%60%7B%40%5B%2F%3A%0A");
        // Hex digits, either case, at each end of each range; a '%' without two of them is malformed.
        assertThat(GatewayHandler.normalized("/%6a%6A%6f%6F%3f")).isEqualTo("/jjoo%3f");
        for (String bad : new String[] {"/%", "/x%4", "/%4/", "/%4:", "/%4`", "/%4g", "/%4@", "/%4G", "/%/4", "/%:4"}) {
            assertThat(GatewayHandler.normalized(bad)).as("'%s'", bad).isNull();
        }

        assertThat(GatewayHandler.printable("!~")).isEqualTo("!~");
        assertThat(GatewayHandler.printable(" \u007f")).isEqualTo("%20%7F");
        // Cut at 200 characters even when an escape crosses the bound.
        assertThat(GatewayHandler.printable("a".repeat(199) + "\u0001")).isEqualTo("a".repeat(199) + "%...");
    }

    @Test
    void theReadAheadIsAtLeastOneAndAtMostTheBound() {
        new GatewayHandler(context, null, 1, 1);
        assertThatThrownBy(() -> new GatewayHandler(context, null, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("need 1 <= readAhead <= maxPipelined, got 0, 1");
        assertThatThrownBy(() -> new GatewayHandler(context, null, 2, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("need 1 <= readAhead <= maxPipelined, got 2, 1");
    }

    @Test
    void theItemsPrefixAloneIsNoItem404() {
        receive("GET /api/items/ HTTP/1.1\r\nHost: x\r\n\r\n");
        runTasks();
        assertThat(statusLines()).containsExactly("HTTP/1.1 404 Not Found");
    }

    private static String items(int from, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = from; i < from + n; i++) {
            b.append("GET /api/items/").append(i).append(" HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        return b.toString();
    }

    @Test
    void readingPausesWhenExactlyReadAheadRequestsWaitAndResumesAtHalfOfThem() {
        receive(items(0, 1 + READ_AHEAD - 1));
        assertThat(ch.config().isAutoRead()).as("%d wait: reading goes on", READ_AHEAD - 1).isTrue();
        receive(items(READ_AHEAD, 1));
        assertThat(ch.config().isAutoRead()).as("%d wait: paused", READ_AHEAD).isFalse();

        assertThat(backend.answerOne()).isTrue();
        runTasks();
        assertThat(ch.config().isAutoRead()).as("%d wait: still paused", READ_AHEAD - 1).isFalse();
        assertThat(backend.answerOne()).isTrue();
        runTasks();
        assertThat(ch.config().isAutoRead()).as("%d wait: resumed", READ_AHEAD / 2).isTrue();
        while (backend.answerOne()) {
            runTasks();
        }
        assertThat(statusLines()).hasSize(1 + READ_AHEAD).allMatch(l -> l.startsWith("HTTP/1.1 200"));
    }

    @Test
    void aBackendsOwn2xxIsPassedOnAnd3xxOr1xxIs502() {
        int[][] cases = {{201, 201}, {299, 299}, {300, 502}, {199, 502}, {404, 404}, {500, 502}};
        for (int[] c : cases) {
            receive(items(c[0], 1));
            backend.open.poll().trySuccess(new Backend.BackendResponse(c[0], SimulatedBackend.body("x"), "application/json"));
            runTasks();
            assertThat(statusLines()).as("backend %d", c[0]).singleElement().asString().startsWith("HTTP/1.1 " + c[1] + " ");
        }
    }

    @Test
    void aRequestsLatenciesAreCountedFromItsStart() {
        receive(livez(1));
        runTasks();
        Matcher m = Pattern.compile("demo_http_requests_seconds_sum\\{route=\"/livez\",status=\"200\"\\} ([0-9.E-]+)")
                .matcher(metrics.scrape());
        assertThat(m.find()).as(metrics.scrape()).isTrue();
        assertThat(Double.parseDouble(m.group(1))).as("seconds").isBetween(0.0, 60.0);
        // And until its answer was flushed.
        m = Pattern.compile("demo_response_latency_seconds_sum\\{status=\"200\"\\} ([0-9.E-]+)").matcher(metrics.scrape());
        assertThat(m.find()).as(metrics.scrape()).isTrue();
        assertThat(Double.parseDouble(m.group(1))).as("seconds").isBetween(0.0, 60.0);
    }

    @Test
    void aTargetThatIsNeitherAPathNorAnHttpUriIs400() {
        receive("GET * HTTP/1.1\r\nHost: x\r\n\r\n");
        runTasks();
        assertThat(output()).startsWith("HTTP/1.1 400 Bad Request").endsWith("\r\n\r\nrequest target must be a /path or an http:// URI\n");
    }

    @Test
    void anItemRequestWhileTheServerDrainsIs503AndCloses() {
        context.drain().startDraining();
        receive(items(1, 1));
        runTasks();
        String out = output();
        assertThat(out).startsWith("HTTP/1.1 503 Service Unavailable").containsIgnoringCase("connection: close")
                .endsWith("\r\n\r\nserver is shutting down\n");
        assertThat(backend.calls.get()).isZero();
    }

    @Test
    void theDrainAnswersARequestWaitingForTheDatabase503AndItsWaitLeavesTheEvent() {
        ch.finishAndReleaseAll();
        AsyncEvent notReady = new AsyncEvent();
        DemoConfig config = TestSupport.config();
        context = new GatewayContext(notReady, DemoConfig.BeforeReady.WAIT, Duration.ofHours(1), context.admission(),
                context.backend(), context.drain(), metrics, context.errors(), null, null);
        ConnectionDeadlineHandler deadline = new ConnectionDeadlineHandler(TimeUnit.SECONDS.toNanos(60),
                TimeUnit.SECONDS.toNanos(60), metrics);
        ch = new EmbeddedChannel(deadline, GatewayServer.newCodec(config, deadline), new GatewayAggregator(config.maxBody),
                new GatewayHandler(context, deadline, READ_AHEAD, MAX_PIPELINED));
        receive(items(1, 1));
        runTasks();
        assertThat(notReady.queueLength()).as("waiting for the database").isEqualTo(1);

        context.drain().startDraining();
        ch.pipeline().fireUserEventTriggered(GatewaySignal.DRAIN);
        runTasks();
        assertThat(output()).startsWith("HTTP/1.1 503 Service Unavailable").endsWith("\r\n\r\nserver is shutting down\n");
        // Left there, the wait would hold the request until --ready-wait-timeout (an hour here).
        assertThat(notReady.queueLength()).as("its wait left the event").isZero();
        assertThat(backend.calls.get()).isZero();
    }
}
