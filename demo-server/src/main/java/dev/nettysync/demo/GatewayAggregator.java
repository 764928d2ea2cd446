package dev.nettysync.demo;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Netty's aggregator with the body limit, changed so that every final response is the
 * {@link GatewayHandler}'s (and so counted in the metrics), never one written here:
 * <ul>
 *   <li>a body over the limit (by {@code Content-Length}, with or without
 *       {@code Expect: 100-continue}, or found while aggregating a chunked body) becomes the
 *       {@link GatewaySignal#BODY_TOO_LARGE} message, which the handler answers 413 and closes;</li>
 *   <li>{@code Expect: 100-continue} with an acceptable length gets the interim
 *       {@code 100 Continue} from here (counted as {@code demo_http_interim_responses_total});</li>
 *   <li>an expectation other than {@code 100-continue} is left in the request, which the handler
 *       answers 417.</li>
 * </ul>
 * One instance per connection, confined to its event loop.
 */
final class GatewayAggregator extends HttpObjectAggregator {

    private final DemoMetrics metrics;

    GatewayAggregator(int maxContentLength, DemoMetrics metrics) {
        super(maxContentLength);
        this.metrics = metrics;
    }

    @Override
    protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
        if (!HttpUtil.is100ContinueExpected(start) || isContentLengthInvalid(start, maxContentLength)) {
            return null;       // the handler answers 417; or handleOversizedMessage below: 413
        }
        start.headers().remove(HttpHeaderNames.EXPECT);
        metrics.recordInterimResponse(HttpResponseStatus.CONTINUE.code());
        return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER);
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        ctx.fireChannelRead(GatewaySignal.BODY_TOO_LARGE);
    }
}
