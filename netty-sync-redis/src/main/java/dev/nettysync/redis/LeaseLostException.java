package dev.nettysync.redis;

/**
 * A {@link RedisPermit}'s lease is gone from Redis while the permit was still held: it expired
 * (renewals failed for longer than the lease, e.g. the network was down or the server was
 * paused), or the server lost it (restart without persistence, fail-over to a replica that had
 * not seen it). The permits it counted have been, or will be, handed to someone else, so the
 * holder should stop the work it guards. Reported by {@link RedisPermit#lease()}.
 */
public class LeaseLostException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    public LeaseLostException(String message) {
        super(message);
    }

    public LeaseLostException(String message, Throwable cause) {
        super(message, cause);
    }
}
