package dev.nettysync.demo;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;

/**
 * {@code java -jar demo-server.jar [flags]}: parses the flags (see {@code --help}), starts the
 * {@link GatewayServer}, and on SIGTERM or Ctrl-C shuts it down gracefully. Exit status 0 after a
 * clean stop, 2 on a bad flag, 1 if the server cannot start.
 */
public final class DemoServerMain {

    private DemoServerMain() {
    }

    public static void main(String[] args) {
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
            err.println(e.getMessage());
            err.println("Try --help.");
            System.exit(2);
            return;
        }
        GatewayServer server;
        try {
            server = GatewayServer.start(config);
        } catch (RuntimeException e) {
            System.err.println("cannot start: " + e);
            System.exit(1);
            return;
        }
        long waitMillis = config.drainTimeout.toMillis() + 5_000;
        // The hook reports on stderr directly: JUL's own shutdown hook may reset its handlers
        // concurrently, so log records written while the JVM exits can be lost.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("demo-server: shutting down, draining up to "
                    + DurationConverter.format(config.drainTimeout));
            boolean stopped = server.shutdown().awaitUninterruptibly(waitMillis, TimeUnit.MILLISECONDS);
            System.err.println(stopped ? "demo-server: stopped" : "demo-server: did not stop in time, exiting");
        }, "demo-server-shutdown"));
        server.terminationFuture().awaitUninterruptibly();
    }
}
