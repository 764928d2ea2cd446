package dev.nettysync.channel;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.limit.AsyncLimiter;
import dev.nettysync.limit.Permit;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.local.LocalChannel;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress of the limiter layer: two event loops and two plain threads acquire from a
 * semaphore limiter and from a composite of two semaphores, through channel-bound waits (timed
 * and not), tryAcquire and plain timed waits, while they cancel random waits, close random
 * channels (which cancels their waits and ends their permits) and end random permits with random
 * outcomes, some twice. At the end every future has completed, every permit granted has ended,
 * both semaphores hold exactly their initial permits (plain semaphores: a permit given back twice
 * would show as one too many, a lost one as one too few) and their queues are empty.
 *
 * <p>Size: a tenth of {@code -Dnettysync.stress.ops} (default 10^6), channels cost more than
 * permits.
 */
class ChannelLimitsStressTest {
    private static final long OPS = Long.getLong("nettysync.stress.ops", 1_000_000) / 10;
    private static final int GLOBAL = 3;
    private static final int INNER = 2;
    private static final int CHANNELS = 8;

    private final AsyncSemaphore global = new AsyncSemaphore(GLOBAL, 16);
    private final AsyncSemaphore inner = new AsyncSemaphore(INNER, 16);
    private final AsyncLimiter single = AsyncLimiter.of(global);
    private final AsyncLimiter composite = AsyncLimiter.all(AsyncLimiter.of(inner), AsyncLimiter.of(global));

    private final ConcurrentLinkedQueue<Permit> held = new ConcurrentLinkedQueue<>();      // granted, not ended by us yet
    private final ConcurrentLinkedQueue<Permit> granted = new ConcurrentLinkedQueue<>();   // every permit ever granted
    private final ConcurrentLinkedQueue<Future<Permit>> waits = new ConcurrentLinkedQueue<>();
    private final AtomicLong grants = new AtomicLong();
    private final AtomicLong cancels = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong closes = new AtomicLong();
    private final AtomicLong doubleEnds = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private AtomicReferenceArray<Channel> channels;
    private EventLoop[] loops;

    @Test
    void permitsAreConservedUnderAcquireCancelTimeoutCloseAndRelease() throws Exception {
        // DefaultEventLoop, not LocalIoHandler: the latter parks its thread in a way BlockHound flags.
        EventLoopGroup group = new DefaultEventLoopGroup(2);
        loops = new EventLoop[] {group.next(), group.next()};
        channels = new AtomicReferenceArray<>(CHANNELS);
        for (int i = 0; i < CHANNELS; i++) {
            channels.set(i, newChannel());
        }
        try {
            int threads = 2;
            long perActor = OPS / (loops.length + threads);
            CountDownLatch done = new CountDownLatch(loops.length + threads);
            for (EventLoop loop : loops) {
                loop.execute(new LoopActor(loop, perActor, done));
            }
            for (int t = 0; t < threads; t++) {
                new Thread(() -> {
                    try {
                        for (long i = 0; i < perActor && failure.get() == null; i++) {
                            step(ThreadLocalRandom.current(), null);
                            if ((i & 15) == 0) {
                                Thread.yield();
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                    done.countDown();
                }, "stress-thread-" + t).start();
            }
            assertThat(done.await(3, TimeUnit.MINUTES)).as("actors finished").isTrue();

            // Wind down: close every channel (cancels bound waits, ends bound permits), end what is held.
            for (int i = 0; i < CHANNELS; i++) {
                channels.get(i).close().syncUninterruptibly();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline && !(waits.stream().allMatch(Future::isDone) && held.isEmpty())) {
                Permit p;
                while ((p = held.poll()) != null) {
                    p.release();
                }
                Thread.sleep(1);
            }
            System.out.printf("ChannelLimitsStressTest: %,d ops: %,d grants, %,d cancels won, %,d timeouts,"
                    + " %,d channel closes, %,d second ends refused%n",
                    perActor * 4, grants.get(), cancels.get(), timeouts.get(), closes.get(), doubleEnds.get());

            assertThat(failure.get()).as("failure while running").isNull();
            assertThat(waits).as("every wait completed").allMatch(Future::isDone);
            assertThat(granted).as("every permit granted was ended").allMatch(Permit::isReleased);
            assertThat(global.availablePermits()).as("global permits conserved").isEqualTo(GLOBAL);
            assertThat(inner.availablePermits()).as("inner permits conserved").isEqualTo(INNER);
            assertThat(global.queueLength() + inner.queueLength()).as("queues empty").isZero();
            assertThat(grants.get()).isPositive();
            assertThat(cancels.get()).isPositive();
            assertThat(timeouts.get()).isPositive();
            assertThat(closes.get()).isPositive();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private Channel newChannel() {
        LocalChannel ch = new LocalChannel();
        loops[ThreadLocalRandom.current().nextInt(loops.length)].register(ch);
        return ch;
    }

    /** Runs in slices so the loop runs listeners (grants, timeouts, closes) in between. */
    private final class LoopActor implements Runnable {
        private final EventLoop loop;
        private final CountDownLatch done;
        private long left;

        LoopActor(EventLoop loop, long ops, CountDownLatch done) {
            this.loop = loop;
            this.left = ops;
            this.done = done;
        }

        @Override
        public void run() {
            try {
                for (int i = 0; i < 32 && left > 0; i++, left--) {
                    step(ThreadLocalRandom.current(), loop);
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
                left = 0;
            }
            if (left > 0 && failure.get() == null) {
                loop.execute(this);
            } else {
                done.countDown();
            }
        }
    }

    private void step(ThreadLocalRandom r, EventLoop onLoop) {
        int op = r.nextInt(100);
        AsyncLimiter limiter = r.nextBoolean() ? single : composite;
        if (op < 30) {                                       // a channel-bound wait
            Channel ch = channels.get(r.nextInt(CHANNELS));
            Future<Permit> f = r.nextBoolean()
                    ? ChannelLimits.acquire(limiter, ch)
                    : ChannelLimits.acquire(limiter, ch, r.nextInt(3), TimeUnit.MILLISECONDS);
            track(f);
        } else if (op < 38) {                                // a plain timed wait
            EventLoop loop = onLoop != null ? onLoop : loops[r.nextInt(loops.length)];
            track(limiter.acquire(loop, r.nextInt(2), TimeUnit.MILLISECONDS));
        } else if (op < 45) {                                // now or never
            Permit p = limiter.tryAcquire();
            if (p != null) {
                granted(p);
            }
        } else if (op < 58) {                                // cancel some wait
            Future<Permit> f = waits.poll();
            if (f != null) {
                if (f.cancel(false)) {
                    cancels.incrementAndGet();
                } else if (!f.isDone()) {
                    waits.add(f);                            // granted, completion on its way
                }
            }
        } else if (op < 62) {                                // a client goes away
            int i = r.nextInt(CHANNELS);
            Channel old = channels.getAndSet(i, newChannel());
            old.close();
            closes.incrementAndGet();
        } else {                                             // end a permit, sometimes twice
            Permit p = held.poll();
            if (p != null) {
                switch (r.nextInt(3)) {
                    case 0 -> p.release();
                    case 1 -> p.releaseDropped();
                    default -> p.releaseIgnored();
                }
                if (r.nextInt(8) == 0) {
                    if (p.release()) {
                        throw new AssertionError("a second release ended " + p + " again");
                    }
                    doubleEnds.incrementAndGet();
                }
            }
        }
    }

    private void track(Future<Permit> f) {
        waits.add(f);
        f.addListener(x -> {
            if (x.isSuccess()) {
                granted((Permit) x.getNow());
            } else if (x.cause() instanceof dev.nettysync.WaitTimeoutException) {
                timeouts.incrementAndGet();
            } else if (!x.isCancelled() && !(x.cause() instanceof dev.nettysync.QueueFullException)) {
                failure.compareAndSet(null, x.cause());
            }
        });
        if (waits.size() > 64) {                              // keep the list short: drop finished ones
            waits.removeIf(Future::isDone);
        }
    }

    private void granted(Permit p) {
        grants.incrementAndGet();
        granted.add(p);
        held.add(p);
    }
}
