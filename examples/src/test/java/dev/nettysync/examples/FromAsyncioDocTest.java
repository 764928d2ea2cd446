package dev.nettysync.examples;

import dev.nettysync.AsyncSemaphore;
import dev.nettysync.examples.support.ExampleLoops;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The claims of docs/from-asyncio.md that are about Netty rather than about one primitive:
 * "the next holder may run before release() returns".
 */
class FromAsyncioDocTest {

    @RegisterExtension
    static final ExampleLoops loops = new ExampleLoops();
    private static EventExecutor a;
    private static EventExecutor b;

    @BeforeAll
    static void start() {
        a = loops.loop(0);
        b = loops.loop(1);
    }

    /** Holds the only permit, queues a waiter on {@code waiterLoop}, then releases from loop a. */
    private static List<String> releaseOnAWithTheNextWaiterOn(EventExecutor waiterLoop) {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        List<String> order = new CopyOnWriteArrayList<>();
        Promise<Void> both = a.newPromise();                 // once both lines are in
        a.execute(() -> {
            assertThat(sem.tryAcquire()).isTrue();
            Future<Void> next = sem.acquire(waiterLoop);
            next.addListener(f -> {
                order.add("next holder runs on " + (a.inEventLoop() ? "a" : "b"));
                sem.release();
                if (order.size() == 2) {
                    both.trySuccess(null);
                }
            });
            sem.release();
            order.add("release() returned");
            if (order.size() == 2) {
                both.trySuccess(null);
            }
        });
        assertThat(both.awaitUninterruptibly(10, TimeUnit.SECONDS)).isTrue();
        return order;
    }

    @Test
    void onTheSameLoopTheNextHoldersListenerRunsInsideRelease() {
        assertThat(releaseOnAWithTheNextWaiterOn(a)).containsExactly("next holder runs on a", "release() returned");
    }

    @Test
    void handingTheReleaseToTheExecutorGivesAsynciosOrder() {
        AsyncSemaphore sem = new AsyncSemaphore(1);
        List<String> order = new CopyOnWriteArrayList<>();
        Promise<Void> done = a.newPromise();
        a.execute(() -> {
            assertThat(sem.tryAcquire()).isTrue();
            sem.acquire(a).addListener(f -> {
                order.add("next holder runs");
                sem.release();
                done.setSuccess(null);
            });
            a.execute(sem::release);
            order.add("step ends");
        });
        assertThat(done.awaitUninterruptibly(10, TimeUnit.SECONDS)).isTrue();
        assertThat(order).containsExactly("step ends", "next holder runs");
    }

    @Test
    void onAnotherLoopTheListenerRunsThereNotInTheReleasingThread() {
        List<String> order = releaseOnAWithTheNextWaiterOn(b);
        assertThat(order).containsExactlyInAnyOrder("next holder runs on b", "release() returned");
    }
}
