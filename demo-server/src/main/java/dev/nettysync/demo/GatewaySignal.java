package dev.nettysync.demo;

/**
 * Markers that travel through a connection's pipeline between the server's handlers and the
 * {@link GatewayHandler}. They live here, below both, so that neither depends on the other for
 * them.
 */
enum GatewaySignal {
    /** A user event fired on every connection when the server starts draining. */
    DRAIN,
    /**
     * A message that stands for a request whose body exceeded {@code --max-body}: fired by
     * {@link GatewayAggregator} instead of the request, answered 413 (and counted) by the handler.
     */
    BODY_TOO_LARGE,
    /**
     * Queued by the {@link GatewayHandler} itself in place of the first request beyond its
     * pipelining bound: answered 503, after every earlier request, then the connection closes.
     */
    TOO_MANY_PIPELINED
}
