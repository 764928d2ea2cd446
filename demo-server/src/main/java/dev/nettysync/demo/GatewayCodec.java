package dev.nettysync.demo;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ByteProcessor;

import java.util.ArrayDeque;
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
 * </ul>
 * There is no pipelining limit here: the {@link GatewayHandler} bounds it (back-pressure, then
 * an explicit 503).
 *
 * <p>One instance per connection, confined to its event loop.
 */
final class GatewayCodec extends CombinedChannelDuplexHandler<GatewayCodec.RequestDecoder, GatewayCodec.ResponseEncoder> {

    GatewayCodec(HttpDecoderConfig config, ConnectionDeadlineHandler deadline) {
        ArrayDeque<Boolean> heads = new ArrayDeque<>();    // one per decoded request: whether it was HEAD
        init(new RequestDecoder(config, deadline, heads), new ResponseEncoder(heads));
    }

    /** The decoder, reporting request boundaries and recording the methods. */
    static final class RequestDecoder extends HttpRequestDecoder {

        /** Stops at the first byte the decoder does not skip before a request line (its own rule). */
        private static final ByteProcessor SKIPPED = b -> {
            int c = b & 0xff;
            return Character.isISOControl(c) || Character.isWhitespace(c);
        };

        private final ConnectionDeadlineHandler deadline;
        private final ArrayDeque<Boolean> heads;    // shared with the encoder; event loop only
        private boolean inRequest;                   // bytes of a request decoded or buffered, not all; loop only

        RequestDecoder(HttpDecoderConfig config, ConnectionDeadlineHandler deadline, ArrayDeque<Boolean> heads) {
            super(config);
            this.deadline = Objects.requireNonNull(deadline, "deadline");
            this.heads = heads;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            if (!inRequest && buffer.forEachByte(SKIPPED) >= 0) {
                inRequest = true;
                deadline.requestBegun();
            }
            int from = out.size();
            super.decode(ctx, buffer, out);
            // The decoder returns after the end of one request: nothing of the next is consumed
            // in the same call (ByteToMessageDecoder calls again for what is left).
            for (int i = from; i < out.size(); i++) {
                Object o = out.get(i);
                if (o instanceof HttpRequest request) {
                    heads.add(HttpMethod.HEAD.equals(request.method()));
                }
                if (o instanceof LastHttpContent) {        // a FullHttpRequest (an invalid one) is one too
                    inRequest = false;
                    deadline.requestDecoded();
                }
            }
        }

        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            super.handleTransferEncodingChunkedWithContentLength(message);
            message.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
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
