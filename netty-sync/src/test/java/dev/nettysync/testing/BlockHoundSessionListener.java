package dev.nettysync.testing;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;
import reactor.blockhound.BlockHound;
import reactor.blockhound.BlockingOperationError;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Installs BlockHound once, before any test of the run, so that a blocking call on an event loop
 * anywhere (server, backend, test helpers) throws {@code BlockingOperationError}. Netty's own
 * integration (allow-list of its internals, event-loop threads as non-blocking) is loaded from
 * netty-common by BlockHound's service loader.
 *
 * <p>An error thrown on an event loop may be swallowed there (a listener's exception is only
 * logged), so every blocking call is also recorded, and {@link NoBlockingCallsExtension} fails
 * the test during which one happened. {@code BlockHoundActiveTest} proves both work.
 *
 * <p>Shared with demo-server through the library's test-jar (its META-INF/services registers
 * this listener and the extension for any module that has the test-jar on its test classpath).
 */
public final class BlockHoundSessionListener implements LauncherSessionListener {

    private static final ConcurrentLinkedQueue<String> blockingCalls = new ConcurrentLinkedQueue<>();
    private static final int FRAMES = 16;          // of the caller, in each record

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        BlockHound.install(builder -> builder
                // Netty allows addTask (a blocking queue's lock, held briefly by the executor's own
                // thread), not its mirror: execute() onto a DefaultEventExecutor that has just
                // shut down takes the task back with removeTask, under the same lock, and then
                // rejects it. The tests that shut such executors down under queued waits reach it
                // from event loops (a grant cancelling a timer there), and a contended lock then
                // parked for a moment: Netty's own code, the same brief lock as addTask.
                .allowBlockingCallsInside("io.netty.util.concurrent.SingleThreadEventExecutor", "removeTask")
                // And drainTasks: an executor's own thread, as it ends, polls what is left in its
                // queue (LinkedBlockingQueue.poll, the same brief lock that Netty allows in
                // takeTask and pollTaskFrom, but Netty 4.2's integration does not list this new
                // path). A DefaultEventExecutor shut down while another thread added a task parked
                // there, BlockHound's error ended its thread and it never terminated (the dooming
                // PrimitivesStressTest on JDK 25, once in about 10 runs: 'terminated' false).
                .allowBlockingCallsInside("io.netty.util.concurrent.SingleThreadEventExecutor", "drainTasks")
                .blockingMethodCallback(method -> {
                    blockingCalls.add(method + " on " + Thread.currentThread().getName() + where());
                    throw new BlockingOperationError(method);
                }));
    }

    /**
     * The caller's frames below BlockHound's own, {@value #FRAMES} at most, one per line: the
     * report of a red run must say who blocked, since the error itself may be swallowed.
     */
    private static String where() {
        StringBuilder sb = new StringBuilder();
        int shown = 0;
        for (StackTraceElement frame : new Throwable().getStackTrace()) {
            String c = frame.getClassName();
            if (c.startsWith("reactor.blockhound.") || c.equals(BlockHoundSessionListener.class.getName())
                    || c.startsWith(BlockHoundSessionListener.class.getName() + "$")) {
                continue;
            }
            sb.append("\n\tat ").append(frame);
            if (++shown == FRAMES) {
                break;
            }
        }
        return sb.toString();
    }

    /** Takes the blocking calls recorded since the last call. */
    public static List<String> drainBlockingCalls() {
        List<String> calls = new ArrayList<>();
        String c;
        while ((c = blockingCalls.poll()) != null) {
            calls.add(c);
        }
        return calls;
    }
}
