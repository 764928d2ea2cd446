package dev.nettysync.demo;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;

/**
 * Netty's aggregator with the body limit, changed so that every final response is the
 * {@link GatewayHandler}'s (and so counted in the metrics), never one written here:
 * <ul>
 *   <li>a body over the limit (by {@code Content-Length}, with or without
 *       {@code Expect: 100-continue}, or found while aggregating a chunked body) becomes the
 *       {@link GatewaySignal#BODY_TOO_LARGE} message, which the handler answers 413 and closes;</li>
 *   <li>{@code Expect: 100-continue} with an acceptable length is not answered here: the head
 *       goes to the handler as a {@link ContinueExpected}, ahead of the request, and the handler
 *       sends the {@code 100 Continue} when the request's turn comes (every request before it
 *       answered), or its final status if it is refused anyway. Netty's aggregator writes the
 *       {@code 100} at once, which under pipelining puts it before the answers to the requests
 *       before it, where the client takes it for theirs (RFC 9112 §9.3: responses go in the
 *       order of the requests). Meanwhile the aggregator waits for the body, which the client
 *       sends once it has the {@code 100} (or after a wait of its own);</li>
 *   <li>an expectation other than {@code 100-continue} is left in the request, which the handler
 *       answers 417.</li>
 * </ul>
 * One instance per connection, confined to its event loop.
 */
final class GatewayAggregator extends HttpObjectAggregator {

    GatewayAggregator(int maxContentLength) {
        super(maxContentLength);
    }

    /**
     * Never an interim response written here: see the class comment. Called for each head
     * before its body; an invalid head (answered 400 as soon as the aggregator hands it over)
     * and one with too long a body (413) get no {@code 100} at all.
     */
    @Override
    protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
        if (!HttpUtil.is100ContinueExpected(start) || isContentLengthInvalid(start, maxContentLength)
                || !start.decoderResult().isSuccess() || !(start instanceof HttpRequest head)) {
            return null;       // the handler answers 417; or handleOversizedMessage below: 413; or 400
        }
        start.headers().remove(HttpHeaderNames.EXPECT);
        ctx().fireChannelRead(new ContinueExpected(head));
        return null;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        ctx.fireChannelRead(GatewaySignal.BODY_TOO_LARGE);
    }
}
