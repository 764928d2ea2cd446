package dev.nettysync.bench.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The open-loop generator's own options and set-up, shared by {@link OpenLoopClient} (one summary
 * per rate) and {@link OpenLoopTimeline} (one row per interval): a picocli mixin of the target and
 * connection options, the checks on them, and the {@link OpenLoopClient.Worker}s they describe,
 * connected and ready to start.
 *
 * <p>Not thread-safe: configured by picocli, then used from the command's main thread.
 */
final class OpenLoopGenerator {

    @Option(names = "--url", defaultValue = "http://127.0.0.1:8080/api/items/1",
            description = "Target (loopback only). Default ${DEFAULT-VALUE}.")
    URI url;

    // No defaultValue: the default is the value given to the constructor (each command has its own).
    @Option(names = "--connections",
            description = "Keep-alive connections in all (default ${DEFAULT-VALUE}); bounds requests in flight.")
    int connections;

    @Option(names = "--threads", defaultValue = "1", description = "I/O threads of the generator (default ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--max-backlog", defaultValue = "200000",
            description = "Most due requests waiting for a free connection, per thread (default ${DEFAULT-VALUE}).")
    int maxBacklog;

    @Option(names = "--drain-timeout", defaultValue = "10",
            description = "Seconds to wait for outstanding requests after the last is due (default ${DEFAULT-VALUE}).")
    double drainSeconds;

    @Option(names = "--transport", defaultValue = "auto", description = "auto, epoll or nio (default ${DEFAULT-VALUE}).")
    Transport transport;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;   // injected by picocli: the command this mixin belongs to, for its errors

    OpenLoopGenerator(int defaultConnections) {
        this.connections = defaultConnections;
    }

    /** Refuses a non-loopback target and a connection count that leaves a thread without one. */
    void check() throws UnknownHostException {
        if (!InetAddress.getByName(url.getHost()).isLoopbackAddress()) {
            throw new CommandLine.ParameterException(command.commandLine(),
                    "refusing non-loopback target " + url.getHost() + ": this tool is for 127.0.0.1 only");
        }
        if (threads < 1 || connections < threads) {
            throw new CommandLine.ParameterException(command.commandLine(),
                    "need --threads >= 1 and --connections >= --threads");
        }
    }

    /**
     * One worker per thread of {@code group} (which has {@link #threads} loops), sharing
     * {@link #connections} and {@code rate} evenly, each with all its connections open.
     */
    List<OpenLoopClient.Worker> connectWorkers(EventLoopGroup group, int rate) throws InterruptedException {
        int port = url.getPort() > 0 ? url.getPort() : 80;
        String path = url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath();
        if (url.getRawQuery() != null) {
            path += "?" + url.getRawQuery();
        }
        String hostHeader = url.getHost() + ":" + port;
        List<OpenLoopClient.Worker> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int conns = connections / threads + (t < connections % threads ? 1 : 0);
            workers.add(new OpenLoopClient.Worker(group.next(), (double) rate / threads, conns, maxBacklog,
                    path, hostHeader));
        }
        Bootstrap bootstrap = new Bootstrap().group(group).channel(transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                .remoteAddress(url.getHost(), port);
        for (OpenLoopClient.Worker w : workers) {
            w.connectAll(bootstrap);
        }
        return workers;
    }

    /** Sleeps until {@code System.nanoTime()} reaches {@code deadline}. */
    static void sleepUntil(long deadline) throws InterruptedException {
        long left;
        while ((left = deadline - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(Math.min(left, 100_000_000));
        }
    }

    /** Appends {@code rows} to {@code csv}, after {@code header} if the file is new or empty. */
    static void appendCsv(Path csv, String header, List<String> rows) throws IOException {
        boolean fresh = !Files.exists(csv) || Files.size(csv) == 0;
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(csv, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND))) {
            if (fresh) {
                w.println(header);
            }
            rows.forEach(w::println);
        }
    }
}
