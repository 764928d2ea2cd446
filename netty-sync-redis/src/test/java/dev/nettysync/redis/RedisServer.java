package dev.nettysync.redis;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} process for tests, on a free port, without persistence
 * ({@code --save '' --appendonly no}). The binary is {@code -Dredis.server=...}, else
 * {@code $REDIS_SERVER}, else {@code redis-server} on the {@code PATH} (Debian package
 * {@code redis-server}); if none is found, starting fails with a message that says so.
 *
 * <p>Used by {@link RedisServerExtension}; {@link #restart()} keeps the port, so clients
 * reconnect to an empty server, as after a crash without persistence. {@link #stop()} and
 * {@link #startAgain()} do the same with an outage in between: while stopped, the port is closed
 * and clients are refused.
 */
public final class RedisServer implements AutoCloseable {

    /**
     * Where servers are started from, on Linux with {@code setpriv --pdeathsig KILL} (util-linux)
     * in front of the binary: the kernel then kills the server when the thread that started it
     * ends, so also when its JVM is killed or halted, which no Java code outlives (PIT's time-outs
     * left a server running per timed-out JVM: 55 in two runs). That thread must live as long as
     * the JVM, not as long as whichever test thread restarts a server: hence one thread, which
     * never ends (a daemon, so it does not keep the JVM alive). Elsewhere, or without
     * {@code setpriv}, servers start without it and only the exit hook stops them.
     */
    private static final ExecutorService LAUNCHER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "redis-server-launcher");
        t.setDaemon(true);
        return t;
    });
    private static final List<String> DIES_WITH_THE_JVM = diesWithTheJvm();

    private final String binary;
    private final int port;
    private final Path log;
    private final List<String> options;      // more redis-server options, after ours
    private volatile Process process;        // written by the test thread; read by the exit hook too

    private RedisServer(String binary, int port, List<String> options) throws IOException {
        this.binary = binary;
        this.port = port;
        this.log = Files.createTempFile("redis-" + port + "-", ".log");
        this.options = List.copyOf(options);
    }

    /** Starts a server on a free port and waits until it answers PING. */
    public static RedisServer start() throws IOException, InterruptedException {
        return start(List.of());
    }

    /**
     * As {@link #start()}, with more {@code redis-server} options (e.g. {@code --enable-debug-command
     * local}); they come after ours, so they may override them.
     */
    public static RedisServer start(List<String> options) throws IOException, InterruptedException {
        RedisServer s = new RedisServer(findBinary(), freePort(), options);
        s.startProcess();
        // A test JVM that exits without closing it (a run cut short, PIT ending a timed-out JVM)
        // must not leave the server running. This hook covers an exit and SIGTERM; a JVM killed
        // (SIGKILL) or halted (PIT's minions, Runtime.halt) runs nothing, which LAUNCHER covers.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Process p = s.process;
            if (p != null) {
                p.destroyForcibly();
            }
        }, "redis-server-" + s.port + "-exit"));
        return s;
    }

    public int port() {
        return port;
    }

    public String uri() {
        return "redis://127.0.0.1:" + port;
    }

    /** Kills the server (SIGKILL: no goodbye to the clients) and starts an empty one on the same port. */
    public void restart() throws IOException, InterruptedException {
        kill();
        startProcess();
    }

    /**
     * Kills the server (SIGKILL) and leaves it down: connections drop, new ones are refused,
     * until {@link #startAgain()}.
     */
    public void stop() throws InterruptedException {
        kill();
    }

    /** Starts an empty server on the same port after {@link #stop()}; waits until it answers PING. */
    public void startAgain() throws IOException, InterruptedException {
        if (process != null) {
            throw new IllegalStateException("redis-server on port " + port + " is running");
        }
        startProcess();
    }

    /** The server's process id, while it runs (tests of this class). */
    long pid() {
        return process.pid();
    }

    /** Whether the process is running (started and not stopped). */
    public boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** SIGKILL; the port stays reserved for {@link #restart()} only by convention. */
    public void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
            process = null;
        }
    }

    @Override
    public void close() throws InterruptedException {
        kill();
        try {
            Files.deleteIfExists(log);
        } catch (IOException ignored) {
            // a temp file
        }
    }

    private void startProcess() throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(DIES_WITH_THE_JVM);
        command.addAll(List.of(binary, "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"));
        command.addAll(options);
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        try {
            process = LAUNCHER.submit(pb::start).get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("redis-server exited with " + process.exitValue()
                        + " on port " + port + ": " + Files.readString(log));
            }
            if (ping()) {
                return;
            }
            Thread.sleep(20);
        }
        process.destroyForcibly();
        throw new IllegalStateException("redis-server did not answer PING on port " + port + " within 15 s: "
                + Files.readString(log));
    }

    private boolean ping() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            s.setSoTimeout(500);
            OutputStream out = s.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[16];
            int n = in.read(buf);
            return n > 0 && new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("+PONG");
        } catch (IOException e) {
            return false;
        }
    }

    private static String findBinary() {
        String configured = System.getProperty("redis.server", System.getenv("REDIS_SERVER"));
        if (configured != null && !configured.isBlank()) {
            if (!new File(configured).canExecute()) {
                throw new IllegalStateException("redis-server not executable: " + configured);
            }
            return configured;
        }
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(File.pathSeparator)) {
            File f = new File(dir, "redis-server");
            if (f.canExecute()) {
                return f.getPath();
            }
        }
        throw new IllegalStateException("redis-server not found on PATH. These tests run a real Redis:"
                + " install it (Debian/Ubuntu: apt-get install redis-server) or pass -Dredis.server=/path/to/redis-server");
    }

    /** {@code setpriv --pdeathsig KILL} where the OS has it (see {@link #LAUNCHER}), else nothing. */
    private static List<String> diesWithTheJvm() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return List.of();
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            File f = new File(dir, "setpriv");
            if (f.canExecute()) {
                return List.of(f.getPath(), "--pdeathsig", "KILL");
            }
        }
        return List.of();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }
}
