package dev.nettysync.demo;

import dev.nettysync.ClosedException;
import dev.nettysync.QueueFullException;
import dev.nettysync.WaitTimeoutException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Routes and answers the requests of one connection, one at a time and in order (HTTP/1.1
 * pipelining: requests decoded while one is in progress wait in {@link #pending}).
 *
 * <p>{@code GET /api/items/{id}}: if the server drains, 503; if the database is not ready, waits
 * on {@code dbReady} (wait mode, bounded) or answers 503 at once (reject mode); then calls the
 * backend through the {@link BackendLimiter}, bounded by the backend timeout. Health routes and
 * {@code /metrics} bypass readiness and the limiter.
 *
 * <p>A client that disconnects while its request waits (for readiness or for a permit) leaves
 * the queue at once: its wait future is cancelled. One that disconnects during the backend call
 * cancels the call, whose completion releases the permit (exactly once, see BackendLimiter).
 *
 * <p>One instance per connection; all methods and fields are confined to its event loop.
 */
final class GatewayHandler extends ChannelInboundHandlerAdapter {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(GatewayHandler.class);
    private static final String ITEMS_PREFIX = "/api/items/";
    private static final int MAX_PIPELINED = 16;
    /** nginx's "client closed request", recorded in metrics for requests whose client left. */
    static final int CLIENT_CLOSED = 499;

    /** Fired on every connection when the server starts draining. */
    static final Object DRAIN = new Object() {
        @Override
        public String toString() {
            return "DRAIN";
        }
    };

    /** Stands for a request whose body exceeded the limit (see {@link GatewayServer}'s aggregator). */
    static final Object BODY_TOO_LARGE = new Object() {
        @Override
        public String toString() {
            return "BODY_TOO_LARGE";
        }
    };

    private final GatewayServer server;
    private final ConnectionDeadlineHandler deadline;
    private final ArrayDeque<Object> pending = new ArrayDeque<>(); // decoded, not started; loop only
    private ChannelHandlerContext ctx;       // set in handlerAdded
    private boolean busy;                    // a request is between start and its response written; loop only
    private boolean answered;                // the current request's response was produced; loop only
    private boolean closeAfterResponse;      // set by DRAIN; loop only
    private Route route;                     // of the current request
    private long startNanos;                 // of the current request
    private boolean keepAlive;               // of the current request
    private boolean http10;                  // the current request is HTTP/1.0
    private Future<?> wait;                  // current readiness wait or limited call; loop only

    GatewayHandler(GatewayServer server, ConnectionDeadlineHandler deadline) {
        this.server = server;
        this.deadline = deadline;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest) && msg != BODY_TOO_LARGE) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (busy) {
            if (pending.size() >= MAX_PIPELINED) {
                ReferenceCountUtil.release(msg);
                ctx.close();               // a client pipelining without reading responses
                return;
            }
            pending.add(msg);
            return;
        }
        start(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt != DRAIN) {
            ctx.fireUserEventTriggered(evt);
            return;
        }
        // An idle keep-alive connection stays open while the drain lasts: a request racing the
        // drain gets a real answer (503, or /readyz's 503) with "Connection: close" instead of a
        // reset. The drain's end closes whatever is left.
        closeAfterResponse = true;
        if (busy && !answered && wait != null && route == Route.ITEM && !server.dbReady().isSet()) {
            // Waiting for readiness while shutting down: answer now rather than at the timeout.
            if (cancelWait()) {
                unavailable("server is shutting down");
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (busy && !answered) {
            cancelWait();                  // leaves the queue, or cancels the backend call
            end(CLIENT_CLOSED);
        }
        busy = false;
        Object m;
        while ((m = pending.poll()) != null) {
            ReferenceCountUtil.release(m);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        logger.debug("closing {} after {}", ctx.channel(), cause.toString());
        ctx.close();
    }

    // ---------------------------------------------------------------- one request

    /** Cancels the current wait, if any, so that its listener ignores it; true if cancelled. */
    private boolean cancelWait() {
        Future<?> w = wait;
        wait = null;
        return w != null && w.cancel(false);
    }

    private void start(Object msg) {
        busy = true;
        answered = false;
        deadline.requestStarted();
        server.requestStarted();
        startNanos = System.nanoTime();
        route = Route.OTHER;
        http10 = false;
        if (msg == BODY_TOO_LARGE) {
            keepAlive = false;
            respondText(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                    "request body larger than " + server.config().maxBody + " bytes", false);
            return;
        }
        FullHttpRequest request = (FullHttpRequest) msg;
        try {
            DecoderResult result = request.decoderResult();
            if (!result.isSuccess()) {
                keepAlive = false;         // the decoder discards the rest of the stream
                badRequest(result.cause());
                return;
            }
            keepAlive = HttpUtil.isKeepAlive(request);
            http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
            route(request.method(), request.uri());
        } finally {
            request.release();
        }
    }

    private void badRequest(Throwable cause) {
        if (cause instanceof TooLongHttpLineException) {
            respondText(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line longer than "
                    + server.config().maxInitialLine + " bytes", false);
        } else if (cause instanceof TooLongHttpHeaderException) {
            respondText(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers larger than "
                    + server.config().maxHeaderSize + " bytes", false);
        } else {
            respondText(HttpResponseStatus.BAD_REQUEST, "malformed request", false);
        }
    }

    private void route(HttpMethod method, String uri) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        if (path.startsWith(ITEMS_PREFIX) && path.length() > ITEMS_PREFIX.length()) {
            route = Route.ITEM;
        } else {
            switch (path) {
                case "/livez" -> route = Route.LIVEZ;
                case "/readyz" -> route = Route.READYZ;
                case "/metrics" -> route = Route.METRICS;
                default -> {
                    respondText(HttpResponseStatus.NOT_FOUND, "no such resource: " + path, keepAlive);
                    return;
                }
            }
        }
        if (!HttpMethod.GET.equals(method)) {
            FullHttpResponse response = Responses.text(ctx.alloc(), HttpResponseStatus.METHOD_NOT_ALLOWED,
                    "method " + method + " not allowed; use GET", keepAlive());
            response.headers().set(HttpHeaderNames.ALLOW, "GET");
            respond(response);
            return;
        }
        switch (route) {
            case LIVEZ -> respondText(HttpResponseStatus.OK, "live", keepAlive);
            case READYZ -> {
                if (server.isDraining()) {
                    respondText(HttpResponseStatus.SERVICE_UNAVAILABLE, "draining", keepAlive);
                } else if (!server.dbReady().isSet()) {
                    respondText(HttpResponseStatus.SERVICE_UNAVAILABLE, "database not ready", keepAlive);
                } else {
                    respondText(HttpResponseStatus.OK, "ready", keepAlive);
                }
            }
            case METRICS -> respond(Responses.of(ctx.alloc(), HttpResponseStatus.OK,
                    server.metrics().scrape().getBytes(StandardCharsets.UTF_8),
                    "text/plain; version=0.0.4; charset=utf-8", keepAlive()));
            case ITEM -> item(path.substring(ITEMS_PREFIX.length()));
            default -> throw new IllegalStateException("unrouted " + route);
        }
    }

    private void item(String id) {
        if (!validId(id)) {
            respondText(HttpResponseStatus.BAD_REQUEST, "item id must be 1-64 of [A-Za-z0-9_-]", keepAlive);
            return;
        }
        if (server.isDraining()) {
            unavailable("server is shutting down");
            return;
        }
        if (server.dbReady().isSet()) {
            callBackend(id);
            return;
        }
        DemoConfig config = server.config();
        if (config.beforeReady == DemoConfig.BeforeReady.REJECT) {
            unavailable("database not ready");
            return;
        }
        Future<Void> ready = server.dbReady().await(ctx.executor(), config.readyWaitTimeout.toNanos(),
                TimeUnit.NANOSECONDS);
        wait = ready;
        ready.addListener(f -> {
            if (wait != ready) {
                return;                    // cancelled: client gone or answered by DRAIN
            }
            wait = null;
            if (f.isSuccess()) {
                if (server.isDraining()) {
                    unavailable("server is shutting down");
                } else {
                    callBackend(id);
                }
            } else {
                unavailable("database not ready");
            }
        });
    }

    private void callBackend(String id) {
        EventLoop loop = ctx.channel().eventLoop();
        Future<Backend.BackendResponse> call = server.limiter().submit(loop, () -> timedFetch(id, loop));
        if (call.isDone()) {               // instant backend or immediate refusal
            backendDone(call);
            return;
        }
        wait = call;
        call.addListener(f -> {
            if (wait != call) {
                return;                    // cancelled because the client left
            }
            wait = null;
            backendDone(call);
        });
    }

    /** The backend call, failed with {@link BackendTimeoutException} after the backend timeout. */
    private Future<Backend.BackendResponse> timedFetch(String id, EventLoop loop) {
        long t0 = System.nanoTime();
        Future<Backend.BackendResponse> fetch = server.backend().fetch(id, loop);
        Promise<Backend.BackendResponse> timed = loop.newPromise();
        long timeout = server.config().backendTimeout.toNanos();
        ScheduledFuture<?> timer = fetch.isDone() ? null : loop.schedule(() -> {
            if (timed.tryFailure(new BackendTimeoutException(server.config().backendTimeout))) {
                fetch.cancel(false);
            }
        }, timeout, TimeUnit.NANOSECONDS);
        fetch.addListener(f -> {
            if (timer != null) {
                timer.cancel(false);
            }
            if (f.isSuccess()) {
                timed.trySuccess(fetch.getNow());
            } else if (!f.isCancelled()) {
                timed.tryFailure(f.cause());
            }
        });
        timed.addListener(f -> {
            DemoMetrics.BackendOutcome outcome;
            if (f.isSuccess()) {
                outcome = DemoMetrics.BackendOutcome.OK;
            } else if (f.isCancelled()) {
                outcome = DemoMetrics.BackendOutcome.CANCELLED;
                fetch.cancel(false);       // client gone: abandon the call (frees its connection)
            } else if (f.cause() instanceof BackendTimeoutException) {
                outcome = DemoMetrics.BackendOutcome.TIMEOUT;
            } else {
                outcome = DemoMetrics.BackendOutcome.ERROR;
            }
            server.metrics().recordBackendCall(outcome, System.nanoTime() - t0);
        });
        return timed;
    }

    private void backendDone(Future<Backend.BackendResponse> call) {
        if (call.isSuccess()) {
            Backend.BackendResponse r = call.getNow();
            if (r.status() >= 200 && r.status() < 300) {
                respond(Responses.of(ctx.alloc(), HttpResponseStatus.OK, r.body(), r.contentType(), keepAlive()));
            } else if (r.status() == 404) {
                respondText(HttpResponseStatus.NOT_FOUND, "no such item", keepAlive);
            } else {
                respondText(HttpResponseStatus.BAD_GATEWAY, "backend answered " + r.status(), keepAlive);
            }
            return;
        }
        if (call.isCancelled()) {
            return;                        // the client left; nothing to answer
        }
        Throwable cause = call.cause();
        if (cause instanceof QueueFullException) {
            unavailable("too many requests queued for the backend");
        } else if (cause instanceof WaitTimeoutException) {
            unavailable("waited too long for the backend");
        } else if (cause instanceof ClosedException) {
            unavailable("server is shutting down");
        } else if (cause instanceof BackendTimeoutException) {
            respondText(HttpResponseStatus.GATEWAY_TIMEOUT, "backend timed out", keepAlive);
        } else {
            logger.debug("backend call failed", cause);
            respondText(HttpResponseStatus.BAD_GATEWAY, "backend failed", keepAlive);
        }
    }

    // ---------------------------------------------------------------- answering

    private void unavailable(String reason) {
        FullHttpResponse response = Responses.text(ctx.alloc(), HttpResponseStatus.SERVICE_UNAVAILABLE,
                reason, keepAlive());
        response.headers().setInt(HttpHeaderNames.RETRY_AFTER, server.config().retryAfterSeconds);
        respond(response);
    }

    private void respondText(HttpResponseStatus status, String reason, boolean keepAliveWanted) {
        FullHttpResponse response = Responses.text(ctx.alloc(), status, reason, keepAliveWanted && keepAlive());
        if (status == HttpResponseStatus.SERVICE_UNAVAILABLE) {
            response.headers().setInt(HttpHeaderNames.RETRY_AFTER, server.config().retryAfterSeconds);
        }
        respond(response);
    }

    /** Whether the connection stays open after the current response. */
    private boolean keepAlive() {
        return keepAlive && !closeAfterResponse && !server.isDraining();
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
        end(response.status().code());
        ctx.writeAndFlush(response).addListener(f -> {
            if (!open || !f.isSuccess() || closeAfterResponse) {
                ctx.close();
                return;
            }
            busy = false;
            deadline.responseDone();
            Object next = pending.poll();
            if (next != null) {
                start(next);
            }
        });
    }

    /** Ends the current request once: metrics and the server's in-flight count. */
    private void end(int status) {
        answered = true;
        server.metrics().recordRequest(route, status, System.nanoTime() - startNanos);
        server.requestEnded();
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
