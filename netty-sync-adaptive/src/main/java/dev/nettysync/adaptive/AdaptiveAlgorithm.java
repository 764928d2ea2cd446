package dev.nettysync.adaptive;

import com.netflix.concurrency.limits.Limit;
import com.netflix.concurrency.limits.limit.AIMDLimit;
import com.netflix.concurrency.limits.limit.Gradient2Limit;
import com.netflix.concurrency.limits.limit.VegasLimit;

import java.util.Locale;

/**
 * The algorithms of Netflix concurrency-limits that {@link AdaptiveLimiter.Builder#algorithm}
 * builds, each with the builder's initial, min and max limits and otherwise Netflix's defaults.
 * For other settings build the {@link Limit} yourself and pass it to
 * {@link AdaptiveLimiter.Builder#limit}.
 *
 * <p>How each one reacts to what a permit reports:
 * <table>
 *   <caption>Reactions</caption>
 *   <tr><th></th><th>latency rises</th><th>{@code releaseDropped()}</th><th>creeps?</th></tr>
 *   <tr><td>{@link #VEGAS}</td><td>shrinks once the estimated queue
 *       ({@code limit × (1 − minRtt/rtt)}) exceeds {@code 6·log10(limit)}</td>
 *       <td>shrinks by {@code log10(limit)}</td><td>no: the queue estimate bounds it</td></tr>
 *   <tr><td>{@link #GRADIENT2}</td><td>shrinks only while the sample RTT exceeds 1.5 × its
 *       long-run average; that average follows the latency up</td><td>ignored (0.5.4)</td>
 *       <td>yes, under sustained overload (concurrency-limits #134): only {@code maxLimit}
 *       bounds it</td></tr>
 *   <tr><td>{@link #AIMD}</td><td>only past its timeout (5 s): grows by one per sample while
 *       at least half the limit is in use</td><td>× 0.9</td><td>up to {@code maxLimit} unless
 *       work is dropped</td></tr>
 * </table>
 */
public enum AdaptiveAlgorithm {

    /** {@link VegasLimit}: delay-based, keeps a small estimated queue at the backend. */
    VEGAS {
        @Override
        Limit create(int initialLimit, int minLimit, int maxLimit) {
            // Vegas has no minimum of its own (1); the limiter clamps to minLimit.
            return VegasLimit.newBuilder().initialLimit(initialLimit).maxConcurrency(maxLimit).build();
        }
    },

    /** {@link Gradient2Limit}: the ratio of long-run to current RTT, plus a queue allowance of 4. */
    GRADIENT2 {
        @Override
        Limit create(int initialLimit, int minLimit, int maxLimit) {
            return Gradient2Limit.newBuilder().initialLimit(initialLimit).minLimit(minLimit)
                    .maxConcurrency(maxLimit).build();
        }
    },

    /** {@link AIMDLimit}: additive increase, multiplicative decrease on drops. */
    AIMD {
        @Override
        Limit create(int initialLimit, int minLimit, int maxLimit) {
            return AIMDLimit.newBuilder().initialLimit(initialLimit).minLimit(minLimit).maxLimit(maxLimit).build();
        }
    };

    /** A new, unshared instance of the algorithm. */
    abstract Limit create(int initialLimit, int minLimit, int maxLimit);

    /**
     * The algorithm named {@code name}, case-insensitive: {@code vegas}, {@code gradient2} or
     * {@code aimd} (the spelling of a command-line flag such as {@code --limit=adaptive:vegas}).
     *
     * @throws IllegalArgumentException naming the accepted values, for any other name
     */
    public static AdaptiveAlgorithm parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (AdaptiveAlgorithm a : values()) {
            if (a.name().toLowerCase(Locale.ROOT).equals(n)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown adaptive algorithm '" + name + "': expected vegas, gradient2 or aimd");
    }
}
