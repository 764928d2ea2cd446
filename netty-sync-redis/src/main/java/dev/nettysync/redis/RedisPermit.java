package dev.nettysync.redis;

import dev.nettysync.internal.Timers;
import dev.nettysync.limit.AbstractPermit;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Permits of a {@link RedisSemaphore} held under one lease. Ending it (any {@code release*}, or
 * {@code close()}) stops renewal and runs the release script once, naming {@link #leaseId()};
 * the outcome of the work does not matter to a semaphore, so the three endings act alike.
 *
 * <p>While held, the lease is renewed every third of its length on Lettuce's computation
 * executor. {@link #lease()} reports how the lease ended: it succeeds when the release script
 * freed the permits, and fails with a {@link LeaseLostException} if the lease was gone before
 * (expired, lost by the server) — possibly while the work was still running, so holders doing
 * long work should listen to it and stop. Its listeners run on the executor the permit was
 * acquired for. While Redis is unreachable, renewals are skipped (they count as failed) and a
 * release is handed to Lettuce, which sends it once reconnected; {@link #lease()} then fails
 * with a {@link RedisUnavailableException} after the command timeout. Released against an
 * empty, restarted server, the lease is unknown there and nothing changes. If Lettuce's
 * computation executor shuts down (the client's resources shut down before
 * {@link RedisLimiters#close()}), it cancels the renewal: {@link #lease()} fails at once with a
 * {@link LeaseLostException} (the lease expires within a lease; a release still frees it now).
 *
 * <p>A permit that becomes unreachable without being ended is not renewed any more: its
 * lease expires (the fleet gets the permits back within one lease), it stops counting as held
 * here ({@link RedisSemaphore#statistics()}'s {@code inUse}) once the garbage collector has
 * found it, whatever became of its lease (renewed, lost, or its {@link RedisLimiters} closed),
 * and Netty's leak detector can report it.
 *
 * <p>Thread-safe; ending is exactly-once ({@link AbstractPermit}).
 */
public final class RedisPermit extends AbstractPermit {

    private final RedisSemaphore semaphore;
    private final String leaseId;
    private final int permits;
    private final Promise<Void> lease;            // completed once: released, or lost
    private final ScheduledFuture<?> renewal;     // set in the constructor, cancelled by the release;
                                                  // its task holds this permit weakly (see Renewal)
    private final Renewal renewalTask;            // set in the constructor; also the renewal's listener
    private final Cleaner.Cleanable held;         // uncounts the permits once: by the release,
                                                  // or by the cleaner after a collection
    private volatile long lastRenewedNanos;       // written by renewal replies (Lettuce thread)

    /*
     * Implementation notes
     *
     * Two things outlive a permit nobody released: its renewal timer, and its place in the
     * semaphore's count of permits held here (heldHere). The timer holds the permit weakly and
     * cancels itself when it finds it collected, so the lease expires. The count is given back by
     * a Cleaner action registered at construction (it holds the semaphore and the number, never
     * the permit): the first release runs it (Cleanable.clean() is exactly-once and deregisters),
     * or, once the permit is collected, the renewal timer finding it gone or the cleaner's thread,
     * whichever comes first (the timer is prompt, within a third of a lease; the cleaner's thread
     * depends on reference processing). The count does not depend on the timer still running: a renewal stops for good when the lease is lost or the fleet is
     * closed, and a permit forgotten after that must still stop counting.
     *
     * The renewal's task is also its listener (it holds the permit weakly, so listening keeps
     * nothing reachable): stopRenewal removes it before cancelling, so a cancellation it sees
     * was made by Lettuce's computation executor as it shut down (Netty cancels every
     * scheduled task then), and the lease is reported lost at once (renewalStopped). A permit
     * is not made while that executor is shutting down, nor kept if its renewal is found
     * cancelled right after scheduling: the constructor throws and the grant is released. Leak
     * tracking starts in AbstractPermit's constructor, before this one can throw: a failing
     * constructor closes it (abandonConstruction), or the collection of a permit nobody ever
     * held would be reported as a leak.
     */

    RedisPermit(RedisSemaphore semaphore, String leaseId, int permits, EventExecutor executor) {
        this.semaphore = semaphore;
        this.leaseId = leaseId;
        this.permits = permits;
        try {
            this.lease = executor.newPromise();
            this.lastRenewedNanos = System.nanoTime();
            long period = Math.max(1, semaphore.leaseMillis() / 3);
            Fleet fleet = semaphore.fleet();
            if (fleet.schedulerShuttingDown()) {    // it would accept the renewal and cancel it at its next turn
                throw fleet.schedulerDown("RedisSemaphore " + semaphore.name());
            }
            Renewal task = new Renewal(this);
            this.renewalTask = task;
            this.renewal = fleet.scheduler().scheduleAtFixedRate(task, period, period, TimeUnit.MILLISECONDS);
            task.self = renewal;
            if (Timers.listenLost(renewal, fleet.scheduler(), task)) {   // it will never run
                stopRenewal();
                throw fleet.schedulerDown("RedisSemaphore " + semaphore.name());
            }
            // registered last: a constructor that throws (the renewal rejected) must not uncount later
            this.held = CLEANER.register(this, new Uncount(semaphore, permits));
            task.held = held;
        } catch (RuntimeException | Error e) {
            abandonConstruction();              // never handed out: its collection is no leak
            throw e;
        }
    }

    /** The lease id: random, unique, known to this holder only (it is the proof of ownership). */
    public String leaseId() {
        return leaseId;
    }

    /** How many permits this lease holds. */
    public int permits() {
        return permits;
    }

    /** The semaphore that granted it. */
    public RedisSemaphore semaphore() {
        return semaphore;
    }

    /**
     * How the lease ends: succeeds when this permit's release freed its permits in Redis; fails
     * with a {@link LeaseLostException} as soon as a renewal (or the release) finds the lease
     * gone, when renewals could not reach Redis for a whole lease, at the first renewal after
     * {@link RedisLimiters#close()} (within a third of a lease: the lease is not renewed any
     * more), or as soon as Lettuce's computation executor stops the renewal by shutting down;
     * fails with Lettuce's
     * exception if the release script could not run (the lease then expires by itself).
     * A release whose reply was lost and that Lettuce sent again after reconnecting (it does,
     * by default) finds the lease gone on its second run: the permits were freed once, and this
     * fails with a {@link LeaseLostException} all the same.
     */
    public Future<Void> lease() {
        return lease;
    }

    @Override
    protected void onEnd(Outcome outcome) {
        stopRenewal();
        held.clean();                           // semaphore.released(permits), once
        semaphore.sendRelease(leaseId).whenComplete((result, error) -> {
            if (error != null) {
                lease.tryFailure(error);
            } else if (result == 1) {
                lease.trySuccess(null);
                semaphore.freed(permits);       // our own waiters need not wait for pub/sub
            } else {
                lease.tryFailure(new LeaseLostException("lease " + leaseId + " of " + semaphore.name()
                        + (result < 0 ? " had expired" : " was not held") + " when released"));
            }
        });
    }

    private void renew() {
        if (isReleased() || lease.isDone()) {
            stopRenewal();
            return;
        }
        if (semaphore.fleet().closed()) {      // a closed client is a dead holder: the lease expires;
            lost(new LeaseLostException("lease " + leaseId + " of " + semaphore.name() + " will not be renewed"
                    + " any more: its RedisLimiters closed (it expires within " + semaphore.leaseMillis() + " ms)"));
            return;                            // a holder still working hears it now, as renewalStopped()
        }
        if (!semaphore.fleet().isConnected()) {   // not sent (Lettuce would only buffer it): a failed renewal
            renewFailed(semaphore.fleet().notConnected("renewal of lease " + leaseId));
            return;
        }
        semaphore.sendRenew(leaseId).whenComplete((reply, error) -> {
            if (error == null) {
                List<Object> r = reply;
                if ((Long) r.get(0) == 1) {
                    lastRenewedNanos = System.nanoTime();
                } else {
                    lost(new LeaseLostException("lease " + leaseId + " of " + semaphore.name()
                            + " is gone (expired or lost by the server)"));
                }
            } else {
                renewFailed(error);
            }
        });
    }

    private void renewFailed(Throwable error) {
        if (System.nanoTime() - lastRenewedNanos > TimeUnit.MILLISECONDS.toNanos(semaphore.leaseMillis())) {
            lost(new LeaseLostException("lease " + leaseId + " of " + semaphore.name()
                    + " could not be renewed for a whole lease", error));
        }
    }

    private void lost(LeaseLostException e) {
        stopRenewal();
        lease.tryFailure(e);
    }

    /**
     * The renewal timer was cancelled, and not by us ({@link #stopRenewal} removes the
     * listener first): Lettuce's computation executor is shutting down, which cancels every
     * scheduled task. Nobody will renew the lease, so it expires within a lease: the holder
     * hears it now, while there is time to stop the work.
     */
    private void renewalStopped() {
        if (isReleased() || lease.isDone()) {
            return;
        }
        lost(new LeaseLostException("lease " + leaseId + " of " + semaphore.name() + " will not be renewed any more"
                + " (it expires within " + semaphore.leaseMillis() + " ms)",
                semaphore.fleet().schedulerDown("RedisSemaphore " + semaphore.name())));
    }

    private void stopRenewal() {
        Timers.cancel(renewal, renewalTask);    // renewal: null only while the constructor runs
    }

    /**
     * The periodic renewal. It holds the permit weakly: a strong reference from the scheduler
     * would keep a forgotten permit reachable, so its lease would be renewed for ever (the
     * fleet would lose the permits for good) and the leak detector would never see it.
     */
    private static final class Renewal implements Runnable, GenericFutureListener<Future<Object>> {
        private final WeakReference<RedisPermit> permit;
        volatile ScheduledFuture<?> self;        // set once by the constructor, before the first run
        volatile Cleaner.Cleanable held;         // set once by the constructor (null for a moment)

        Renewal(RedisPermit permit) {
            this.permit = new WeakReference<>(permit);
        }

        /** Cancelled, and not by the permit: see {@link RedisPermit#renewalStopped()}. */
        @Override
        public void operationComplete(Future<Object> f) {
            RedisPermit p = permit.get();
            if (f.isCancelled() && p != null) {
                p.renewalStopped();
            }
        }

        @Override
        public void run() {
            RedisPermit p = permit.get();
            if (p != null) {
                p.renew();
                return;
            }
            // collected without an end: let the lease expire, and give the count back now if
            // the cleaner has not yet (whichever comes first; clean() runs the action once)
            ScheduledFuture<?> s = self;
            if (s != null) {
                s.cancel(false);
            }
            Cleaner.Cleanable c = held;
            if (c != null) {
                c.clean();
            }
        }
    }

    /** Gives a permit's count back; run once, by its release or after its collection. */
    private static final class Uncount implements Runnable {
        private final RedisSemaphore semaphore;
        private final int permits;

        Uncount(RedisSemaphore semaphore, int permits) {
            this.semaphore = semaphore;
            this.permits = permits;
        }

        @Override
        public void run() {
            semaphore.released(permits);
        }
    }

    /** One daemon thread for the JVM, started with the first permit; it runs Uncount actions only. */
    private static final Cleaner CLEANER = Cleaner.create(r -> {
        Thread t = new Thread(r, "netty-sync-redis-permit-cleaner");
        t.setDaemon(true);
        return t;
    });

    @Override
    public String toString() {
        return "RedisPermit(" + semaphore.name() + ", lease " + leaseId + ", " + permits
                + (isReleased() ? ", released)" : ")");
    }
}
