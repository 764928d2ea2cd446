package dev.nettysync.demo;

import picocli.CommandLine;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/**
 * Parses durations for flags: {@code 250ms}, {@code 2s}, {@code 1m}, {@code 1h}, a bare {@code 0},
 * or ISO-8601 ({@code PT2S}), from 0 to {@link #MAX} (24 hours). Negative durations are refused,
 * and so are longer ones: every duration is later turned into nanoseconds, added to a clock or to
 * another duration, which would overflow for absurd values (e.g. {@code PT2600000H}) and fail
 * far from the flag that caused it.
 */
public final class DurationConverter implements CommandLine.ITypeConverter<Duration> {

    /** The longest duration any flag accepts. */
    static final Duration MAX = Duration.ofHours(24);

    @Override
    public Duration convert(String value) {
        Duration d = parse(value);
        if (d == null || d.isNegative()) {
            throw new CommandLine.TypeConversionException(
                    "'" + value + "' is not a duration: use e.g. 250ms, 2s, 1m, 0 or PT2S (not negative)");
        }
        if (d.compareTo(MAX) > 0) {
            throw new CommandLine.TypeConversionException(
                    "'" + value + "' is too long: at most " + format(MAX) + " (24h)");
        }
        return d;
    }

    static Duration parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        try {
            if (v.startsWith("p") || v.startsWith("-p")) {
                return Duration.parse(v.toUpperCase(Locale.ROOT));
            }
            if (v.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
            }
            if (v.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)));
            }
            if (v.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1)));
            }
            if (v.endsWith("h")) {
                return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
            }
            if (v.equals("0")) {
                return Duration.ZERO;
            }
        } catch (NumberFormatException | DateTimeParseException | ArithmeticException e) {
            return null;
        }
        return null;
    }

    /** {@code 1500ms}, {@code 2s}: the shortest exact form. */
    static String format(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
    }
}
