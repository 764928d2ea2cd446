package dev.nettysync.testing;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The records a class logs while a test runs, at every level, kept from the console. Netty's
 * loggers reach java.util.logging in every test JVM of this build (directly, or through SLF4J
 * bound to it), where DEBUG is {@link Level#FINE}. Close it to restore the logger:
 * <pre>{@code
 * try (LogCapture log = LogCapture.of(KeyedLimiter.class)) {
 *     ...
 *     assertThat(log.records()).extracting(LogRecord::getLevel).containsExactly(Level.WARNING);
 * }
 * }</pre>
 */
public final class LogCapture extends Handler implements AutoCloseable {
    private final Logger logger;
    private final Level savedLevel;
    private final boolean savedUseParentHandlers;
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();

    private LogCapture(Logger logger) {
        this.logger = logger;
        this.savedLevel = logger.getLevel();
        this.savedUseParentHandlers = logger.getUseParentHandlers();
        logger.setLevel(Level.ALL);
        logger.setUseParentHandlers(false);              // captured, not printed
        logger.addHandler(this);
    }

    /** Starts capturing what {@code type}'s logger (named after the class) records. */
    public static LogCapture of(Class<?> type) {
        return new LogCapture(Logger.getLogger(type.getName()));
    }

    /** What was logged so far, oldest first (a live view; any thread may log meanwhile). */
    public List<LogRecord> records() {
        return records;
    }

    @Override
    public void publish(LogRecord record) {
        records.add(record);
    }

    @Override
    public void flush() {
    }

    /** Stops capturing and restores the logger's level and parent handlers. */
    @Override
    public void close() {
        logger.removeHandler(this);
        logger.setUseParentHandlers(savedUseParentHandlers);
        logger.setLevel(savedLevel);
    }
}
