package dev.nettysync.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy in front of a real {@link RedisServer} that can lose one reply: once
 * {@linkplain #cutNextScriptReply() armed}, the connection that next sends a script call
 * ({@code EVALSHA} / {@code EVAL}) has the server's reply to it dropped and is then closed on
 * both sides. The server has run the script; the client never hears the answer, as after a
 * network failure between execution and reply. Lettuce then reconnects (through the proxy,
 * which forwards normally again) and, at least once by default, sends the call again.
 *
 * <p>Plain threads with blocking sockets (never an event loop). Not Redis: it forwards bytes.
 */
final class ReplyCuttingProxy implements AutoCloseable {

    private final ServerSocket listener;
    private final int target;
    private final AtomicBoolean armed = new AtomicBoolean();
    private final AtomicInteger cuts = new AtomicInteger();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    ReplyCuttingProxy(RedisServer server) throws IOException {
        this.target = server.port();
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accept = new Thread(this::acceptLoop, "reply-cutting-proxy-accept");
        accept.setDaemon(true);
        accept.start();
    }

    String uri() {
        return "redis://127.0.0.1:" + listener.getLocalPort();
    }

    /** The next script call's reply is dropped and its connection closed. */
    void cutNextScriptReply() {
        armed.set(true);
    }

    /** How many connections were cut. */
    int cuts() {
        return cuts.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), target);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(server);
                AtomicBoolean doomed = new AtomicBoolean();
                pump(client, server, doomed, true);
                pump(server, client, doomed, false);
            } catch (IOException e) {
                if (!closed) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    private void pump(Socket from, Socket to, AtomicBoolean doomed, boolean toServer) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[16384];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    if (toServer) {
                        String s = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
                        if (s.contains("EVAL") && armed.compareAndSet(true, false)) {
                            doomed.set(true);     // this connection's next reply is lost
                        }
                    } else if (doomed.get()) {
                        cuts.incrementAndGet();
                        break;                    // dropped: the server ran it, the client never hears
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // the other side closed
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "reply-cutting-proxy-" + (toServer ? "up" : "down"));
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        listener.close();
        for (Socket s : sockets) {
            closeQuietly(s);
        }
    }
}
