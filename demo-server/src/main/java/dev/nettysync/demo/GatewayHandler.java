package dev.nettysync.demo;

import dev.nettysync.limit.RateLimitedException;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Routes and answers the requests of one connection, one at a time and in order.
 *
 * <h2>A request for an item</h2>
 * {@code GET /api/items/{id}}: if the server drains, 503; if the database is not ready and the
 * mode is {@code reject}, 503. Then the rates, each refusing with 429: the per-client rate
 * ({@link ClientRateLimit}, local), then the fleet's ({@link FleetRateLimit}, one Redis round
 * trip, during which the request holds nothing and its client may leave). Then the request
 * {@linkplain Admission#enter enters} the admission policy at once (refused: 503 now); then, if
 * the database is not ready,
 * it waits for readiness (bounded); then it calls the backend through its ticket. Health routes
 * and {@code /metrics} bypass readiness and admission. {@code HEAD} is answered like
 * {@code GET}, without the body (the codec drops it, keeping {@code Content-Length}).
 *
 * <p>A client that disconnects while its request waits (for admission, readiness or a permit)
 * leaves the queue at once: its wait future is cancelled. One that disconnects during the
 * backend call cancels the call, whose completion gives back the permit and the place, once.
 *
 * <h2>HTTP/1.1 by the book (RFC 9110, 9112)</h2>
 * Origin-form and absolute-form targets are served; an HTTP/1.1 request without exactly one
 * valid {@code Host} is 400; a major version other than 1 is 505; an expectation other than
 * {@code 100-continue} is 417; every answer is counted in the metrics, failures included, and
 * each failure passes through the one mapping of {@link HttpErrors}.
 *
 * <h2>Unexpected failures</h2>
 * An exception nobody mapped (a bug on the request's path, thrown synchronously or in one of
 * its futures' listeners, where Netty would only log it; a {@link Backend} breaking its
 * contract; an exception from another handler) is answered 500 with {@code Connection: close}
 * if the request has no answer yet, else the connection closes; it is logged once, at WARN,
 * and the request's wait and backend call are cancelled, so its permit and place come back.
 * An {@link IOException} (a reset by the peer) or a {@link PrematureChannelClosureException} (the
 * connection closed during a request's body, which the aggregator reports) just closes the
 * connection.
 *
 * <h2>Pipelining</h2>
 * Requests decoded while one is in progress wait in {@link #pending}, and are answered in order.
 * When {@code readAhead} of them wait, the handler stops reading the socket ({@code autoRead}
 * off: back-pressure, the client's writes block in TCP) and resumes when half of them were
 * answered. The decoder still delivers what was read already (at most one socket read); past {@code maxPipelined}
 * waiting requests, the next one is answered 503 after all earlier ones, and what follows is
 * discarded. Never silence, never a reset: when the connection closes with requests unanswered
 * (this 503, or a drain), it closes by a <em>lingering close</em> (RFC 9112 §9.6, as Apache
 * and nginx do): output shut down (FIN) after the last response, input read and discarded until
 * the client closes or {@link #LINGER_MILLIS} pass, so that unread input does not turn the close
 * into a reset that destroys responses still in flight to the client.
 *
 * <h2>{@code Expect: 100-continue}</h2>
 * The head of a request expecting {@code 100 Continue} arrives first, as a
 * {@link ContinueExpected} (from the {@link GatewayAggregator}), and waits in {@link #pending}
 * with the requests like one of them: the {@code 100} is sent only once every earlier request
 * is answered and its answer written, so that the client cannot take it for theirs (RFC 9110
 * §15.2, RFC 9112 §9.3). Until then the client holds its body back, so a waiting head costs no
 * more memory than a request; once the {@code 100} is out, reading resumes if it was paused
 * (nothing is queued behind a head whose body has not come), so a client that waits for it
 * always gets it. A request that the server would refuse then whatever its body (an item
 * request while the server drains, while the database is not ready in {@code reject} mode, or
 * when the admission policy is full: {@link Admission#refusalNow()}) is answered its 503 instead
 * of the {@code 100}, with {@code Connection: close}: its body is never read, and the connection
 * closes by a lingering close, as after a 413.
 *
 * <p>The rates are taken at the head's turn too, before the {@code 100}, in the same order as
 * without {@code Expect} (after the 503s above, which spend nothing): the per-client rate, then
 * the fleet's (one Redis round trip, during which the head's turn waits as a request would: in
 * flight for the drain, 499 if its client leaves). Over either, the head is answered its 429
 * with {@code Retry-After} instead of the {@code 100} and the connection closes as above: a
 * client over its rate is not invited to send a body only to have it refused. Admitted, the
 * request keeps what it spent: once its body is in, it goes straight to the admission policy
 * without asking the rates again, so a request spends one token of each rate whichever way it
 * comes. A token taken at the head is spent whether or not the body then arrives (the client
 * may leave, or the body be too large), as a token taken without {@code Expect} is spent
 * whatever a later step answers. Refusals about the request itself (404, 405, a bad id, a bad
 * {@code X-Forwarded-For}) come after the body, as without {@code Expect}: such a head takes no
 * rate.
 *
 * <h2>End of the connection, or of the handler</h2>
 * When the channel closes or the handler is removed from the pipeline (whichever comes first;
 * the other then does nothing), the current request, if unanswered, leaves its wait or cancels
 * its backend call (its permit and place come back) and is counted as 499, and every queued
 * request is released. A removed handler turns reading back on if it had paused it.
 *
 * <p>One instance per connection; all methods and fields are confined to its event loop.
 */
final class GatewayHandler extends ChannelInboundHandlerAdapter {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(GatewayHandler.class);
    private static final String ITEMS_PREFIX = "/api/items/";
    /** Requests waiting on one connection at which reading pauses. */
    static final int DEFAULT_READ_AHEAD = 16;
    /** Requests waiting on one connection beyond which the next is answered 503 and the connection closes. */
    static final int DEFAULT_MAX_PIPELINED = 256;
    /** Longest lingering close, in milliseconds. */
    static final long LINGER_MILLIS = 2_000;
    /** nginx's "client closed request", recorded in metrics for requests whose client left. */
    static final int CLIENT_CLOSED = 499;

    /** Where the current request is. */
    private enum Stage { NONE, RATE, ENTERING, READY_WAIT, CALLING }

    private final GatewayContext gw;
    private final ConnectionDeadlineHandler deadline;
    private final int readAhead;
    private final int maxPipelined;
    private final ArrayDeque<Object> pending = new ArrayDeque<>(); // decoded, not started; loop only
    private ChannelHandlerContext ctx;       // set in handlerAdded
    private boolean readingPaused;           // autoRead turned off by this handler; loop only
    private boolean overflowed;              // TOO_MANY_PIPELINED queued: discard what follows; loop only
    private boolean closeAfterResponse;      // set by DRAIN; loop only
    private boolean lingering;               // output shut, discarding input until close; loop only
    private boolean gone;                    // channelInactive or handlerRemoved ran: nothing more is taken up; loop only
    private boolean takingUp;                // takeUpPending's loop runs; loop only
    // The current request; all loop only.
    private boolean busy;                    // between start and its response written
    private boolean answered;                // its response was produced (or its client left)
    private boolean bodyUnread;              // answered before its body was read (413, or refused at its 100)
    private Stage stage = Stage.NONE;
    private Route route;
    private long startNanos;
    private boolean keepAlive;               // as the request asked
    private boolean http10;
    private Future<?> wait;                  // the current admission, readiness or permit wait (or the call)
    private Admission.Ticket ticket;         // its place in the admission policy, or null
    private Future<?> backendCall;           // the running backend call, or null
    private String client;                   // the per-client rate's key of the request, or null
    private boolean ratesTaken;              // its rates were admitted at its head, before its 100
    private HttpRequest rateAdmittedHead;    // a head sent its 100 with its rates taken, until its request starts; loop only
    private HttpStatusException badClient;   // why the request has no usable key (bad X-Forwarded-For), or null

    GatewayHandler(GatewayContext gw, ConnectionDeadlineHandler deadline) {
        this(gw, deadline, DEFAULT_READ_AHEAD, DEFAULT_MAX_PIPELINED);
    }

    GatewayHandler(GatewayContext gw, ConnectionDeadlineHandler deadline, int readAhead, int maxPipelined) {
        if (readAhead < 1 || maxPipelined < readAhead) {
            throw new IllegalArgumentException("need 1 <= readAhead <= maxPipelined, got " + readAhead + ", " + maxPipelined);
        }
        this.gw = gw;
        this.deadline = deadline;
        this.readAhead = readAhead;
        this.maxPipelined = maxPipelined;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest) && msg != GatewaySignal.BODY_TOO_LARGE && !(msg instanceof ContinueExpected)
                || overflowed || lingering || gone || !ctx.channel().isActive()) {
            // Not a request; or discarded (past the pipelining bound, lingering); or handed over
            // by the decoder as the connection closed (a request cut off, as an invalid one):
            // nobody is left to answer, and nothing is counted.
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!busy) {
            takeUp(msg);
            return;
        }
        if (pending.size() >= maxPipelined) {
            ReferenceCountUtil.release(msg);
            overflowed = true;
            pending.add(GatewaySignal.TOO_MANY_PIPELINED);
            return;
        }
        pending.add(msg);
        if (pending.size() >= readAhead && !readingPaused) {
            readingPaused = true;
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt != GatewaySignal.DRAIN) {
            ctx.fireUserEventTriggered(evt);
            return;
        }
        // An idle keep-alive connection stays open while the drain lasts: a request racing the
        // drain gets a real answer (503, or /readyz's 503) with "Connection: close" instead of a
        // reset. The drain's end closes whatever is left.
        closeAfterResponse = true;
        if (busy && !answered && stage == Stage.READY_WAIT) {
            // Waiting for readiness while shutting down: answer now rather than at the timeout.
            cancelWait();
            fail(HttpStatusException.shuttingDown());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        abandon();
        ctx.fireChannelInactive();
    }

    /**
     * Removed from the pipeline (also after every close, once the channel is deregistered): see
     * the class notes. Reading is turned back on if this handler had paused it, for whoever reads
     * the connection next.
     */
    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        abandon();
        if (readingPaused) {
            readingPaused = false;
            ctx.channel().config().setAutoRead(true);
        }
    }

    /**
     * Nobody will answer here any more: the current request, if unanswered, stops waiting (its
     * permit and place come back) and ends as 499; the queued ones are released. Once: later
     * calls find nothing to do.
     */
    private void abandon() {
        gone = true;
        if (busy && !answered) {
            cancelWait();                  // leaves the queue, or cancels the backend call
            end(CLIENT_CLOSED);
        }
        busy = false;
        Object m;
        while ((m = pending.poll()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException || cause instanceof PrematureChannelClosureException) {
            // The peer reset the connection or went away (the aggregator says so, before
            // channelInactive, when the connection closed during a body): nobody is left to answer.
            logger.debug("closing {} after {}", ctx.channel(), cause.toString());
            ctx.close();
            return;
        }
        // Thrown by this handler's channelRead/userEventTriggered (a bug on the request's own
        // path, synchronously) or by another handler of the pipeline.
        unexpected("serving a request", cause);
    }

    // ---------------------------------------------------------------- one request

    /** Takes up the next message in order: a request, or the head of one that waits for its 100. */
    private void takeUp(Object msg) {
        if (msg instanceof ContinueExpected expected) {
            continueOrRefuse(expected.head());
        } else {
            start(msg);
        }
    }

    /**
     * The turn of a request expecting {@code 100 Continue}: every earlier request is answered.
     * Sends the {@code 100} (the request itself is started once its body is in), or, if the
     * server would refuse the request now whatever its body, answers that instead, closing the
     * connection: the body is never read. An item request takes its rate admission here, before
     * the {@code 100} (per-client, then fleet: one Redis round trip, during which the head's turn
     * waits like a request), and its request reuses it once its body is in.
     */
    private void continueOrRefuse(HttpRequest head) {
        if (!itemHead(head)) {
            sendContinue();                // answered after its body, as without Expect
            return;
        }
        Throwable refusal = refusalBeforeBody();
        if (refusal == null) {
            refusal = clientRateBeforeBody(head);
        }
        if (refusal != null) {
            begin();
            route = Route.ITEM;
            refuseBeforeBody(refusal);
            return;
        }
        if (gw.fleetRate() == null) {
            continueAdmitted(head);
            return;
        }
        // The fleet's rate decides in one Redis round trip: the head's turn waits as a request
        // does (counted in flight; a client that leaves meanwhile cancels it and ends as 499).
        begin();
        route = Route.ITEM;
        stage = Stage.RATE;
        await(gw.fleetRate().admit(ctx.executor()), admitted -> {
            Throwable refused = fleetRefusal(admitted);
            if (refused != null) {
                refuseBeforeBody(refused);
                return;
            }
            busy = false;                  // not yet a request: it starts once its body is in
            stage = Stage.NONE;
            gw.drain().requestEnded();
            deadline.responseDone();       // waiting for the body: the read deadline again
            continueAdmitted(head);
            if (!takingUp) {               // (decided at once inside takeUpPending: its loop goes on)
                takeUpPending();
            }
        }, null);
    }

    /**
     * Whether {@code head} is that of an item request that its head alone may refuse (a valid
     * {@code GET} or {@code HEAD} of an item): any other is answered after its body, as without
     * {@code Expect}.
     */
    private static boolean itemHead(HttpRequest head) {
        String path = normalized(targetPath(head.uri()));
        return path != null && path.startsWith(ITEMS_PREFIX) && validId(path.substring(ITEMS_PREFIX.length()))
                && (HttpMethod.GET.equals(head.method()) || HttpMethod.HEAD.equals(head.method()))
                && head.protocolVersion().majorVersion() == 1 && hostProblem(head.headers(), false) == null;
    }

    /**
     * Why an item request would be refused now, from its head alone and without spending
     * anything (503: draining, database not ready in {@code reject} mode, admission full or
     * closed), or null: see the class notes.
     */
    private Throwable refusalBeforeBody() {
        if (gw.drain().isDraining()) {
            return HttpStatusException.shuttingDown();
        }
        if (!gw.dbReady().isSet() && gw.beforeReady() == DemoConfig.BeforeReady.REJECT) {
            return HttpStatusException.databaseNotReady();
        }
        return gw.admission().refusalNow();
    }

    /**
     * The per-client rate of an item request's head: spends the client's token (then null), or
     * the refusal (429). A head without a usable key (a bad {@code X-Forwarded-For}) spends
     * nothing here: its request is answered 400 after its body, as without {@code Expect}.
     */
    private Throwable clientRateBeforeBody(HttpRequest head) {
        ClientRateLimit perClient = gw.perClient();
        if (perClient == null) {
            return null;
        }
        String key;
        try {
            key = perClient.clientOf(ctx.channel().remoteAddress(), head.headers());
        } catch (HttpStatusException e) {
            return null;
        }
        return perClient.admit(key, ctx.executor());
    }

    /**
     * The fleet rate's answer, once its Redis round trip is done: null if admitted, else why not
     * (its refusal, or 503 if the server began draining during the round trip).
     */
    private Throwable fleetRefusal(Future<?> admitted) {
        return !admitted.isSuccess() ? admitted.cause()
                : gw.drain().isDraining() ? HttpStatusException.shuttingDown() : null;
    }

    /** The head's refusal, answered with {@code Connection: close} instead of its {@code 100}. */
    private void refuseBeforeBody(Throwable refusal) {
        bodyUnread = true;                 // keepAlive stays false: "Connection: close"
        fail(refusal);
    }

    /** The rates admitted {@code head}'s request: its {@code 100}, and the admission kept for its request. */
    private void continueAdmitted(HttpRequest head) {
        rateAdmittedHead = head;
        sendContinue();
    }

    private void sendContinue() {
        gw.metrics().recordInterimResponse(HttpResponseStatus.CONTINUE.code());
        ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                Unpooled.EMPTY_BUFFER)).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }

    /** The state of a request that starts being answered. */
    private void begin() {
        busy = true;
        answered = false;
        bodyUnread = false;
        stage = Stage.NONE;
        deadline.requestStarted();
        gw.drain().requestStarted();
        startNanos = System.nanoTime();
        route = Route.OTHER;
        http10 = false;
        keepAlive = false;
    }

    private void start(Object msg) {
        begin();
        // The rates its head took before its 100, if this is that request (it shares the head's
        // headers); any other message ends that admission unused (it was spent, as documented).
        ratesTaken = rateAdmittedHead != null && msg instanceof FullHttpRequest r
                && r.headers() == rateAdmittedHead.headers();
        rateAdmittedHead = null;
        if (msg instanceof GatewaySignal signal) {
            bodyUnread = signal == GatewaySignal.BODY_TOO_LARGE;   // its client may still be sending it
            fail(switch (signal) {
                case BODY_TOO_LARGE -> gw.errors().bodyTooLarge();
                case TOO_MANY_PIPELINED -> new HttpStatusException(HttpResponseStatus.SERVICE_UNAVAILABLE,
                        "more than " + maxPipelined + " pipelined requests waiting; send the rest again", true);
                case DRAIN -> throw new IllegalStateException("DRAIN is an event, not a request");
            });
            return;
        }
        FullHttpRequest request = (FullHttpRequest) msg;
        try {
            serve(request);
        } finally {
            request.release();
        }
    }

    private void serve(FullHttpRequest request) {
        DecoderResult result = request.decoderResult();
        if (!result.isSuccess()) {
            // Refused by the codec from its head (a transfer coding): its body may still be coming.
            bodyUnread = result.cause() instanceof HttpStatusException;
            fail(HttpErrors.decodingFailure(result.cause()));   // the decoder discards the rest of the stream
            return;
        }
        HttpVersion version = request.protocolVersion();
        if (version.majorVersion() != 1) {
            fail(new HttpStatusException(HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED,
                    version.text() + " is not supported; use HTTP/1.1", true));
            return;
        }
        http10 = version.minorVersion() == 0;
        keepAlive = HttpUtil.isKeepAlive(request);
        String hostProblem = hostProblem(request.headers(), http10);
        if (hostProblem != null) {
            fail(HttpStatusException.badRequest(hostProblem));
            return;
        }
        if (!http10 && unsupportedExpectation(request.headers())) {
            fail(new HttpStatusException(HttpResponseStatus.EXPECTATION_FAILED,
                    "only 'Expect: 100-continue' is supported", false));
            return;
        }
        ClientRateLimit perClient = gw.perClient();
        client = null;
        badClient = null;
        if (perClient != null) {
            try {
                client = perClient.clientOf(ctx.channel().remoteAddress(), request.headers());
            } catch (HttpStatusException e) {
                badClient = e;         // answered 400 by an item request only: health routes are not keyed
            }
        }
        route(request.method(), request.uri());
    }

    private void route(HttpMethod method, String uri) {
        String path = targetPath(uri);
        if (path == null) {
            fail(HttpStatusException.badRequest("request target must be a /path or an http:// URI"));
            return;
        }
        path = normalized(path);
        if (path == null) {
            respondText(HttpResponseStatus.BAD_REQUEST, "malformed percent-encoding in the path (% must be followed by two hex digits)");
            return;
        }
        if (path.startsWith(ITEMS_PREFIX) && path.length() > ITEMS_PREFIX.length()) {
            route = Route.ITEM;
        } else {
            switch (path) {
                case "/livez" -> route = Route.LIVEZ;
                case "/readyz" -> route = Route.READYZ;
                case "/metrics" -> route = Route.METRICS;
                default -> {
                    respondText(HttpResponseStatus.NOT_FOUND, "no such resource: " + printable(path));
                    return;
                }
            }
        }
        if (!HttpMethod.GET.equals(method) && !HttpMethod.HEAD.equals(method)) {
            FullHttpResponse response = Responses.text(ctx.alloc(), HttpResponseStatus.METHOD_NOT_ALLOWED,
                    "method " + printable(method.name()) + " not allowed; use GET or HEAD", keepAlive());
            response.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
            respond(response);
            return;
        }
        switch (route) {
            case LIVEZ -> respondText(HttpResponseStatus.OK, "live");
            case READYZ -> {
                if (gw.drain().isDraining()) {
                    fail(new HttpStatusException(HttpResponseStatus.SERVICE_UNAVAILABLE, "draining", false));
                } else if (!gw.dbReady().isSet()) {
                    fail(HttpStatusException.databaseNotReady());
                } else {
                    respondText(HttpResponseStatus.OK, "ready");
                }
            }
            case METRICS -> respond(Responses.of(ctx.alloc(), HttpResponseStatus.OK,
                    gw.metrics().scrape().getBytes(StandardCharsets.UTF_8),
                    "text/plain; version=0.0.4; charset=utf-8", keepAlive()));
            case ITEM -> item(path.substring(ITEMS_PREFIX.length()));
            default -> throw new IllegalStateException("unrouted " + route);
        }
    }

    private void item(String id) {
        if (!validId(id)) {
            respondText(HttpResponseStatus.BAD_REQUEST, "item id must be 1-64 of [A-Za-z0-9_-]");
            return;
        }
        if (gw.drain().isDraining()) {
            fail(HttpStatusException.shuttingDown());
            return;
        }
        if (!gw.dbReady().isSet() && gw.beforeReady() == DemoConfig.BeforeReady.REJECT) {
            fail(HttpStatusException.databaseNotReady());
            return;
        }
        if (badClient != null) {               // X-Forwarded-For is not an address: 400, no key kept
            fail(badClient);
            return;
        }
        if (ratesTaken) {                      // spent at its head, before its 100: not again
            enter(id);
            return;
        }
        if (client != null) {                  // the client's rate first: 429 before the backend's 503
            Throwable refused = gw.perClient().admit(client, ctx.executor());
            if (refused != null) {
                fail(refused);
                return;
            }
        }
        if (gw.fleetRate() != null) {          // then the fleet's rate (one Redis round trip, holding nothing)
            stage = Stage.RATE;
            await(gw.fleetRate().admit(ctx.executor()), admitted -> {
                Throwable refused = fleetRefusal(admitted);
                if (refused != null) {
                    fail(refused);
                } else {
                    enter(id);
                }
            }, null);
            return;
        }
        enter(id);
    }

    private void enter(String id) {
        // Admission is decided now, on arrival, before any wait (but the fleet rate's check).
        stage = Stage.ENTERING;
        await(gw.admission().enter(ctx.executor()), entered -> {
            if (!entered.isSuccess()) {
                fail(entered.cause());
                return;
            }
            ticket = entered.getNow();
            admitted(id);
        }, abandoned -> {
            if (abandoned.isSuccess()) {
                abandoned.getNow().leave();    // admitted after its client left
            }
        });
    }

    private void admitted(String id) {
        if (gw.dbReady().isSet()) {
            callBackend(id);
            return;
        }
        stage = Stage.READY_WAIT;
        await(gw.dbReady().await(ctx.executor(), gw.readyWaitTimeout().toNanos(), TimeUnit.NANOSECONDS), ready -> {
            if (!ready.isSuccess()) {
                fail(HttpStatusException.databaseNotReady());
            } else if (gw.drain().isDraining()) {
                fail(HttpStatusException.shuttingDown());
            } else {
                callBackend(id);
            }
        }, null);
    }

    private void callBackend(String id) {
        stage = Stage.CALLING;
        EventLoop loop = ctx.channel().eventLoop();
        Future<Backend.BackendResponse> call = ticket.call(ctx.channel(), () -> {
            Future<Backend.BackendResponse> fetch = fetch(id, loop);
            backendCall = fetch;          // on this loop: the permit's executor is ours
            return fetch;
        });
        await(call, this::backendDone, null);
    }

    /**
     * The backend call, checked: a {@link Backend} that throws from {@code fetch} or returns
     * {@code null} breaks its contract (a failure is a failed future, answered 502); that is a
     * bug, answered 500.
     */
    private Future<Backend.BackendResponse> fetch(String id, EventLoop loop) {
        Future<Backend.BackendResponse> fetch;
        try {
            fetch = gw.backend().fetch(id, loop);
        } catch (RuntimeException e) {
            throw new UnexpectedFailureException("Backend.fetch threw", e);
        }
        if (fetch == null) {
            throw new UnexpectedFailureException("Backend.fetch", new NullPointerException("returned null"));
        }
        return fetch;
    }

    private void backendDone(Future<Backend.BackendResponse> call) {
        if (call.isCancelled() && !ctx.channel().isActive()) {
            // Cancelled for us because the channel closed (the limiter's channel view cancels
            // the caller's future at once), but the backend call it admitted holds its permit
            // until it ends. The client is gone: stop the call; channelInactive answers (499).
            cancelWait();
            return;
        }
        backendCall = null;
        if (!call.isSuccess()) {
            fail(call.cause());
            return;
        }
        Backend.BackendResponse r = call.getNow();
        if (r.status() >= 200 && r.status() < 300) {
            // The backend's own 2xx, as a proxy passes it: 201 stays 201, and 204 or 205 keep
            // their meaning, without content (RFC 9110 §15.3.5, §15.3.6), instead of a 200 with
            // an empty body of some type.
            HttpResponseStatus status = HttpResponseStatus.valueOf(r.status());
            respond(Responses.isContentless(status) ? Responses.contentless(status, keepAlive())
                    : Responses.of(ctx.alloc(), status, r.body(), r.contentType(), keepAlive()));
        } else if (r.status() == 404) {
            respondText(HttpResponseStatus.NOT_FOUND, "no such item");
        } else {
            respondText(HttpResponseStatus.BAD_GATEWAY, "backend answered " + r.status());
        }
    }

    /**
     * Runs {@code then} when {@code future} completes, unless the request stopped waiting for it
     * first ({@link #cancelWait()}: client gone, or answered by DRAIN); then {@code abandoned},
     * if given, gets the future, to give back what it may still bring.
     */
    private <T> void await(Future<T> future, Consumer<Future<T>> then, Consumer<Future<T>> abandoned) {
        if (future.isDone()) {
            then.accept(future);
            return;
        }
        wait = future;
        future.addListener(f -> {
            if (wait != future) {
                if (abandoned != null) {
                    try {
                        abandoned.accept(future);
                    } catch (Throwable t) {
                        // Not the current request's failure (it may be another request by now).
                        logger.warn("unexpected failure giving back an abandoned wait on {}", ctx.channel(), t);
                    }
                }
                return;
            }
            wait = null;
            try {
                then.accept(future);
            } catch (Throwable t) {
                // Thrown in a listener, Netty would only log it: the request would never be answered.
                unexpected("answering a request", t);
            }
        });
    }

    /**
     * A failure nobody expected (see {@link UnexpectedFailureException}): answered 500 with
     * {@code Connection: close} if the current request has no answer yet, else the connection
     * just closes. Logged once, with its cause. Whatever the request waited for or held is given
     * back (its wait and backend call are cancelled); other connections are not affected.
     */
    private void unexpected(String where, Throwable cause) {
        UnexpectedFailureException failure = cause instanceof UnexpectedFailureException u
                ? u : new UnexpectedFailureException(where, cause);
        if (busy && !answered && ctx.channel().isActive()) {
            cancelWait();
            try {
                fail(failure);             // logs it, answers 500, closes after
                return;
            } catch (Throwable t) {
                failure.addSuppressed(t);  // answering failed too (already logged by fail): close
            }
        } else {
            logger.warn("unexpected failure on {}: closing the connection", ctx.channel(), failure);
        }
        ctx.close();
    }

    /** Stops waiting: cancels the current wait and the running backend call, if any. */
    private void cancelWait() {
        Future<?> w = wait;
        Future<?> call = backendCall;
        wait = null;
        backendCall = null;
        if (w != null) {
            w.cancel(false);
        }
        if (call != null) {
            call.cancel(false);            // whatever the limiter does with a cancel, the call stops
        }
    }

    // ---------------------------------------------------------------- answering

    /** Answers a failure as {@link HttpErrors} maps it. */
    private void fail(Throwable cause) {
        HttpErrors.Answer a = gw.errors().answer(cause);
        if (a.status().code() == HttpResponseStatus.BAD_GATEWAY.code()) {
            logger.debug("backend call failed", cause);
        } else if (a.status().code() == HttpResponseStatus.INTERNAL_SERVER_ERROR.code()) {
            logger.warn("unexpected failure on {}: answering 500 and closing the connection", ctx.channel(), cause);
        }
        if (a.closeConnection()) {
            keepAlive = false;
        }
        FullHttpResponse response = Responses.text(ctx.alloc(), a.status(), a.reason(), keepAlive());
        if (a.retryAfterSeconds() != HttpErrors.NO_RETRY_AFTER) {
            response.headers().setInt(HttpHeaderNames.RETRY_AFTER, a.retryAfterSeconds());
        }
        if (cause instanceof FleetRateLimit.Refused refusal && gw.fleetRate() != null) {
            gw.fleetRate().addHeaders(response.headers(), refusal);
        } else if (cause instanceof RateLimitedException refusal && gw.perClient() != null) {
            gw.perClient().addHeaders(response.headers(), refusal);
        }
        respond(response);
    }

    private void respondText(HttpResponseStatus status, String text) {
        respond(Responses.text(ctx.alloc(), status, text, keepAlive()));
    }

    /** Whether the connection stays open after the current response. */
    private boolean keepAlive() {
        return keepAlive && !closeAfterResponse && !gw.drain().isDraining();
    }

    private void respond(FullHttpResponse response) {
        if (!busy || answered) {           // already answered, or the client is gone
            response.release();
            return;
        }
        wait = null;
        boolean open = !response.headers().contains(HttpHeaderNames.CONNECTION, "close", true);
        if (open && http10) {
            // HTTP/1.0 closes by default: keeping the connection must be said explicitly.
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        int status = response.status().code();
        long started = startNanos;
        end(status);
        ChannelFuture write = ctx.writeAndFlush(response);
        if (!write.isDone()) {
            deadline.writePending();       // bounded by the idle timeout: the client may not be reading
        }
        write.addListener(f -> {
            try {
                written(f.isSuccess(), open, status, started);
            } catch (Throwable t) {
                unexpected("after a response", t);
            }
        });
    }

    /** The current response was written (or failed to be): close, or go on with the next request. */
    private void written(boolean success, boolean open, int status, long started) {
        if (!success) {
            ctx.close();
            return;
        }
        gw.metrics().recordResponseFlushed(status, System.nanoTime() - started);
        if (gone) {
            return;                        // closed or removed meanwhile: nothing is taken up any more
        }
        if (!open || closeAfterResponse) {
            if (overflowed || bodyUnread || !pending.isEmpty()) {
                lingeringClose();
            } else {
                ctx.close();
            }
            return;
        }
        busy = false;
        deadline.responseDone();
        takeUpPending();
    }

    /**
     * Takes up what waits, in order: heads expecting 100 are taken up in a row (each sends its
     * 100 and is done, unless its fleet rate must be asked) until a request is being answered or
     * nothing waits.
     */
    private void takeUpPending() {
        takingUp = true;
        try {
            Object next;
            while (!busy && (next = pending.poll()) != null) {
                resumeReadingIfDrained();
                takeUp(next);
            }
        } finally {
            takingUp = false;
        }
        resumeReadingIfDrained();
    }

    /** Turns reading back on once at most half the read-ahead waits (never past the bound). */
    private void resumeReadingIfDrained() {
        if (readingPaused && !overflowed && !gone && pending.size() <= readAhead / 2) {
            readingPaused = false;
            ctx.channel().config().setAutoRead(true);
        }
    }

    /**
     * Closes after the last response without a reset although the client sent more: see the
     * class notes. The HTTP decoding stops (what follows is discarded as raw bytes).
     */
    private void lingeringClose() {
        Channel ch = ctx.channel();
        if (!(ch instanceof DuplexChannel duplex) || !ch.isActive()) {
            ctx.close();
            return;
        }
        lingering = true;
        deadline.requestStarted();         // no read deadline while lingering: the timer below ends it
        Object m;
        while ((m = pending.poll()) != null) {
            ReferenceCountUtil.release(m);
        }
        ChannelPipeline p = ctx.pipeline();
        if (p.get(GatewayAggregator.class) != null) {
            p.remove(GatewayAggregator.class);
        }
        if (p.get(GatewayCodec.class) != null) {
            p.remove(GatewayCodec.class);
        }
        ScheduledFuture<?> timer = ctx.executor().schedule(() -> {
            ctx.close();
        }, LINGER_MILLIS, TimeUnit.MILLISECONDS);
        ch.closeFuture().addListener(c -> timer.cancel(false));
        duplex.shutdownOutput();
        ch.config().setAutoRead(true);     // the client's EOF closes the channel
    }

    /** Ends the current request once: its place, metrics and the server's in-flight count. */
    private void end(int status) {
        answered = true;
        stage = Stage.NONE;
        if (ticket != null) {
            ticket.leave();                // no-op if a call was made: its end gives the place back
            ticket = null;
        }
        backendCall = null;
        gw.metrics().recordRequest(route, status, System.nanoTime() - startNanos);
        gw.drain().requestEnded();
    }

    // ---------------------------------------------------------------- request parsing

    /** Why the {@code Host} headers are unacceptable (RFC 9112 §3.2), or null if they are fine. */
    static String hostProblem(HttpHeaders headers, boolean http10) {
        List<String> hosts = headers.getAll(HttpHeaderNames.HOST);
        if (hosts.size() > 1) {
            return "more than one Host header";
        }
        if (hosts.isEmpty()) {
            return http10 ? null : "missing Host header";
        }
        String host = hosts.get(0);
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || "-._~!$&'()*+,;=:[]%".indexOf(c) >= 0;
            if (!ok) {
                return "invalid Host header";
            }
        }
        return null;
    }

    /** Whether an {@code Expect} other than {@code 100-continue} is present (RFC 9110 §10.1.1: 417). */
    static boolean unsupportedExpectation(HttpHeaders headers) {
        String expect = headers.get(HttpHeaderNames.EXPECT);
        return expect != null && !HttpHeaderValues.CONTINUE.contentEqualsIgnoreCase(expect.trim());
    }

    /**
     * The path of a request target in origin-form ({@code /a/b?q}) or absolute-form
     * ({@code http://host/a/b?q}, RFC 9112 §3.2.2), without the query; null for any other form.
     */
    static String targetPath(String uri) {
        String rest;
        if (uri.startsWith("/")) {
            rest = uri;
        } else {
            int sep = uri.indexOf("://");
            if (sep <= 0) {
                return null;
            }
            String scheme = uri.substring(0, sep);
            if (!scheme.equalsIgnoreCase("http") && !scheme.equalsIgnoreCase("https")) {
                return null;
            }
            int from = sep + 3;
            int to = from;
            while (to < uri.length() && "/?#".indexOf(uri.charAt(to)) < 0) {
                to++;
            }
            if (to == from) {
                return null;               // no authority
            }
            rest = to == uri.length() || uri.charAt(to) != '/' ? "/" + uri.substring(to) : uri.substring(to);
        }
        int end = rest.length();
        for (int i = 0; i < rest.length(); i++) {
            if (rest.charAt(i) == '?' || rest.charAt(i) == '#') {
                end = i;
                break;
            }
        }
        return rest.substring(0, end);
    }

    /**
     * {@code path} with every percent-encoded unreserved character decoded ({@code %34%32} is
     * {@code 42}, {@code %41} is {@code A}: RFC 3986 §2.3 and §6.2.2.2 make them equivalent,
     * as nginx does before it matches a location); any other percent-encoding ({@code %2F}, an
     * encoded slash, is data, not a separator; {@code %20}) is left as it is, so a route never
     * sees it as anything but {@code %}, which no item id allows. Null if a {@code %} is not
     * followed by two hex digits (an invalid URI, RFC 3986 §2.1), or if {@code path} is null.
     */
    static String normalized(String path) {
        if (path == null || path.indexOf('%') < 0) {
            return path;
        }
        StringBuilder b = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c != '%') {
                b.append(c);
                continue;
            }
            int hi = i + 2 < path.length() ? hex(path.charAt(i + 1)) : -1;
            int lo = hi >= 0 ? hex(path.charAt(i + 2)) : -1;
            if (lo < 0) {
                return null;
            }
            char decoded = (char) (hi << 4 | lo);
            if (decoded >= 'a' && decoded <= 'z' || decoded >= 'A' && decoded <= 'Z' || decoded >= '0' && decoded <= '9'
                    || "-._~".indexOf(decoded) >= 0) {
                b.append(decoded);
            } else {
                b.append(path, i, i + 3);
            }
            i += 2;
        }
        return b.toString();
    }

    /** The value of an ASCII hex digit, else -1 (not {@code Character.digit}: it takes other scripts' digits). */
    private static int hex(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    }

    /**
     * {@code s} safe to echo in a plain-text body: printable ASCII kept, every other character
     * percent-encoded (the decoder reads the request line as ISO-8859-1, so a UTF-8 byte
     * sequence comes back as its original %XX bytes); at most 200 characters.
     */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 200) + 16);
        for (int i = 0; i < s.length() && b.length() < 200; i++) {
            char c = s.charAt(i);
            if (c > 0x20 && c < 0x7f) {
                b.append(c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit((c >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        if (b.length() >= 200) {
            b.setLength(200);
            b.append("...");
        }
        return b.toString();
    }

    static boolean validId(String id) {
        if (id.isEmpty() || id.length() > 64) {
            return false;
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')) {
                return false;
            }
        }
        return true;
    }
}
