package dev.nettysync.examples;

import dev.nettysync.AsyncLock;
import dev.nettysync.AsyncReadWriteLock;
import dev.nettysync.AsyncSemaphore;
import dev.nettysync.QueueFullException;
import dev.nettysync.channel.ChannelLimits;
import dev.nettysync.channel.LimitingHandler;
import dev.nettysync.examples.support.ExampleLoops;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.AsyncRateLimiter;
import dev.nettysync.limit.KeyedLimiter;
import dev.nettysync.limit.LimiterStatistics;
import dev.nettysync.limit.Permit;
import dev.nettysync.limit.RateLimitedException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static dev.nettysync.examples.support.ExampleLoops.done;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The snippets and the stated behaviour of docs/limiters.md, docs/limiters-in-pipelines.md and
 * docs/rate-and-keyed-limits.md, as written there ({@code ctx} is a handler's context on an
 * {@link EmbeddedChannel}, or {@code ctx.executor()} a loop of the test).
 */
class LimitersDocTest {

    @RegisterExtension
    static final ExampleLoops loops = new ExampleLoops();
    private static final EventExecutor ex = loops.loop(0);

    // ------------------------------------------------------------------ limiters.md

    @Test
    void aPermitEndsExactlyOnceSoADoubleReleaseCannotRaiseTheLimit() {
        AsyncSemaphore sem = new AsyncSemaphore(64, 1000);
        AsyncLimiter backend = AsyncLimiter.of(sem);            // or an AsyncBoundedSemaphore
        AsyncLimiter exclusive = AsyncLimiter.of(new AsyncLock());
        Permit permit = backend.tryAcquire();
        assertThat(sem.availablePermits()).isEqualTo(63);
        assertThat(permit.releaseDropped()).isTrue();
        assertThat(permit.release()).isFalse();
        assertThat(permit.releaseIgnored()).isFalse();
        permit.close();
        assertThat(permit.isReleased()).isTrue();
        assertThat(sem.availablePermits()).isEqualTo(64);

        Permit held = exclusive.tryAcquire();
        assertThat(exclusive.tryAcquire()).as("null = refused").isNull();
        try (held) {
            assertThat(exclusive.statistics().inUse()).isEqualTo(1);
        }
        assertThat(exclusive.statistics().inUse()).isZero();
    }

    @Test
    void cancellingAPendingAcquireReturnsTrueOnlyIfNothingWasHeld() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        AsyncLimiter limiter = AsyncLimiter.of(sem);
        Permit first = limiter.tryAcquire();
        Future<Permit> queued = limiter.acquire(ex);
        assertThat(queued.cancel(false)).isTrue();
        assertThat(sem.queueLength()).isZero();
        Future<Permit> granted = limiter.acquire(ex);
        first.release();                                        // grants `granted`
        assertThat(granted.cancel(false)).isFalse();
        done(granted).getNow().release();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    // ------------------------------------------------------------------ limiters-in-pipelines.md

    private static Object busy(Throwable cause) {
        return "503 " + cause.getClass().getSimpleName();
    }

    private static Object render(Future<?> r) {
        return r.isSuccess() ? "200 " + r.getNow() : "502";
    }

    /** The "Channel binding" snippet, in a handler; callBackend answers when the test says so. */
    private static final class BoundHandler extends ChannelInboundHandlerAdapter {
        final AsyncLimiter backend;
        final List<Promise<String>> calls = new CopyOnWriteArrayList<>();
        final List<Permit> permits = new CopyOnWriteArrayList<>();

        BoundHandler(AsyncLimiter backend) {
            this.backend = backend;
        }

        Future<String> callBackend(ChannelHandlerContext ctx, Object msg) {
            Promise<String> call = ctx.executor().newPromise();
            calls.add(call);
            return call;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ChannelLimits.acquire(backend, ctx.channel(), 2, TimeUnit.SECONDS).addListener(f -> {
                if (f.isCancelled()) return;                    // the client went away while queued
                if (!f.isSuccess()) { ctx.writeAndFlush(busy(f.cause())); return; }
                Permit permit = (Permit) f.getNow();            // ends (ignored) by itself if the client leaves
                permits.add(permit);
                callBackend(ctx, msg).addListener(r -> {
                    if (r.isSuccess()) permit.release(); else permit.releaseDropped();
                    ctx.writeAndFlush(render(r));
                });
            });
        }
    }

    @Test
    void theChannelBindingSnippetAnswersAndEndsItsPermitWhenTheClientLeaves() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        BoundHandler handler = new BoundHandler(AsyncLimiter.of(sem));
        EmbeddedChannel ch = new EmbeddedChannel(handler);
        ch.writeInbound("first");
        ch.runPendingTasks();
        assertThat(handler.calls).hasSize(1);
        handler.calls.get(0).setSuccess("answer");
        ch.runPendingTasks();
        assertThat((Object) ch.readOutbound()).isEqualTo("200 answer");
        assertThat(sem.availablePermits()).isEqualTo(1);

        ch.writeInbound("second");                              // holds the permit while the call runs
        ch.runPendingTasks();
        assertThat(sem.availablePermits()).isZero();
        EmbeddedChannel other = new EmbeddedChannel(new BoundHandler(AsyncLimiter.of(sem)));
        other.writeInbound("queued");
        assertThat(sem.queueLength()).isEqualTo(1);
        other.close();                                          // the client went away while queued
        assertThat(sem.queueLength()).as("its queue slot is free at once").isZero();
        ch.close();                                             // the client leaves while the backend runs
        ch.runPendingTasks();
        assertThat(handler.permits.get(1).isReleased()).isTrue();
        assertThat(sem.availablePermits()).isEqualTo(1);
    }

    @Test
    void theLimitingHandlerSnippetBuildsInAnHttpPipeline() {
        AsyncLimiter backend = AsyncLimiter.of(new AsyncSemaphore(64, 1000));
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 20),
                LimitingHandler.builder()
                        .perChannel(4)                          // pipelined requests per connection
                        .limiter(backend)                       // shared by all connections
                        .backPressure(2, TimeUnit.SECONDS)      // or .reject()
                        .completion(m -> m instanceof LastHttpContent ? Permit.Outcome.SUCCESS : null)
                        .build(),
                new ChannelInboundHandlerAdapter());            // answers LimitingHandler.Rejected with 503/429
        assertThat(ch.pipeline().get(LimitingHandler.class)).isNotNull();
        assertThat(LimitingHandler.builder().perChannel(1).reject().build()).isNotNull();
        ch.finishAndReleaseAll();
    }

    // ------------------------------------------------------------------ rate-and-keyed-limits.md

    @Test
    void theRateLimiterSnippetRunsAsCommented() {
        AsyncRateLimiter api = AsyncRateLimiter.perSecond(100, 20);          // 100/s, bursts of 20
        AsyncRateLimiter slow = AsyncRateLimiter.builder(30, Duration.ofMinutes(1))
                .burst(5).maxPending(1_000).build();                          // 30/min
        assertThat(slow.intervalNanos()).isEqualTo(2_000_000_000L);
        assertThat(slow.burst()).isEqualTo(5);

        long wait = api.tryAcquireNanos(1);                  // 0 = admitted; else ns until it could be
        assertThat(wait).isZero();
        Future<Permit> f = api.acquire(ex, 1, 2, SECONDS);   // wait up to 2 s, FIFO
        assertThat(done(f).isSuccess()).isTrue();

        for (int i = 0; i < 5; i++) {
            assertThat(slow.tryAcquire()).isNotNull();
        }
        assertThat(slow.tryAcquire()).as("tryAcquire refuses with null, not an exception").isNull();
        Future<Permit> refused = slow.acquire(ex, 1, 1, SECONDS);  // cannot make it: refused at once
        assertThat(refused.isDone()).isTrue();
        RateLimitedException e = (RateLimitedException) refused.cause();
        assertThat(e.retryAfter()).isPositive().isLessThanOrEqualTo(Duration.ofSeconds(2));
        assertThat(e.retryAfterSeconds()).isEqualTo(RateLimitedException.ceilSeconds(e.retryAfterNanos()));
        assertThat(e.getStackTrace()).isEmpty();
    }

    @Test
    void moreThanTheBurstIsRefusedFromEveryMethodAndPrecisionIsRoundedToTheNanosecond() {
        AsyncRateLimiter r = AsyncRateLimiter.perSecond(3, 2);
        assertThat(r.intervalNanos()).isEqualTo(333_333_333L);
        assertThatThrownBy(() -> r.tryAcquire(3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> r.tryAcquireNanos(3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> r.acquire(ex, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> r.acquire(ex, 3, 1, SECONDS)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> r.retryAfterNanos(3)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theKeyedSnippetsRunAsCommented() {
        String ip = "192.0.2.1";
        KeyedLimiter<String> perClient = KeyedLimiter
                .builder((String key) -> AsyncRateLimiter.perSecond(10, 20))  // any AsyncLimiter
                .maxKeys(100_000).idleTime(Duration.ofMinutes(1)).build();
        Future<Permit> now = perClient.acquire(ip, ex, 0, SECONDS);          // rate: refuse at once
        assertThat(done(now).isSuccess()).isTrue();
        AsyncLimiter forThisClient = perClient.forKey(ip);                    // compose with others
        assertThat(forThisClient.statistics().limit()).isEqualTo(20);

        AsyncSemaphore globalSem = new AsyncSemaphore(200);
        AsyncLimiter global = AsyncLimiter.of(globalSem);                     // at most 200 in all
        List<AsyncSemaphore> perKey = new CopyOnWriteArrayList<>();
        KeyedLimiter<String> capped = KeyedLimiter
                .builder((String key) -> {
                    AsyncSemaphore s = new AsyncSemaphore(4);
                    perKey.add(s);
                    return AsyncLimiter.of(s);                                // at most 4 per client
                })
                .maxKeys(100_000).idleTime(Duration.ofMinutes(1)).build();
        Future<Permit> both = AsyncLimiter.all(capped.forKey(ip), global)    // a view: cheap, make one per request
                .acquire(ex, 2, SECONDS);
        Permit permit = done(both).getNow();
        assertThat(globalSem.availablePermits()).isEqualTo(199);
        assertThat(perKey).singleElement().satisfies(s -> assertThat(s.availablePermits()).isEqualTo(3));
        permit.release();                                    // ends the global permit, then the client's
        assertThat(globalSem.availablePermits()).isEqualTo(200);
        assertThat(perKey.get(0).availablePermits()).isEqualTo(4);
    }

    /** The KeyedLimiter table: beyond the cap a key at rest is evicted, a key in use never is; then the new key is refused. */
    @Test
    void beyondTheCapAKeyAtRestIsEvictedAndWithNoneTheNewKeyIsRefused() {
        KeyedLimiter<String> perClient = KeyedLimiter
                .builder((String key) -> AsyncLimiter.of(new AsyncSemaphore(1)))
                .maxKeys(1).idleTime(Duration.ofMinutes(1)).build();
        perClient.tryAcquire("a").release();                 // "a" is live and at rest
        Permit b = perClient.tryAcquire("b");                // the cap evicts "a" (idle time not required)
        assertThat(b).isNotNull();
        assertThat(perClient.liveKeys()).isEqualTo(1);
        assertThat(perClient.evictions()).isEqualTo(1);
        assertThat(perClient.tryAcquire("c")).as("\"b\" is in use: refused, not evicted").isNull();
        Future<Permit> c = perClient.acquire("c", ex);
        assertThat(done(c).cause()).isInstanceOf(QueueFullException.class);
        b.release();
        Permit c2 = perClient.tryAcquire("c");
        assertThat(c2).isNotNull();
        c2.release();
    }

    /** AsyncLimiter.of/ofRead/ofWrite's Javadoc: what statistics() reports, and an acquire that does not wait is its own permit. */
    @Test
    void thePrimitiveViewsReportThePrimitivesStateAndAnUncontendedAcquireIsItsOwnPermit() {
        AsyncSemaphore sem = new AsyncSemaphore(4);
        AsyncLimiter view = AsyncLimiter.of(sem);
        Future<Permit> f = view.acquire(ex);
        assertThat(f.isSuccess()).isTrue();
        assertThat((Object) f.getNow()).as("f.getNow() is f itself").isSameAs(f);
        assertThat(sem.tryAcquire()).isTrue();                  // a raw holder counts too
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(4, 2, 2, 0));
        sem.reducePermits(3);                                   // available -1: reported as 0
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(1, 2, 0, 0));
        sem.release();
        f.getNow().release();
        assertThat(view.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));

        AsyncLimiter unlimited = AsyncLimiter.of(new AsyncSemaphore(Integer.MAX_VALUE));
        assertThat(unlimited.statistics().limit()).isEqualTo(LimiterStatistics.UNLIMITED);
        assertThat(unlimited.statistics().available()).isEqualTo(LimiterStatistics.UNLIMITED);
        assertThat(unlimited.statistics().unlimited()).isTrue();

        AsyncLock lock = new AsyncLock();
        AsyncLimiter exclusive = AsyncLimiter.of(lock);
        assertThat(lock.tryLock()).isTrue();                    // locked by anyone
        Future<Permit> queued = exclusive.acquire(ex);
        assertThat(exclusive.statistics()).isEqualTo(new LimiterStatistics(1, 1, 0, 1));
        lock.unlock();
        done(queued).getNow().release();

        AsyncReadWriteLock rw = new AsyncReadWriteLock(8, 100);
        AsyncLimiter reads = AsyncLimiter.ofRead(rw);
        AsyncLimiter writes = AsyncLimiter.ofWrite(rw);
        Permit r = reads.tryAcquire();
        assertThat(reads.statistics()).isEqualTo(new LimiterStatistics(8, 1, 7, 0));
        assertThat(writes.statistics()).isEqualTo(new LimiterStatistics(1, 0, 0, 0));
        Future<Permit> w = writes.acquire(ex);
        assertThat(reads.tryAcquire()).as("a queued writer blocks later readers").isNull();
        assertThat(reads.statistics().queued()).isEqualTo(1);
        r.release();
        Permit wp = done(w).getNow();
        assertThat(reads.statistics()).isEqualTo(new LimiterStatistics(8, 0, 0, 0));
        assertThat(writes.statistics()).isEqualTo(new LimiterStatistics(1, 1, 0, 0));
        wp.release();
        assertThat(writes.statistics()).isEqualTo(new LimiterStatistics(1, 0, 1, 0));
    }
}
