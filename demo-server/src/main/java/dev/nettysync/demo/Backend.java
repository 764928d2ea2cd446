package dev.nettysync.demo;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * Where {@code GET /api/items/{id}} gets its answer: the simulated backend or a real HTTP
 * upstream.
 *
 * <p>Contract: {@link #fetch} never blocks and is called on {@code loop} (the requesting
 * connection's event loop); the returned future completes on that loop. Cancelling the returned
 * future abandons the call and frees whatever it held (a timer, a pooled connection); the
 * gateway cancels it when the client disconnects or the backend timeout expires. A future that
 * fails means a backend failure (the gateway answers 502).
 */
public interface Backend {

    /** Starts fetching item {@code id}; see the interface contract. */
    Future<BackendResponse> fetch(String id, EventLoop loop);

    /** Frees the backend's resources (connections); called once, on shutdown, after draining. */
    void close();

    /** An upstream answer: HTTP status, body bytes and content type. */
    record BackendResponse(int status, byte[] body, String contentType) {
    }
}
