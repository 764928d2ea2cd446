package dev.nettysync.bench.jmh;

import dev.nettysync.bench.peers.SemaphorePeer;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;

/**
 * Goal P3, memory side: bytes per queued waiter. For each async peer, queues {@code depth}
 * waiters on a semaphore with no permit (futures bound to a real event loop) and prints a
 * Markdown table of
 * <ul>
 *   <li>allocated bytes per {@code acquire} that queues (thread allocation counter), and</li>
 *   <li>retained heap bytes per queued waiter (heap used after a full GC, with and without the
 *       queue), which is what a million parked requests really cost.</li>
 * </ul>
 * Not a JMH benchmark (a heap measurement needs a quiet, single-purpose JVM); run with a fixed
 * heap: {@code java -Xms2g -Xmx2g -cp bench/target/benchmarks.jar
 * dev.nettysync.bench.jmh.WaiterFootprint [depth] [impl...]}
 */
public final class WaiterFootprint {

    public static void main(String[] args) throws Exception {
        int depth = args.length > 0 ? Integer.parseInt(args[0].replace("_", "")) : 1_000_000;
        List<String> impls = new ArrayList<>(SemaphorePeer.ASYNC);
        if (args.length > 1) {
            impls = List.of(args).subList(1, args.length);
        }
        System.out.println("Bytes per queued waiter, " + depth + " waiters on one semaphore"
                + " (Java " + System.getProperty("java.version") + ", "
                + ManagementFactory.getRuntimeMXBean().getInputArguments() + "):");
        System.out.println();
        System.out.println("| impl | allocated B per queued acquire | retained B per queued waiter |");
        System.out.println("|---|---:|---:|");
        try (AbstractEventLoopBenchmark.Loops loops = new AbstractEventLoopBenchmark.Loops(1)) {
            for (String impl : impls) {
                long[] r = measure(impl, depth, loops);
                System.out.printf("| %s | %.1f | %.1f |%n", impl, (double) r[0] / depth, (double) r[1] / depth);
            }
        }
    }

    /** Returns {allocated bytes, retained bytes} for {@code depth} queued waiters. */
    static long[] measure(String impl, int depth, AbstractEventLoopBenchmark.Loops loops) {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        // warm the code path so class loading and JIT do not show up as allocation
        SemaphorePeer warm = SemaphorePeer.create(impl, 0);
        for (int i = 0; i < 20_000; i++) {
            warm.acquire(loops.loops[0]);
        }
        warm = null;
        SemaphorePeer sem = SemaphorePeer.create(impl, 0);
        long before = usedAfterGc();
        long alloc0 = threads.getThreadAllocatedBytes(tid);
        for (int i = 0; i < depth; i++) {
            sem.acquire(loops.loops[0]);
        }
        long allocated = threads.getThreadAllocatedBytes(tid) - alloc0;
        long after = usedAfterGc();
        Reference.reachabilityFence(sem);
        return new long[] {allocated, after - before};
    }

    private static long usedAfterGc() {
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++) {      // several GCs: take the settled value
            System.gc();
            used = Math.min(used, mem.getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    private WaiterFootprint() {
    }
}
