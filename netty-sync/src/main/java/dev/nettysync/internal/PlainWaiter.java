package dev.nettysync.internal;

import io.netty.util.concurrent.EventExecutor;

/**
 * A waiter whose leaving affects nobody else: abandoning it only unlinks it from its list,
 * under that list's monitor (which must be the owning primitive's lock). Used by primitives
 * where a cancelled or timed-out waiter hands nothing on (an event, a barrier).
 */
public final class PlainWaiter<V> extends Waiter<V> {
    private final WaiterList<PlainWaiter<V>> list;
    private final Object owner;               // for messages only

    public PlainWaiter(EventExecutor executor, WaiterList<PlainWaiter<V>> list, Object owner) {
        super(executor);
        this.list = list;
        this.owner = owner;
    }

    @Override
    protected boolean abandon(boolean claim) {
        synchronized (list) {
            return list.remove(this, claim);
        }
    }

    @Override
    protected String describeWait() {
        return owner.toString();
    }
}
