package dev.nettysync.examples;

import dev.nettysync.AsyncLock;
import dev.nettysync.examples.support.ExampleMain;
import dev.nettysync.examples.support.Futures;
import dev.nettysync.examples.support.TimeScale;
import dev.nettysync.examples.support.Timeline;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

import java.util.ArrayList;
import java.util.List;

/**
 * Tutorial 1.1 and 1.2: two withdrawals of 60 from a balance of 100, each reading the balance,
 * "processing" for 0.1 s, then writing it. Without a lock both read 100 and the final balance is
 * 40 (the bank lost 60); with {@link AsyncLock#withLock} the second waits for the first: -20.
 *
 * <pre>{@code
 * async with lock:                          lock.withLock(ex, () -> {
 *     current = balance                         int current = account.balance;
 *     await asyncio.sleep(0.1)                  return time.after(ex, 0.1, () -> {
 *     balance = current - amount                    account.balance = current - amount; ...
 * }</pre>
 *
 * The unlocked run keeps both tasks on one event loop, as asyncio does, so that the race shows
 * every time; the locked run puts them on two loops, which really run at once: one lock serves
 * all loops.
 */
public final class BankWithdraw {

    /** The balance both withdrawals update. */
    static final class Account {
        // volatile so that each loop sees the other's write; it does not make the read, the
        // sleep and the write one atomic step: that is the race the lock fixes.
        volatile int balance;

        Account(int balance) {
            this.balance = balance;
        }
    }

    private BankWithdraw() {
    }

    /** 1.1: read, sleep, write, with nothing to stop another task from running in between. */
    static Future<Void> withdrawUnsafe(Account account, int amount, EventExecutor ex, Timeline t, TimeScale time) {
        int current = account.balance;
        return time.after(ex, 0.1, () -> {          // await asyncio.sleep(0.1): others run now
            account.balance = current - amount;
            t.log("  Withdrew " + amount + ", balance: " + account.balance);
            return null;
        });
    }

    /** 1.2: the same body under {@code async with lock}. */
    static Future<Void> withdraw(AsyncLock lock, Account account, int amount, EventExecutor ex, Timeline t, TimeScale time) {
        return lock.withLock(ex, () -> withdrawUnsafe(account, amount, ex, t, time));
    }

    /**
     * Starts one withdrawal task per amount, from a balance of 100, and returns the final balance.
     *
     * @param spread whether the tasks go round-robin over the group's loops (really in parallel)
     *               or all on one loop, as asyncio runs them. On one loop the unlocked race
     *               loses money every time: every task reads the balance before any timer can
     *               fire. Spread over loops it still loses money whenever two reads fall within
     *               one sleep of each other, which depends on timing.
     */
    public static Future<Integer> run(EventLoopGroup group, Timeline t, TimeScale time,
                                      boolean useLock, boolean spread, int... amounts) {
        Account account = new Account(100);
        AsyncLock lock = new AsyncLock();
        EventExecutor main = group.next();
        // like asyncio.run(main()): the tasks are created from a task on a loop, all in one go
        return Futures.task(main, () -> {
            List<Future<Void>> tasks = new ArrayList<>();
            for (int amount : amounts) {
                EventExecutor ex = spread ? group.next() : main;
                tasks.add(Futures.task(ex, () -> useLock
                        ? withdraw(lock, account, amount, ex, t, time)
                        : withdrawUnsafe(account, amount, ex, t, time)));
            }
            return Futures.map(Futures.gather(main, tasks), main, done -> {
                t.log("Final balance: " + account.balance);
                return account.balance;
            });
        });
    }

    /** Runs 1.1 then 1.2; the only argument is an optional time scale. */
    public static void main(String[] args) {
        ExampleMain.run("1.1 withdraw(60) twice, no lock, one event loop (should be -20)", args,
                (group, t, time) -> run(group, t, time, false, false, 60, 60));
        ExampleMain.run("1.2 withdraw(60) twice under an AsyncLock, on two event loops", args,
                (group, t, time) -> run(group, t, time, true, true, 60, 60));
    }
}
