package dev.nettysync.demo;

import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.lang.reflect.Field;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.LogManager;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code java -jar demo-server.jar [flags]}: parses the flags (see {@code --help}), starts the
 * {@link GatewayServer}, and on SIGTERM or Ctrl-C shuts it down gracefully. Exit status: 0 after
 * {@code --help}/{@code --version}; 2 on a bad flag or value, with a one-line message naming it;
 * 1 if the server cannot start (e.g. the port is in use), with a one-line message; after a
 * signal, the JVM's usual 130 (SIGINT) or 143 (SIGTERM), once the drain is over.
 *
 * <p>Logging is {@code java.util.logging} (Netty's choice when nothing else is on the class
 * path), on stderr, one line per record. {@link ShutdownSafeLogManager} keeps it working until
 * the shutdown hook has logged the last step of the drain.
 */
public final class DemoServerMain {

    private DemoServerMain() {
    }

    public static void main(String[] args) {
        // Before anything touches java.util.logging: the manager class is read once.
        if (System.getProperty("java.util.logging.manager") == null) {
            System.setProperty("java.util.logging.manager", ShutdownSafeLogManager.class.getName());
        }
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s %3$s - %5$s%6$s%n");
        }
        DemoConfig config = new DemoConfig();
        CommandLine cl = DemoConfig.newCommandLine(config);
        try {
            cl.parseArgs(args);
            if (cl.isUsageHelpRequested()) {
                cl.usage(System.out);
                return;
            }
            if (cl.isVersionHelpRequested()) {
                cl.printVersionHelp(System.out);
                return;
            }
            config.validate(cl);
        } catch (CommandLine.ParameterException e) {
            PrintWriter err = new PrintWriter(System.err, true);
            err.println("demo-server: " + withEnvironmentSources(e.getMessage(), args, System.getenv()));
            err.println("Try --help.");
            System.exit(2);
            return;
        }
        GatewayServer server;
        try {
            server = GatewayServer.start(config);
        } catch (ServerStartException e) {
            System.err.println("demo-server: " + e.getMessage());
            System.exit(1);
            return;
        } catch (Throwable e) {            // e.g. --transport=epoll where epoll is missing
            System.err.println("demo-server: cannot start: " + e);
            System.exit(1);
            return;
        }
        InternalLogger logger = InternalLoggerFactory.getInstance(DemoServerMain.class);
        long waitMillis = config.drainTimeout.toMillis() + 5_000;
        ShutdownSafeLogManager.holdResetUpTo(waitMillis + 1_000);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                logger.info("signal received: shutting down, draining up to {}", DurationConverter.format(config.drainTimeout));
                if (!server.shutdown().awaitUninterruptibly(waitMillis, TimeUnit.MILLISECONDS)) {
                    logger.warn("did not stop within {} ms; exiting anyway", waitMillis);
                }
            } finally {
                ShutdownSafeLogManager.releaseReset();
            }
        }, "demo-server-shutdown"));
        server.terminationFuture().awaitUninterruptibly();
    }

    private static final Pattern ENV_DEFAULT = Pattern.compile("\\$\\{env:(DEMO_[A-Z0-9_]+)");

    /**
     * {@code message} about a bad flag, followed by the {@code DEMO_*} variables its value came
     * from: each flag it names that is not on the command line and whose variable is set, as
     * "(set by DEMO_PORT in the environment)". Variables are named, never their values (one may
     * hold a password: {@code DEMO_REDIS}).
     */
    static String withEnvironmentSources(String message, String[] args, Map<String, String> env) {
        StringBuilder sources = new StringBuilder();
        for (Field field : DemoConfig.class.getFields()) {
            CommandLine.Option option = field.getAnnotation(CommandLine.Option.class);
            if (option == null) {
                continue;
            }
            String flag = option.names()[option.names().length - 1];
            Matcher variable = ENV_DEFAULT.matcher(option.defaultValue());   // as declared, before interpolation
            if (variable.find() && env.containsKey(variable.group(1)) && names(message, flag) && !given(args, flag)) {
                sources.append(sources.length() == 0 ? " (set by " : ", ").append(variable.group(1));
            }
        }
        return sources.length() == 0 ? message : message + sources + " in the environment)";
    }

    /** Whether {@code message} names {@code flag} itself, not a longer flag it begins ({@code --upstream-pool-size}). */
    private static boolean names(String message, String flag) {
        for (int i = message.indexOf(flag); i >= 0; i = message.indexOf(flag, i + 1)) {
            int end = i + flag.length();
            if (end == message.length() || message.charAt(end) != '-' && !Character.isLetterOrDigit(message.charAt(end))) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code flag} is on the command line ({@code --flag=v} or {@code --flag v}). */
    private static boolean given(String[] args, String flag) {
        for (String arg : args) {
            if (arg.equals(flag) || arg.startsWith(flag + "=")) {
                return true;
            }
        }
        return false;
    }

    /**
     * The JDK's {@link LogManager} resets itself (closing and removing every handler) from its
     * own shutdown hook, which runs at the same time as the server's: the drain's log lines were
     * lost, or only some of them written. This manager, installed by {@link #main}, holds that
     * reset back until the server's hook is done (bounded), so every step of a drain reaches
     * stderr. Any other reset (configuration at startup) goes through at once.
     */
    public static final class ShutdownSafeLogManager extends LogManager {

        private static final CountDownLatch hookDone = new CountDownLatch(1);
        private static volatile long holdMillis;   // 0: no hook to wait for; written once by main

        public ShutdownSafeLogManager() {
        }

        static void holdResetUpTo(long millis) {
            holdMillis = millis;
        }

        static void releaseReset() {
            hookDone.countDown();
        }

        @Override
        public void reset() {
            long hold = holdMillis;
            if (hold > 0 && shuttingDown()) {
                try {
                    hookDone.await(hold, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            super.reset();
        }

        /** Whether the JVM is running its shutdown hooks (it then refuses new ones). */
        private static boolean shuttingDown() {
            Thread probe = new Thread(() -> { });
            try {
                Runtime.getRuntime().addShutdownHook(probe);
                Runtime.getRuntime().removeShutdownHook(probe);
                return false;
            } catch (IllegalStateException e) {
                return true;
            }
        }
    }
}
