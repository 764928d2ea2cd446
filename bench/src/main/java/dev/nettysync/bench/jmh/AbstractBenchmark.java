package dev.nettysync.bench.jmh;

import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Fork and warm-up settings shared by every benchmark (as in Netty's {@code AbstractMicrobenchmark}).
 * The command line ({@code -f}, {@code -wi}, {@code -i}, {@code -w}, {@code -r}, {@code -jvmArgs})
 * overrides them; classes whose rows are noisy (a cross-loop hop pays a wake-up whose cost varies)
 * ask for more measured iterations on their own {@code @Measurement}.
 *
 * <p>One fork per parameter combination keeps each implementation's call sites monomorphic: a
 * fork never sees another peer's classes. The JVM settings make the peers' rows comparable:
 * <ul>
 *   <li>a fixed heap ({@code -Xms} = {@code -Xmx}), so the deep-queue benchmark's million
 *       waiters never resize it in the middle of a measurement;</li>
 *   <li>{@code -XX:+AlwaysPreTouch}: every heap page is touched at start-up. Without it the first
 *       touch of each page happens during the measurement (on some VMs at a few hundred MB/s),
 *       and a row that allocates drifts by several times inside one fork while a row that
 *       does not is unaffected: a handicap for whichever peer allocates more. The price is
 *       start-up time (1 GB at a few hundred MB/s: a few seconds per fork);</li>
 *   <li>leak detection off, because it samples the Netty peers' allocations unevenly.</li>
 * </ul>
 * The garbage collector is the JVM's default (G1) unless the command line adds another with
 * {@code -jvmArgs} (the deep-queue rows are run under a second collector that way, see
 * {@code bench/scripts/run-issue14.sh}); reports label each row with the collector it ran under.
 */
@Fork(value = 1, jvmArgsAppend = {
        "-Xms1g", "-Xmx1g",
        "-XX:+AlwaysPreTouch",
        "-Dio.netty.leakDetection.level=disabled",
})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public abstract class AbstractBenchmark {
}
