package dev.nettysync.internal;

/**
 * An intrusive doubly linked FIFO of {@link Waiter}s: adding, removing any waiter, and taking the
 * first are O(1) and allocate nothing.
 *
 * <p><b>Not thread-safe</b>: every method must be called by a thread holding the owning
 * primitive's lock. {@link #size()} alone may be read without it (it is volatile) for
 * monitoring.
 */
public final class WaiterList<W extends Waiter<?>> {

    private Waiter<?> head;            // guarded by the owner's lock
    private Waiter<?> tail;            // guarded by the owner's lock
    private volatile int size;         // written under the owner's lock, read by anyone

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return head == null;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    public void addLast(W w) {
        assert w.list == null : "waiter already queued";
        Waiter raw = w;
        raw.list = this;
        raw.prev = tail;
        raw.next = null;
        if (tail == null) {
            head = raw;
        } else {
            ((Waiter) tail).next = raw;
        }
        tail = raw;
        size = size + 1;
    }

    @SuppressWarnings("unchecked")
    public W peekFirst() {
        return (W) head;
    }

    /**
     * Removes up to {@code max} waiters from the head and returns them as a chain linked through
     * {@link Waiter#nextGranted}, in FIFO order ({@code null} if none). With {@code claim}, each
     * is {@link Waiter#claim() claimed} (its grant made final) and one that cannot be claimed
     * (completed behind the primitive's back) is dropped. Caller holds the lock; walk the chain
     * with {@link Waiter#detachNext()} after dropping it.
     */
    public W pollChain(int max, boolean claim) {
        W first = null;
        Waiter<?> last = null;
        W w;
        for (int taken = 0; taken < max && (w = pollFirst()) != null; ) {
            if (claim && !w.claim()) {
                continue;
            }
            if (last == null) {
                first = w;
            } else {
                link(last, w);
            }
            last = w;
            taken++;
        }
        return first;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static void link(Waiter<?> from, Waiter<?> to) {
        ((Waiter) from).nextGranted = to;
    }

    /** The waiter after {@code w} in this list, or {@code null}; {@code w} must be in it. */
    @SuppressWarnings("unchecked")
    public W nextOf(W w) {
        assert w.list == this : "not in this list";
        return (W) w.next;
    }

    /** Removes and returns the first waiter, or {@code null} if empty. */
    public W pollFirst() {
        W w = peekFirst();
        if (w != null) {
            unlink(w);
        }
        return w;
    }

    /**
     * Removes {@code w} if it is in this list.
     *
     * @return {@code false} if it was not (already taken out, or never in it)
     */
    public boolean remove(W w) {
        if (w.list != this) {
            return false;
        }
        unlink(w);
        return true;
    }

    /**
     * Removes {@code w} if it is in this list and, with {@code claim}, {@link Waiter#claim()
     * claims} it (an abandon that must be final, like a timeout).
     *
     * @return {@code false} if it was not in this list
     */
    public boolean remove(W w, boolean claim) {
        if (!remove(w)) {
            return false;
        }
        if (claim) {
            w.claim();
        }
        return true;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void unlink(Waiter<?> w) {
        Waiter raw = w;
        Waiter prev = raw.prev;
        Waiter next = raw.next;
        if (prev == null) {
            head = next;
        } else {
            prev.next = next;
        }
        if (next == null) {
            tail = prev;
        } else {
            next.prev = prev;
        }
        raw.prev = null;
        raw.next = null;
        raw.list = null;
        size = size - 1;
    }
}
