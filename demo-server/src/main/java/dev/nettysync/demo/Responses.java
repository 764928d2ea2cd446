package dev.nettysync.demo;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

import java.nio.charset.StandardCharsets;

/** Builders of the server's responses. Stateless. */
final class Responses {

    static final String TEXT = "text/plain; charset=utf-8";
    static final String JSON = "application/json";

    private Responses() {
    }

    /** A response with a body; {@code keepAlive} decides the {@code Connection} header. */
    static FullHttpResponse of(ByteBufAllocator alloc, HttpResponseStatus status, byte[] body,
                               String contentType, boolean keepAlive) {
        ByteBuf content = alloc.buffer(body.length).writeBytes(body);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        if (!keepAlive) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return response;
    }

    /** Whether {@code status} is a success that carries no content: 204 or 205 (RFC 9110 §15.3.5, §15.3.6). */
    static boolean isContentless(HttpResponseStatus status) {
        return status.code() == HttpResponseStatus.NO_CONTENT.code() || status.code() == HttpResponseStatus.RESET_CONTENT.code();
    }

    /**
     * A 204 or 205 response: no content and no {@code Content-Type}; {@code Content-Length: 0}
     * for a 205, none for a 204 (RFC 9110 §8.6 forbids it there).
     */
    static FullHttpResponse contentless(HttpResponseStatus status, boolean keepAlive) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.EMPTY_BUFFER);
        if (status.code() == HttpResponseStatus.RESET_CONTENT.code()) {
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        }
        if (!keepAlive) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return response;
    }

    /** A short plain-text response: the reason followed by a newline. */
    static FullHttpResponse text(ByteBufAllocator alloc, HttpResponseStatus status, String reason, boolean keepAlive) {
        return of(alloc, status, (reason + '\n').getBytes(StandardCharsets.UTF_8), TEXT, keepAlive);
    }
}
