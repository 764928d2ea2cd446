package dev.nettysync.demo;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ByteProcessor;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The HTTP/1.1 codec of one connection: Netty's {@link HttpRequestDecoder} and
 * {@link HttpResponseEncoder}, doing what {@code HttpServerCodec} does for this server, plus the
 * one thing it cannot: telling the {@link ConnectionDeadlineHandler} where each request starts
 * and ends in the byte stream.
 * <ul>
 *   <li><b>Request boundaries.</b> {@link ConnectionDeadlineHandler#requestBegun()} when the
 *       first byte of a request arrives (not a blank line between requests, which RFC 9112 §2.2
 *       lets a server ignore, and the decoder skips), {@link ConnectionDeadlineHandler#requestDecoded()}
 *       when its last byte has been decoded (or the decoder gave up on it). So a request cut
 *       mid-way, whose first part came in the same read as the request before it or while that
 *       one was being answered, is seen as started: the raw bytes alone cannot tell, nor can
 *       {@code HttpServerCodec}, whose decoder is private.</li>
 *   <li><b>{@code HEAD}.</b> The answer to a {@code HEAD} request is encoded without its body
 *       (its {@code Content-Length} kept), as {@code HttpServerCodec} does: the methods of the
 *       decoded requests wait in a FIFO, one taken per final answer (an interim {@code 1xx} takes
 *       none).</li>
 *   <li><b>Request smuggling.</b> A request with both {@code Transfer-Encoding: chunked} and
 *       {@code Content-Length} is refused by Netty's decoder (400, then close). Where the decoder
 *       is told to accept it (read as chunked, the length removed), it is marked
 *       {@code Connection: close}, so the connection closes after its answer, as
 *       {@code HttpServerCodec} does.</li>
 *   <li><b>Transfer codings.</b> The only transfer coding implemented is {@code chunked}. A
 *       request whose {@code Transfer-Encoding} is anything else is not decoded further: a final
 *       coding other than {@code chunked} (RFC 9112 §6.3: the body's length cannot be known) is
 *       refused 400, {@code chunked} after another coding ({@code gzip, chunked}, RFC 9112 §6.1:
 *       a coding the server does not understand) 501, as nginx does; either then closes. Netty's
 *       decoder would read {@code gzip, chunked} as plain chunked.</li>
 *   <li><b>Declared chunk sizes.</b> A chunked body whose declared chunk sizes add up past the
 *       body limit is refused 413 as soon as the chunk-size line says so, as nginx does, not
 *       once that many bytes have come (a client that declares 2 GiB and then stalls would
 *       otherwise hold the connection until the read timeout, then get 408). The aggregator
 *       still counts the bytes themselves.</li>
 * </ul>
 * After either refusal the decoder discards the rest of the connection's input: the handler
 * answers, then closes it.
 * There is no pipelining limit here: the {@link GatewayHandler} bounds it (back-pressure, then
 * an explicit 503).
 *
 * <p>One instance per connection, confined to its event loop.
 */
final class GatewayCodec extends CombinedChannelDuplexHandler<GatewayCodec.RequestDecoder, GatewayCodec.ResponseEncoder> {

    /**
     * @param maxBody the body limit ({@code --max-body}), against which declared chunk sizes
     *                are checked
     */
    GatewayCodec(HttpDecoderConfig config, int maxBody, ConnectionDeadlineHandler deadline) {
        ArrayDeque<Boolean> heads = new ArrayDeque<>();    // one per decoded request: whether it was HEAD
        init(new RequestDecoder(config, maxBody, deadline, heads), new ResponseEncoder(heads));
    }

    /** The decoder, reporting request boundaries and recording the methods. */
    static final class RequestDecoder extends HttpRequestDecoder {

        /** Stops at the first byte the decoder does not skip before a request line (its own rule). */
        private static final ByteProcessor SKIPPED = b -> {
            int c = b & 0xff;
            return Character.isISOControl(c) || Character.isWhitespace(c);
        };

        private final int maxBody;
        private final ConnectionDeadlineHandler deadline;
        private final ArrayDeque<Boolean> heads;    // shared with the encoder; event loop only
        private boolean inRequest;                   // bytes of a request decoded or buffered, not all; loop only
        private ChunkSizes chunkSizes;               // the chunked body being decoded, else null; loop only
        private boolean discarding;                  // a request refused here: all further input skipped; loop only

        RequestDecoder(HttpDecoderConfig config, int maxBody, ConnectionDeadlineHandler deadline,
                       ArrayDeque<Boolean> heads) {
            super(config);
            this.maxBody = maxBody;
            this.deadline = Objects.requireNonNull(deadline, "deadline");
            this.heads = heads;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            if (discarding) {
                buffer.skipBytes(buffer.readableBytes());
                return;
            }
            if (!inRequest && buffer.forEachByte(SKIPPED) >= 0) {
                inRequest = true;
                deadline.requestBegun();
            }
            int from = out.size();
            int start = buffer.readerIndex();
            ChunkSizes body = chunkSizes;
            super.decode(ctx, buffer, out);
            // The decoder returns after the end of one request: nothing of the next is consumed
            // in the same call (ByteToMessageDecoder calls again for what is left). It also
            // returns right after a head: the bytes a call consumes are a head or body bytes.
            if (body != null && body.exceeded(buffer, start, buffer.readerIndex())) {
                refuseBody(buffer, out, from);
                return;
            }
            if (out.size() > from && out.get(from) instanceof HttpRequest request && !(request instanceof LastHttpContent)
                    && request.decoderResult().isSuccess()) {
                HttpStatusException refused = transferCodingProblem(request);
                if (refused != null) {
                    refuseHead(request, refused, buffer, out, from);
                } else if (HttpUtil.isTransferEncodingChunked(request)) {
                    chunkSizes = new ChunkSizes(maxBody);
                }
            }
            for (int i = from; i < out.size(); i++) {
                Object o = out.get(i);
                if (o instanceof HttpRequest request) {
                    heads.add(HttpMethod.HEAD.equals(request.method()));
                }
                if (o instanceof LastHttpContent) {        // a FullHttpRequest (an invalid one) is one too
                    inRequest = false;
                    chunkSizes = null;
                    deadline.requestDecoded();
                }
            }
        }

        @Override
        protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            if (discarding) {
                in.skipBytes(in.readableBytes());
                return;
            }
            super.decodeLast(ctx, in, out);
        }

        /**
         * Why a request's {@code Transfer-Encoding} cannot be served (400 or 501, see the class
         * comment), or null if it has none or is just {@code chunked}. Every field line counts
         * (their values are one list, RFC 9110 §5.3).
         */
        static HttpStatusException transferCodingProblem(HttpRequest request) {
            List<String> fields = request.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
            if (fields.isEmpty()) {
                return null;
            }
            List<String> codings = new ArrayList<>();
            for (String field : fields) {
                for (String coding : field.split(",", -1)) {
                    String name = coding.trim();
                    int params = name.indexOf(';');
                    codings.add((params >= 0 ? name.substring(0, params) : name).trim());
                }
            }
            String last = codings.get(codings.size() - 1);
            if (!HttpHeaderValues.CHUNKED.contentEqualsIgnoreCase(last) || codings.size() > 1
                    && codings.subList(0, codings.size() - 1).stream().anyMatch(c -> c.isEmpty()
                    || HttpHeaderValues.CHUNKED.contentEqualsIgnoreCase(c))) {
                return HttpStatusException.badRequest("Transfer-Encoding must end with chunked, once");
            }
            if (codings.size() > 1) {
                return new HttpStatusException(HttpResponseStatus.NOT_IMPLEMENTED,
                        "only the chunked transfer coding is implemented", true);
            }
            return null;
        }

        /**
         * Replaces the head just decoded (and whatever of its body came with it) by an invalid
         * request failed with {@code refused}, which the handler answers, and discards the rest.
         */
        private void refuseHead(HttpRequest head, HttpStatusException refused, ByteBuf buffer, List<Object> out, int from) {
            dropFrom(out, from);
            FullHttpRequest invalid = new DefaultFullHttpRequest(head.protocolVersion(), head.method(), head.uri(),
                    Unpooled.EMPTY_BUFFER, head.headers(), EmptyHttpHeaders.INSTANCE);
            invalid.setDecoderResult(DecoderResult.failure(refused));
            out.add(invalid);                      // counted below as a request and its end
            discard(buffer);
        }

        /**
         * The body's declared size is past the limit: what of it was decoded in this call is
         * dropped, the aggregator's signal for a body too large goes to the handler (413, close)
         * and the rest is discarded. The request has ended as far as reading goes.
         */
        private void refuseBody(ByteBuf buffer, List<Object> out, int from) {
            dropFrom(out, from);
            out.add(GatewaySignal.BODY_TOO_LARGE);
            discard(buffer);
            inRequest = false;
            chunkSizes = null;
            deadline.requestDecoded();
        }

        private static void dropFrom(List<Object> out, int from) {
            while (out.size() > from) {
                ReferenceCountUtil.release(out.remove(out.size() - 1));
            }
        }

        private void discard(ByteBuf buffer) {
            discarding = true;
            buffer.skipBytes(buffer.readableBytes());
        }

        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            super.handleTransferEncodingChunkedWithContentLength(message);
            message.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
    }

    /**
     * Follows the chunked framing (RFC 9112 §7.1) of the body bytes the decoder consumes, to add
     * up the declared chunk sizes. Only the sizes matter: the decoder validates the framing, and
     * a body it finds malformed fails there. A size is judged digit by digit, so a line of
     * many digits is refused without being read to its end. One per chunked body, on its loop.
     */
    static final class ChunkSizes {
        private enum State { SIZE, SIZE_LINE_END, DATA, DATA_LINE_END, DONE }

        private final long limit;
        private State state = State.SIZE;
        private long declared;                 // sum of the complete chunk sizes so far
        private long size;                     // the size being read (SIZE), or data left (DATA)

        ChunkSizes(long limit) {
            this.limit = limit;
        }

        /** Reads {@code buf[from, to)}; true once the declared sizes are past the limit. */
        boolean exceeded(ByteBuf buf, int from, int to) {
            for (int i = from; i < to && state != State.DONE; i++) {
                byte b = buf.getByte(i);
                switch (state) {
                    case SIZE -> {
                        int digit = Character.digit(b, 16);
                        if (digit >= 0) {
                            size = size * 16 + digit;
                            if (declared + size > limit) {
                                return true;
                            }
                        } else {
                            state = State.SIZE_LINE_END;
                            i--;               // this byte may be the line's LF
                        }
                    }
                    case SIZE_LINE_END -> {
                        if (b == '\n') {
                            if (size == 0) {
                                state = State.DONE;    // the last chunk; trailers follow
                            } else {
                                declared += size;
                                state = State.DATA;
                            }
                        }
                    }
                    case DATA -> {
                        int n = (int) Math.min(size, to - i);
                        size -= n;
                        i += n - 1;
                        if (size == 0) {
                            state = State.DATA_LINE_END;
                        }
                    }
                    case DATA_LINE_END -> {
                        if (b == '\n') {
                            state = State.SIZE;
                        }
                    }
                    default -> throw new IllegalStateException("unexpected state " + state);
                }
            }
            return false;
        }
    }


    /** The encoder, leaving out the body of an answer to {@code HEAD}. */
    static final class ResponseEncoder extends HttpResponseEncoder {

        private final ArrayDeque<Boolean> heads;    // shared with the decoder; event loop only

        ResponseEncoder(ArrayDeque<Boolean> heads) {
            this.heads = heads;
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg);   // interim: the request's final answer follows
            }
            // None queued: an answer to no decoded request (the 408 to a request whose headers
            // never completed).
            return Boolean.TRUE.equals(heads.poll()) || super.isContentAlwaysEmpty(msg);
        }
    }
}
