package dev.nettysync.channel;

import dev.nettysync.internal.Checks;
import dev.nettysync.internal.WaitQueue;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.Permit;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Limits the inbound messages a channel's pipeline works on at once: at most {@code perChannel}
 * per channel and/or one permit of a shared {@link AsyncLimiter} per message. Protocol-agnostic:
 * place it where one inbound message is one unit of work (after the decoder and aggregator, e.g.
 * behind {@code HttpObjectAggregator}).
 * <pre>{@code
 * AsyncLimiter backend = AsyncLimiter.of(new AsyncSemaphore(64, 1000));   // shared by all channels
 *
 * ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 20),
 *         LimitingHandler.builder()
 *                 .perChannel(4)                      // at most 4 pipelined requests per connection
 *                 .limiter(backend)                   // and 64 in all
 *                 .backPressure(2, TimeUnit.SECONDS)  // slow readers down; refuse after 2 s
 *                 .completion(msg -> msg instanceof LastHttpContent ? Permit.Outcome.SUCCESS : null)
 *                 .build(),
 *         new GatewayHandler());                      // answers Rejected events with 503
 * }</pre>
 *
 * <h2>Admission</h2>
 * A message is admitted when its channel has fewer than {@code perChannel} messages in flight
 * and the shared limiter (if any) grants a permit; it is then passed on
 * ({@code fireChannelRead}). Two modes:
 * <ul>
 *   <li><b>Back-pressure</b> ({@link Builder#backPressure()}): a message that cannot be admitted
 *       at once waits, and so does every later message of the channel (order is kept).
 *       Meanwhile the handler stops reading: it turns {@code autoRead} off (and holds back
 *       explicit {@code read()} calls) until the channel's backlog is admitted, so a
 *       pipelining client is slowed down by TCP, not refused. The wait for the shared limiter
 *       is its FIFO wait, optionally timed ({@link Builder#backPressure(long, TimeUnit)}). What
 *       it holds back meanwhile is what the channel had already read when reading paused: the
 *       messages decoded from the read in progress (one buffer of the channel's
 *       {@code RecvByteBufAllocator}; Netty's read loop stops once {@code autoRead} is off),
 *       which the handler does not bound itself (a decoder before it bounds each message); a
 *       message whose wait fails (timeout, queue full, limiter closed) is rejected as below and
 *       the next one is tried. The per-channel wait is not timed: it ends when the channel's
 *       own earlier messages complete.</li>
 *   <li><b>Reject</b> ({@link Builder#reject()}): a message that cannot be admitted at once is
 *       not passed on; a {@link Rejected} user event carrying it is fired instead
 *       ({@code fireUserEventTriggered}), so the protocol handler behind can answer 503 or 429
 *       and keep the connection.</li>
 * </ul>
 * A shared limiter that cannot decide without I/O (its {@code tryAcquire} throws
 * {@link UnsupportedOperationException}, as the Redis limiters' does, and so a composite with
 * such a part) is asked through {@code acquire} instead, from the first such throw on: in
 * back-pressure mode every message waits for its answer, in reject mode the question is "now or
 * never" ({@code acquire} with a zero timeout), and its refusal rejects the message
 * ({@link Reason#LIMITER}). Either way later messages of the channel wait behind the one being
 * decided (order is kept) and reading pauses meanwhile, in reject mode too.
 * The handler of a {@link Rejected} event owns its message (the event releases it when
 * released itself, so an unhandled one is freed by the pipeline's tail).
 *
 * <h2>How a message's admission ends</h2>
 * Messages are completed in order, by the response written for them: each outbound
 * {@code write} for which the {@link Builder#completion completion function} returns an outcome
 * (default: every write) completes the oldest admitted message not yet completed. Its permit
 * is ended when that write completes: with the returned outcome if the write succeeded
 * ({@link Permit.Outcome#SUCCESS} by default; {@code DROPPED} for a 503 lets an adaptive limiter
 * learn), with {@code releaseIgnored} if it failed. Then the next waiting message may be
 * admitted. When the channel closes (or the handler is removed), every permit still held is
 * ended with {@code releaseIgnored} and the pending wait is cancelled (its queue slot freed at
 * once); the messages not yet admitted are released, or, if the handler is removed from a live
 * pipeline, passed on in order (see {@link #handlerRemoved}). So a protocol that answers every request
 * exactly once, in order (HTTP/1.1 with pipelining, most RPC framings) needs no code to end
 * permits. A rejected message counts in that order too: the first completing write after the
 * responses to earlier messages is taken as its answer (the 503) and ends nothing. So the
 * protocol must answer every message, admitted or rejected, with exactly one completing write,
 * in order (or close the channel).
 *
 * <h2>Reading and {@code autoRead}</h2>
 * While messages wait, the handler owns {@code autoRead}: it turns it off (remembering whether
 * it was on) and turns it back on when the backlog is admitted. Turned on by someone else
 * meanwhile, it is turned off again by the next message that has to wait; if it is still on when
 * the backlog is admitted, the {@code read()} that turning it on issued (held back, as below) is
 * forwarded then, so reading resumes. Turned off by someone
 * else meanwhile, it is still turned back on when the backlog is admitted: setting
 * {@code autoRead} off while it is already off leaves no trace (Netty's {@code ChannelConfig}
 * fires no event and issues no {@code read()} for it), so the handler cannot tell that change
 * from its own pause; only a single owner of {@code autoRead} that every party went through could.
 * To read by hand, turn {@code autoRead} off before the handler pauses (it then never touches
 * {@code autoRead}), and its explicit {@code read()} calls are held back and forwarded as
 * described above.
 * While reading is paused, a transport that learns of the peer's close by reading (NIO) does
 * not see a client go away: its waiting messages are admitted in their turn, and the close is
 * noticed when reading resumes (the permits still held then end with {@code releaseIgnored}).
 * A timed wait ({@link Builder#backPressure(long, TimeUnit)}) bounds how long such a channel
 * holds a place in the limiter's queue.
 *
 * <h2>A completion function that throws</h2>
 * The write it was called for fails with that exception and its message is released; it
 * completes no admitted message (the next completing write does).
 *
 * <h2>A permit whose end throws</h2>
 * (A user's limiter, a composite one of whose parts throws, a lock's view whose lock was
 * unlocked through the raw API.) Its message still counts as answered, so the next one may be
 * admitted; on close or removal every other permit is still ended and every message still
 * released or passed on. The exception is then fired as {@code exceptionCaught} from this
 * handler (on close, before {@code channelInactive}), the later ones suppressed in the first.
 *
 * <h2>Messages passed on later</h2>
 * A message admitted (or rejected) later than it was read, when an earlier response completes
 * or the shared limiter grants, reaches the handlers behind outside the channel's read. So,
 * as Netty's {@code FlowControlHandler} does, each such batch is followed by a
 * {@code channelReadComplete}: a handler that writes in {@code channelRead} and flushes in
 * {@code channelReadComplete} (the shape of Netty's HTTP examples) answers it without change.
 *
 * <h2>Threads</h2>
 * One instance per channel (not {@code @Sharable}); all its state is confined to the
 * context's executor, where every callback, including the limiter's grants, runs. Added with an
 * executor group of its own ({@code pipeline.addLast(group, handler)}), it still ends permits on
 * that executor: a completing write whose promise belongs to another executor (the channel's
 * loop, for {@code channel.write}) has its end handed back to the handler's (or, that executor
 * gone, ended where it completed). Shut such a group down after the channels' loops: Netty
 * cannot deliver {@code channelInactive} to a handler whose executor has terminated, so the
 * permits and messages it holds then are never given back.
 */
public final class LimitingHandler extends ChannelDuplexHandler {

    /*
     * Implementation notes
     *
     * State (all confined to ctx.executor()):
     *   pending   messages read but not admitted, in arrival order (back-pressure mode, or a
     *             limiter that decides only through acquire(): then in reject mode too, where the
     *             head is rejected instead of waiting for the channel's own answers)
     *   awaiting  permits of admitted messages whose completing write has not been seen yet,
     *             in arrival order; NO_PERMIT stands for "no shared limiter", REJECTED for a
     *             rejected message (its answer ends nothing)
     *   active    admitted messages whose permit has not ended (awaiting + writes in progress):
     *             this is what perChannel bounds
     *   waiting   the shared limiter's wait for the head of `pending`, or null
     *
     * drain() admits the head of `pending` while it can; it is the only place that admits
     * waiting messages, and it is guarded against re-entry (admitting runs fireChannelRead,
     * whose handler may write a response at once, which ends a permit and calls drain() again:
     * the outer loop sees the change on its next turn). Reading is paused while `pending` is
     * not empty and resumed when it empties.
     *
     * A message passed on (admitted or rejected) while no channelRead is on the stack counts in
     * `passedLater`; drain() follows such a batch with fireChannelReadComplete, in its loop, not
     * by recursion: the flush it causes may complete writes, whose end() calls drain() again,
     * which returns at once, and the next turn admits what they made room for.
     */

    /** Why a message was rejected. */
    public enum Reason {
        /** The channel already had {@code perChannel} messages in flight (reject mode). */
        CHANNEL_LIMIT,
        /**
         * The shared limiter refused at once: {@code tryAcquire} returned {@code null} (or threw:
         * see {@link Rejected#cause()}), or, in reject mode, a limiter that cannot decide without
         * I/O refused its zero-timeout {@code acquire} (the refusal is the cause). A
         * {@code null} from {@code tryAcquire} carries no cause (a refusal allocates nothing), so
         * it says no {@code retryAfter}: for a 429's {@code Retry-After}, ask the rate limiter
         * ({@link dev.nettysync.limit.AsyncRateLimiter#retryAfterNanos(int)}) in the event's
         * handler, or use back-pressure mode, whose failed wait carries the rate's
         * {@link dev.nettysync.limit.RateLimitedException}.
         */
        LIMITER,
        /** The shared limiter's wait failed: see {@link Rejected#cause()}. */
        LIMITER_WAIT
    }

    /**
     * A message that was not admitted, fired as a user event: the receiver owns {@link #message()}
     * (answer it, then release the event or the message, once). The event holds the message's
     * reference: it is reference-counted itself (starting at 1), and when its count drops to 0 it
     * releases the message, so releasing an unhandled event (as the pipeline's tail does) frees
     * the message.
     */
    public static final class Rejected extends AbstractReferenceCounted {
        private final Object message;
        private final Reason reason;
        private final Throwable cause;

        Rejected(Object message, Reason reason, Throwable cause) {
            this.message = message;
            this.reason = reason;
            this.cause = cause;
        }

        /** The rejected inbound message. */
        public Object message() {
            return message;
        }

        /** Why it was rejected. */
        public Reason reason() {
            return reason;
        }

        /**
         * The limiter's failure for {@link Reason#LIMITER_WAIT}, or for {@link Reason#LIMITER} when
         * it answered through {@code acquire} (a
         * {@link dev.nettysync.WaitTimeoutException}, {@link dev.nettysync.QueueFullException},
         * {@link dev.nettysync.ClosedException} or a policy's own refusal, such as a rate limit
         * that says when to retry), or the exception the limiter threw ({@link Reason#LIMITER} or
         * {@link Reason#LIMITER_WAIT}: a limiter that throws refuses the message; so does one whose
         * {@code acquire} returns {@code null}, with a {@link NullPointerException}), else {@code null}.
         */
        public Throwable cause() {
            return cause;
        }

        /** Records the access on the message (for Netty's leak detector). */
        @Override
        public Rejected touch(Object hint) {
            ReferenceCountUtil.touch(message, hint);
            return this;
        }

        @Override
        protected void deallocate() {
            ReferenceCountUtil.release(message);
        }

        @Override
        public String toString() {
            return "Rejected(" + reason + (cause != null ? ": " + cause : "") + ')';
        }
    }

    /** Builds a {@link LimitingHandler}; one handler per channel, one builder may build many. */
    public static final class Builder {
        private int perChannel = Integer.MAX_VALUE;
        private AsyncLimiter limiter;
        private boolean backPressure = true;
        private long timeoutNanos = -1;
        private Function<Object, Permit.Outcome> completion = msg -> Permit.Outcome.SUCCESS;

        private Builder() {
        }

        /** At most {@code maxInFlight} admitted messages per channel (default: no per-channel bound). */
        public Builder perChannel(int maxInFlight) {
            this.perChannel = Checks.atLeast(maxInFlight, 1, "perChannel");
            return this;
        }

        /** One permit of {@code limiter} per admitted message (shared by every channel it is given to). */
        public Builder limiter(AsyncLimiter limiter) {
            this.limiter = Objects.requireNonNull(limiter, "limiter");
            return this;
        }

        /** Back-pressure mode (the default), with untimed waits. */
        public Builder backPressure() {
            this.backPressure = true;
            this.timeoutNanos = -1;
            return this;
        }

        /** Back-pressure mode; a message waiting longer than {@code timeout} for the shared limiter is rejected. */
        public Builder backPressure(long timeout, TimeUnit unit) {
            this.backPressure = true;
            this.timeoutNanos = WaitQueue.toNanos(timeout, unit);
            return this;
        }

        /**
         * Reject mode: what cannot be admitted at once is rejected (a limiter that cannot decide
         * without I/O is asked with a zero-timeout {@code acquire}; see the class documentation).
         */
        public Builder reject() {
            this.backPressure = false;
            return this;
        }

        /**
         * Which outbound writes complete a message, and how: returns {@code null} for a write that
         * does not complete one (a header, a chunk), or the outcome to end its permit with once
         * the write succeeds. Default: every write completes one, {@code SUCCESS}.
         */
        public Builder completion(Function<Object, Permit.Outcome> completion) {
            this.completion = Objects.requireNonNull(completion, "completion");
            return this;
        }

        /**
         * A new handler for one channel.
         *
         * @throws IllegalStateException if neither {@code perChannel} nor a limiter was set
         */
        public LimitingHandler build() {
            if (limiter == null && perChannel == Integer.MAX_VALUE) {
                throw new IllegalStateException("set perChannel(n) or limiter(l): this handler would limit nothing");
            }
            return new LimitingHandler(this);
        }
    }

    /** A builder with no limit set, in back-pressure mode. */
    public static Builder builder() {
        return new Builder();
    }

    private static final Permit NO_PERMIT = new Marker("no shared limiter");
    private static final Permit REJECTED = new Marker("rejected");

    /** Stands in the queue of awaited responses for a message that holds no permit. */
    private static final class Marker implements Permit {
        private final String name;

        Marker(String name) {
            this.name = name;
        }

        @Override
        public boolean release() {
            return false;
        }

        @Override
        public boolean releaseDropped() {
            return false;
        }

        @Override
        public boolean releaseIgnored() {
            return false;
        }

        @Override
        public boolean isReleased() {
            return false;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private final int perChannel;
    private final AsyncLimiter limiter;
    private final boolean backPressure;
    private final long timeoutNanos;
    private final Function<Object, Permit.Outcome> completion;

    // All below: confined to ctx.executor(); see the notes.
    private final ArrayDeque<Object> pending = new ArrayDeque<>();
    private final ArrayDeque<Permit> awaiting = new ArrayDeque<>();
    private int active;
    private Future<Permit> waiting;       // the limiter's wait for pending's head
    private Permit granted;               // a grant for pending's head, not admitted yet
    private ChannelHandlerContext ctx;
    private boolean draining;             // drain() is on the stack
    private int reading;                  // channelRead() calls on the stack
    private int passedLater;              // messages passed on outside a read, not yet followed by a read-complete
    private boolean pausedAutoRead;       // we turned autoRead off
    private boolean readHeld;             // a read() came while pending was not empty: forwarded when it empties
    private boolean closed;               // channel inactive or handler removed
    private boolean decidesAsync;         // the limiter's tryAcquire threw UnsupportedOperationException: acquire() decides

    private LimitingHandler(Builder b) {
        this.perChannel = b.perChannel;
        this.limiter = b.limiter;
        this.backPressure = b.backPressure;
        this.timeoutNanos = b.timeoutNanos;
        this.completion = b.completion;
    }

    /** Admitted messages of this channel whose permit has not ended yet. */
    public int inFlight() {
        return active;
    }

    /** Messages of this channel waiting for admission (back-pressure mode). */
    public int waitingMessages() {
        return pending.size();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        reading++;
        try {
            read(msg);
        } finally {
            reading--;
        }
    }

    private void read(Object msg) {
        if (closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!pending.isEmpty()) {
            pending.add(msg);             // behind earlier messages: order is kept
            pauseReading();               // again, if someone turned autoRead back on meanwhile
            return;
        }
        Permit permit = null;
        Reason refusal = null;
        if (active >= perChannel) {
            refusal = Reason.CHANNEL_LIMIT;
        } else if (limiter == null) {
            permit = NO_PERMIT;
        } else if (!decidesAsync) {
            try {
                permit = limiter.tryAcquire();
            } catch (UnsupportedOperationException e) {
                decidesAsync = true;      // cannot decide without I/O (Redis): its acquire decides, from now on
            } catch (Throwable t) {       // a broken limiter: the message is refused, not lost
                reject(msg, Reason.LIMITER, t);
                return;
            }
            if (permit == null && !decidesAsync) {
                refusal = Reason.LIMITER;
            }
        }
        if (permit != null) {
            admit(msg, permit);
        } else if (refusal != null && !backPressure) {
            reject(msg, refusal, null);
        } else {                          // waits, or (reject mode) asks the limiter now-or-never
            pending.add(msg);
            pauseReading();
            drain();
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        Permit.Outcome outcome = null;
        if (!awaiting.isEmpty()) {
            try {
                outcome = completion.apply(msg);
            } catch (Throwable t) {           // the write fails; it completes nothing
                ReferenceCountUtil.release(msg);
                promise.tryFailure(t);
                return;
            }
        }
        if (outcome != null) {
            Permit.Outcome ending = outcome;
            Permit permit = awaiting.poll();
            ChannelPromise p = promise.unvoid();
            p.addListener(f -> {
                Permit.Outcome o = f.isSuccess() ? ending : Permit.Outcome.IGNORED;
                EventExecutor executor = ctx.executor();
                if (executor.inEventLoop()) {
                    end(permit, o);
                    return;
                }
                // a promise of another executor (the channel's loop, when the handler has an
                // executor of its own): the end goes back to ours, where the state lives
                try {
                    executor.execute(() -> end(permit, o));
                } catch (RejectedExecutionException e) {
                    endPermit(permit, Permit.Outcome.IGNORED);   // ours is gone: the permit at least
                }
            });
            ctx.write(msg, p);
            return;
        }
        ctx.write(msg, promise);
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
        if (!pending.isEmpty()) {
            readHeld = true;              // forwarded when the backlog is admitted
            return;
        }
        ctx.read();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        shutdown(false);
        super.channelInactive(ctx);
    }

    /**
     * Removed from a live pipeline: permits held end ({@code releaseIgnored}), the wait is
     * cancelled, and the messages not admitted yet are passed on unlimited, in order, so that
     * nothing read is lost; reading resumes if it was paused ({@code autoRead} turned back on if
     * the handler turned it off, else an explicit {@code read()} it held back is forwarded).
     */
    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        shutdown(ctx.channel().isActive());
    }

    // ---------------------------------------------------------------- internals

    private void admit(Object msg, Permit permit) {
        active++;
        awaiting.add(permit);
        passedOn();
        ctx.fireChannelRead(msg);
    }

    private void passedOn() {
        if (reading == 0) {
            passedLater++;
        }
    }

    private void end(Permit permit, Permit.Outcome outcome) {
        if (permit == REJECTED) {
            return;
        }
        Throwable failure = endReporting(permit, outcome, null);
        if (!closed) {
            active--;                         // its message is answered, even if its end threw
            drain();
        }
        if (failure != null) {
            ctx.fireExceptionCaught(failure);
        }
    }

    /**
     * Ends {@code permit}, catching what its end throws (a limiter's permit is user code; a
     * composite's rethrows what a part threw after ending the others): returns {@code failure},
     * or the new one if it was {@code null} (else the new one is added to it as suppressed).
     */
    private static Throwable endReporting(Permit permit, Permit.Outcome outcome, Throwable failure) {
        try {
            endPermit(permit, outcome);
        } catch (Throwable t) {
            if (failure == null) {
                return t;
            }
            failure.addSuppressed(t);
        }
        return failure;
    }

    /** Ends the limiter's permit (thread-safe: touches no state of the handler). */
    private static void endPermit(Permit permit, Permit.Outcome outcome) {
        if (permit == REJECTED || permit == NO_PERMIT) {
            return;
        }
        switch (outcome) {
            case SUCCESS:
                permit.release();
                break;
            case DROPPED:
                permit.releaseDropped();
                break;
            default:
                permit.releaseIgnored();
                break;
        }
    }

    /**
     * Admits pending messages while possible, starts the limiter's wait for the head if needed,
     * and follows what it passed on outside a read with a read-complete.
     */
    private void drain() {
        if (draining || closed) {
            return;
        }
        draining = true;
        try {
            for (;;) {
                admitPending();
                if (passedLater == 0 || closed) {
                    break;
                }
                passedLater = 0;
                ctx.fireChannelReadComplete();    // may end permits: their drain() is seen next turn
            }
        } finally {
            draining = false;
            if (pending.isEmpty() && !closed) {
                resumeReading();
            }
        }
    }

    /** Admits the head of {@code pending} while it can; a completion or a grant calls drain() again. */
    private void admitPending() {
        while (!pending.isEmpty() && waiting == null && !closed) {
            if (active >= perChannel) {
                if (backPressure) {
                    return;                   // waits for its channel's own answers
                }
                reject(pending.poll(), Reason.CHANNEL_LIMIT, null);
                continue;
            }
            Permit permit = granted;
            granted = null;
            if (permit == null) {
                if (limiter == null) {
                    permit = NO_PERMIT;
                } else {
                    Future<Permit> f;
                    try {
                        f = Objects.requireNonNull(!backPressure
                                ? limiter.acquire(ctx.executor(), 0, TimeUnit.NANOSECONDS)   // now or never
                                : timeoutNanos < 0
                                ? limiter.acquire(ctx.executor())
                                : limiter.acquire(ctx.executor(), timeoutNanos, TimeUnit.NANOSECONDS),
                                "the limiter's acquire returned a null future");
                    } catch (Throwable t) {   // a broken limiter: refused, and the next one is tried
                        reject(pending.poll(), waitRefused(), t);
                        continue;
                    }
                    if (!f.isDone()) {
                        waiting = f;
                        f.addListener(this::waitEnded);
                        if (waiting == f) {
                            return;           // waitEnded() calls drain() again
                        }
                        continue;             // it ended as the listener was added: waitEnded() ran here, inline
                    }
                    if (!f.isSuccess()) {
                        reject(pending.poll(), waitRefused(), f.cause());
                        continue;
                    }
                    permit = f.getNow();
                }
            }
            admit(pending.poll(), permit);
        }
    }

    private void waitEnded(Future<? super Permit> f) {
        waiting = null;
        if (closed) {
            if (f.isSuccess()) {
                ((Permit) f.getNow()).releaseIgnored();
            }
            return;
        }
        if (f.isSuccess()) {
            granted = (Permit) f.getNow();
        } else if (!f.isCancelled()) {
            reject(pending.poll(), waitRefused(), f.cause());
        } else {                         // cancelled by someone else: treat as a refusal
            reject(pending.poll(), waitRefused(), new CancellationException("the wait was cancelled"));
        }
        drain();
    }

    /** Why the limiter's acquire refused: a wait that failed, or (reject mode) its now-or-never answer. */
    private Reason waitRefused() {
        return backPressure ? Reason.LIMITER_WAIT : Reason.LIMITER;
    }

    /** Its response will complete nothing: a marker keeps responses matched to messages. */
    private void reject(Object msg, Reason reason, Throwable cause) {
        awaiting.add(REJECTED);
        passedOn();
        ctx.fireUserEventTriggered(new Rejected(msg, reason, cause));
    }

    private void pauseReading() {
        if (ctx.channel().config().isAutoRead()) {
            pausedAutoRead = true;
            ctx.channel().config().setAutoRead(false);
        }
    }

    private void resumeReading() {
        boolean held = readHeld;
        readHeld = false;
        if (pausedAutoRead) {
            pausedAutoRead = false;
            if (!ctx.channel().config().isAutoRead()) {
                ctx.channel().config().setAutoRead(true);   // issues a read: the held one is not needed
                return;
            }
            // turned back on by someone else meanwhile: that issued a read, which we held back
            // (setAutoRead(true) issues none when autoRead is already on), so forward it
        }
        if (held) {
            ctx.read();
        }
    }

    /** The channel closed or the handler left: give everything back, once. */
    private void shutdown(boolean passOnPending) {
        if (closed) {
            return;
        }
        closed = true;
        Future<Permit> w = waiting;
        waiting = null;
        if (w != null) {
            w.cancel(false);              // frees the queue slot; a grant that won is ended in waitEnded
        }
        Throwable failure = null;         // an end that threw: reported once everything is given back
        if (granted != null) {
            failure = endReporting(granted, Permit.Outcome.IGNORED, null);
            granted = null;
        }
        Permit p;
        while ((p = awaiting.poll()) != null) {
            failure = endReporting(p, Permit.Outcome.IGNORED, failure);
        }
        active = 0;
        // messages passed on outside a read (now, or earlier in the drain() this may interrupt)
        boolean passed = passOnPending && (!pending.isEmpty() || passedLater > 0);
        passedLater = 0;
        Object msg;
        while ((msg = pending.poll()) != null) {
            if (passOnPending) {
                ctx.fireChannelRead(msg);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }
        if (passed && reading == 0) {
            ctx.fireChannelReadComplete();
        }
        if (passOnPending) {
            resumeReading();              // our pause undone, or the read we held back forwarded
        }
        if (failure != null) {
            ctx.fireExceptionCaught(failure);
        }
    }
}
