package dev.nettysync.testing;

/**
 * A test executor that is always "in its loop" and runs every task inline, on the calling
 * thread; a subclass supplies {@code schedule} (how its timers behave) and what else it needs.
 */
public abstract class InlineExecutor extends TestEventExecutor {

    @Override
    public boolean inEventLoop(Thread thread) {
        return true;
    }

    @Override
    public void execute(Runnable task) {
        task.run();
    }
}
