package dev.nettysync.demo;

import io.netty.handler.codec.http.HttpRequest;

import java.util.Objects;

/**
 * The head of a request that expects {@code 100 Continue} (RFC 9110 §10.1.1), fired by the
 * {@link GatewayAggregator} in place of the interim response, before the request itself: the
 * {@link GatewayHandler} queues it in order with the requests before it and, when every one of
 * them is answered, sends the {@code 100 Continue}, or the request's final status if it is
 * refused whatever its body (then the body is never read). Not reference-counted.
 *
 * @param head the request's head (its {@code Expect} header removed); shared with the request
 *             the aggregator hands over once its body is in, and, like it, confined to the
 *             connection's event loop
 */
record ContinueExpected(HttpRequest head) {

    ContinueExpected {
        Objects.requireNonNull(head, "head");
    }
}
