package dev.nettysync.internal;

/**
 * Argument checks that fail with the library's message shape, {@code "burst must be >= 1, was 0"}:
 * the name, the bound and the value, so that a bad configuration says what to change. Not API.
 */
public final class Checks {

    private Checks() {
    }

    /**
     * @return {@code value}
     * @throws IllegalArgumentException if {@code value < min}, naming {@code name}, the bound and the value
     */
    public static int atLeast(int value, int min, String name) {
        if (value < min) {
            throw new IllegalArgumentException(name + " must be >= " + min + ", was " + value);
        }
        return value;
    }
}
