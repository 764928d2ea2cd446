package dev.nettysync.examples.support;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * What an example prints: lines stamped with the time since the example started and the thread
 * that wrote them, in the order they were logged.
 *
 * <p>{@link #log(String)} is called from event loops, so it must not block: it appends to a
 * lock-free queue and, when printing, wakes a plain printer thread that writes to the stream
 * (writing to {@code System.out} is blocking I/O, which has no place on an event loop). Tests use a
 * {@link #recording()} timeline and check {@link #entries()}.
 *
 * <p>Order: if one {@code log} call happens-before another (same thread, or ordered by a lock,
 * semaphore, event... of the example), its entry comes first; concurrent calls come in the order
 * their appends linearized.
 */
public final class Timeline implements AutoCloseable {

    /** One logged line: nanoseconds since the timeline started, the event loop (or "main" for any other thread), the message. */
    public record Entry(long nanos, String thread, String message) {

        /** Seconds since the timeline started. */
        public double seconds() {
            return nanos / 1e9;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "[%5.2fs] %-7s %s", seconds(), thread, message);
        }
    }

    private final long start = System.nanoTime();
    private final ConcurrentLinkedQueue<Entry> entries = new ConcurrentLinkedQueue<>(); // appended by log()
    private final ConcurrentLinkedQueue<Entry> toPrint;   // null if not printing; polled by the printer
    private final Thread printer;                         // null if not printing
    private volatile boolean closed;                      // written once by close()

    private Timeline(PrintStream out) {
        if (out == null) {
            toPrint = null;
            printer = null;
        } else {
            toPrint = new ConcurrentLinkedQueue<>();
            printer = new Thread(() -> print(out), "timeline-printer");
            printer.setDaemon(true);
            printer.start();
        }
    }

    /** A timeline that prints each line to {@code out} as it is logged (from its own thread). */
    public static Timeline printingTo(PrintStream out) {
        return new Timeline(out);
    }

    /** A timeline that only records. */
    public static Timeline recording() {
        return new Timeline(null);
    }

    /** Records (and prints) {@code message}; never blocks, callable from any thread. */
    public void log(String message) {
        String thread = Thread.currentThread().getName();
        Entry e = new Entry(System.nanoTime() - start, thread.startsWith("loop-") ? thread : "main", message);
        entries.add(e);
        if (toPrint != null) {
            toPrint.add(e);
            LockSupport.unpark(printer);
        }
    }

    /** Nanoseconds since the timeline started. */
    public long nanosSinceStart() {
        return System.nanoTime() - start;
    }

    /** The entries logged so far, in order. */
    public List<Entry> entries() {
        return new ArrayList<>(entries);
    }

    /** The messages logged so far, in order. */
    public List<String> messages() {
        return entries().stream().map(Entry::message).toList();
    }

    /** The whole timeline as printed, one entry a line (for assertion messages). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Entry e : entries) {
            sb.append(e).append('\n');
        }
        return sb.toString();
    }

    /** Prints what is still queued and stops the printer; blocks, so not for event loops. */
    @Override
    public void close() {
        closed = true;
        if (printer != null) {
            LockSupport.unpark(printer);
            try {
                printer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void print(PrintStream out) {
        for (;;) {
            Entry e = toPrint.poll();
            if (e != null) {
                out.println(e);
            } else if (closed) {
                for (Entry last; (last = toPrint.poll()) != null; ) {   // logged just before close()
                    out.println(last);
                }
                out.flush();
                return;
            } else {
                LockSupport.park(this);
            }
        }
    }
}
