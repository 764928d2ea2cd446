package dev.nettysync;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link LockSemaphore}, the core shared by {@link AsyncLock} and {@link AsyncReadWriteLock}:
 * bounded at its permits, named after its lock, and {@code holding} ends a hold with the lock's
 * own unlock exactly once. The locks' behaviour is covered by their own tests.
 */
class LockSemaphoreTest extends ScenarioTest {
    private static final Object LOCK = new Object() {
        @Override
        public String toString() {
            return "TheLock";
        }
    };

    @Test
    void boundedAtItsPermitsAndTheExtraUnlockIsTheLocksMisuseError() {
        LockSemaphore s = invariants.check(new LockSemaphore(LOCK, 2, Integer.MAX_VALUE));
        assertThat(s.tryAcquire(2)).isTrue();
        s.release(2);
        assertThatThrownBy(s::release).isInstanceOf(IllegalStateException.class)
                .hasMessage("unlock() of TheLock, which is not locked");
        assertThat(s.availablePermits()).as("nothing changed").isEqualTo(2);
        assertThat(s.misuse("downgrade()", "not write-locked"))
                .hasMessage("downgrade() of TheLock, which is not write-locked");
    }

    @Test
    void everyMessageNamesTheLock() {
        LockSemaphore s = invariants.check(new LockSemaphore(LOCK, 1, 0));
        assertThat(s).hasToString("TheLock");
        assertThat(s.tryAcquire()).isTrue();
        assertThat(s.acquire(IMMEDIATE).cause()).isInstanceOf(QueueFullException.class).hasMessageContaining("TheLock");
        s.close();
        assertThat(s.acquire(IMMEDIATE).cause()).isInstanceOf(ClosedException.class);
        s.release();
    }

    @Test
    void holdingTakesNPermitsAndCallsTheUnlockOnceWhenTheActionsFutureCompletes() {
        LockSemaphore s = invariants.check(new LockSemaphore(LOCK, 3, Integer.MAX_VALUE));
        AtomicInteger unlocks = new AtomicInteger();
        Promise<String> action = IMMEDIATE.newPromise();
        Future<String> result = s.holding(IMMEDIATE, 3, caller -> action, () -> {
            unlocks.incrementAndGet();
            s.release(3);
        });
        assertThat(s.availablePermits()).isZero();
        assertThat(result.cancel(false)).isTrue();
        assertThat(unlocks).as("a cancel of the caller's future does not end a running hold").hasValue(0);
        action.setSuccess("done");
        assertThat(unlocks).hasValue(1);
        assertThat(s.availablePermits()).isEqualTo(3);
        assertThatThrownBy(() -> s.holding(IMMEDIATE, 1, null, s::release)).isInstanceOf(NullPointerException.class);
        assertThat(s.availablePermits()).as("a null action takes nothing").isEqualTo(3);
    }
}
