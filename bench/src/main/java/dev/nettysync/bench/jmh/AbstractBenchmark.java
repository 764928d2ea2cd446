package dev.nettysync.bench.jmh;

import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Fork and warm-up settings shared by every benchmark (as in Netty's {@code AbstractMicrobenchmark}).
 * The defaults are what {@code bench/scripts/jmh.sh} uses for the "few minutes on 2 cores" run;
 * the command line ({@code -f}, {@code -wi}, {@code -i}, {@code -w}, {@code -r}) overrides them.
 *
 * <p>One fork per parameter combination keeps each implementation's call sites monomorphic: a
 * fork never sees another peer's classes. The heap is fixed so that the deep-queue benchmark's
 * million waiters do not trigger resizing in the middle of a measurement; leak detection is off
 * because it samples allocations of the Netty peers unevenly.
 */
@Fork(value = 1, jvmArgsAppend = {
        "-Xms2g", "-Xmx2g",
        "-Dio.netty.leakDetection.level=disabled",
})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public abstract class AbstractBenchmark {
}
