package dev.nettysync.redis;

import dev.nettysync.WaitTimeoutException;
import dev.nettysync.channel.LimitingHandler;
import dev.nettysync.testing.Poll;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link LimitingHandler} over a real {@link RedisSemaphore}: real NIO servers on ephemeral
 * ports, real client sockets, a real redis-server. (An {@code EmbeddedChannel} would not do: its
 * loop claims every thread as its own, so the grants Lettuce completes on its threads would run
 * the handler there.) The protocol is one line per message, answered by one line, in order.
 *
 * <p>The semaphore's {@code tryAcquire} throws, so the handler asks {@code acquire} for every
 * message: in back-pressure mode it waits (reading paused), in reject mode it asks now or never.
 */
class RedisLimitingHandlerTest extends AbstractFleetTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Duration LEASE = Duration.ofSeconds(60);   // never expires within a test: a leak shows

    private EventLoopGroup group;                        // test thread: created and shut down
    private final List<Client> clients = new ArrayList<>();   // test thread
    private final App app = new App();

    @BeforeEach
    void startGroup() {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterEach
    void stopServers() throws Exception {
        for (Client c : clients) {
            c.close();
        }
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
        assertThat(app.offLoop).as("handler code that ran off its channel's event loop").isEmpty();
    }

    // ---------------------------------------------------------------- back-pressure

    @Test
    void backPressurePausesReadingWhileTheFleetIsFullAndResumesInOrderWhenAPermitIsFreed() throws Exception {
        RedisSemaphore sem = limiters.semaphore("lh-bp-" + System.nanoTime(), 2, LEASE);
        Server server = backPressureServer(sem);
        Client a = server.connect();
        Client b = server.connect();
        Channel sa = server.serverSide(a);
        Channel sb = server.serverSide(b);

        a.send("a0", "a1", "a2", "a3");
        Poll.assertEventually("a0 and a1 admitted", WAIT, () -> app.received.size() == 2);
        Poll.assertEventually("a2 waits in the semaphore's queue", WAIT, () -> sem.statistics().queued() == 1);
        assertThat(app.received).containsExactly("a0", "a1");
        assertThat(sa.config().isAutoRead()).as("reading paused while a2 waits").isFalse();
        assertThat(onLoop(sa, () -> handler(sa).waitingMessages())).as("a2, and a3 if read with it").isBetween(1, 2);
        a.send("a4");                                    // sent while paused: read later, in order

        b.send("b0");
        Poll.assertEventually("b0 waits behind a2", WAIT, () -> sem.statistics().queued() == 2);
        assertThat(sb.config().isAutoRead()).isFalse();

        app.answer("a0");                                // frees one permit: a2, first in the queue, gets it
        Poll.assertEventually("a2 admitted", WAIT, () -> app.received.contains("a2"));
        Poll.assertEventually("b0 and a3 wait", WAIT, () -> sem.statistics().queued() == 2);
        assertThat(app.received).containsExactly("a0", "a1", "a2");

        app.answer("a1");                                // b0 queued before a3: it goes first
        Poll.assertEventually("b0 admitted", WAIT, () -> app.received.contains("b0"));
        Poll.assertEventually("a3 waits", WAIT, () -> sem.statistics().queued() == 1);
        assertThat(app.received).containsExactly("a0", "a1", "a2", "b0");

        app.answer("a2");
        app.answer("b0");
        for (String next : List.of("a3", "a4")) {
            Poll.assertEventually(next + " admitted", WAIT, () -> app.received.contains(next));
            app.answer(next);
        }
        assertThat(a.read(5)).containsExactly("ok a0", "ok a1", "ok a2", "ok a3", "ok a4");
        assertThat(b.read(1)).containsExactly("ok b0");
        assertThat(app.received).containsExactly("a0", "a1", "a2", "b0", "a3", "a4");
        assertThat(app.maxInFlight.get()).isEqualTo(2);

        Poll.assertEventually("reading resumed", WAIT, () -> sa.config().isAutoRead() && sb.config().isAutoRead());
        assertThat(onLoop(sa, () -> handler(sa).waitingMessages())).isZero();
        awaitAllBack(sem);
    }

    // ---------------------------------------------------------------- reject

    @Test
    void rejectModeRefusesAMessageWhenTheFleetIsFullAndKeepsTheConnection() throws Exception {
        RedisSemaphore sem = limiters.semaphore("lh-reject-" + System.nanoTime(), 2, LEASE);
        Server server = new Server(() -> LimitingHandler.builder().limiter(sem).reject().build());
        Client a = server.connect();
        Client b = server.connect();
        Client c = server.connect();

        sendAdmitted(a, "a0");
        sendAdmitted(b, "b0");

        c.send("c0", "c1");                              // the fleet is full: each asked now or never, refused
        String refusal = "rejected %s " + LimitingHandler.Reason.LIMITER + ' ' + WaitTimeoutException.class.getSimpleName();
        assertThat(c.read(2)).containsExactly(refusal.formatted("c0"), refusal.formatted("c1"));
        assertThat(app.received).containsExactly("a0", "b0");
        assertThat(fleet.used(sem)).as("a refusal holds nothing").isEqualTo(2);
        assertThat(sem.statistics().queued()).as("nor waits").isZero();

        app.answer("a0");
        assertThat(a.read(1)).containsExactly("ok a0");
        Poll.assertEventually("a0's permit back in Redis", WAIT, () -> fleet.used(sem) == 1);
        c.send("c2");                                    // the same connection is served again
        Poll.assertEventually("c2 admitted", WAIT, () -> app.received.contains("c2"));
        app.answer("c2");
        app.answer("b0");
        assertThat(c.read(1)).containsExactly("ok c2");
        assertThat(b.read(1)).containsExactly("ok b0");
        awaitAllBack(sem);
    }

    // ---------------------------------------------------------------- channel closed while waiting

    /** One permit, held by a's a0; b's b0 waiting for it in the semaphore's queue; sb: b's server end. */
    private record OneWaiting(RedisSemaphore sem, Server server, Client a, Client b, Channel sb) { }

    private OneWaiting oneHeldOneWaiting(String name) throws Exception {
        RedisSemaphore sem = limiters.semaphore(name + System.nanoTime(), 1, LEASE);
        Server server = backPressureServer(sem);
        Client a = server.connect();
        Client b = server.connect();
        Channel sb = server.serverSide(b);
        sendAdmitted(a, "a0");
        sendQueued(b, "b0", sem);
        return new OneWaiting(sem, server, a, b, sb);
    }

    @Test
    void aChannelClosedWhileItsMessageIsQueuedForAPermitTakesNothing() throws Exception {
        OneWaiting w = oneHeldOneWaiting("lh-closed-queued-");
        RedisSemaphore sem = w.sem();
        Client a = w.a();
        Client b = w.b();
        Channel sb = w.sb();
        sb.close();                                      // the server closes it (a shutdown, an idle timeout)
        assertThat(sb.closeFuture().await(WAIT.toMillis())).isTrue();
        Poll.assertEventually("b0's wait left the queue", WAIT, () -> sem.statistics().queued() == 0);
        assertThat(b.readToEnd()).as("b0 never answered").isEmpty();

        app.answer("a0");
        assertThat(a.read(1)).containsExactly("ok a0");
        awaitAllBack(sem);
        Client d = w.server().connect();                 // the permit is free for the next one
        sendAdmitted(d, "d0");
        app.answer("d0");
        assertThat(d.read(1)).containsExactly("ok d0");
        assertThat(app.received).containsExactly("a0", "d0");
        awaitAllBack(sem);
    }

    @Test
    void aLeaseThatArrivesAfterItsChannelClosedIsGivenBack() throws Exception {
        // the acquire script is held up in Redis (CLIENT PAUSE) while the channel closes; its
        // grant then finds the wait cancelled and is released by id, not left to expire
        RedisLimiters patient = fleet.limiters(Duration.ofMillis(500), Duration.ofSeconds(20));
        RedisSemaphore sem = patient.semaphore("lh-closed-out-" + System.nanoTime(), 1, LEASE);
        Server server = backPressureServer(sem);
        Client b = server.connect();
        Channel sb = server.serverSide(b);
        Queue<String> notices = new ConcurrentLinkedQueue<>();
        StatefulRedisPubSubConnection<String, String> sub = fleet.client().connectPubSub();
        try {
            sub.addListener(new RedisPubSubAdapter<>() {
                @Override
                public void message(String channel, String message) {
                    notices.add(message);
                }
            });
            sub.sync().subscribe(sem.channel());

            assertThat(fleet.admin().clientPause(5_000)).isEqualTo("OK");
            b.send("b0");
            Poll.assertEventually("b0's acquire sent", WAIT, () -> onLoop(sb, () -> handler(sb).waitingMessages()) == 1);
            assertThat(sem.statistics().queued()).as("a direct call, out in Redis").isZero();
            sb.close();
            assertThat(sb.closeFuture().await(WAIT.toMillis())).isTrue();

            // the pause ends: Redis grants the lease (nobody holds one), the semaphore gives it back
            Poll.assertEventually("the late lease released (its release notice)", WAIT, () -> notices.contains("1"));
            Poll.assertEventually("the fleet's count back to 0", WAIT, () -> fleet.used(sem) == 0 && fleet.leases(sem) == 0);
            // the grant's reply said 0 free; the release's reply (1: freed) says the permit is free again
            Poll.assertEventually("counted free here again", WAIT, () -> sem.statistics().available() == 1);
            assertThat(app.received).as("b0 was never admitted").isEmpty();
            assertThat(sem.statistics().inUse()).isZero();
        } finally {
            sub.close();
        }
    }

    @Test
    void aClientThatGoesAwayWhileReadingIsPausedIsNoticedWhenItsMessageIsAdmittedAndGivesEverythingBack()
            throws Exception {
        // NIO learns of a peer's close by reading, and reading is paused while b0 waits: the
        // server notices when b0 is admitted and reading resumes (LimitingHandler documents it)
        OneWaiting w = oneHeldOneWaiting("lh-peer-gone-");
        w.b().close();
        app.answer("a0");
        assertThat(w.a().read(1)).containsExactly("ok a0");
        Poll.assertEventually("b0 admitted, for a client gone", WAIT, () -> app.received.contains("b0"));
        app.answer("b0");
        assertThat(w.sb().closeFuture().await(WAIT.toMillis())).as("the close noticed once reading resumed").isTrue();
        awaitAllBack(w.sem());
    }

    // ---------------------------------------------------------------- two servers, one fleet

    @Test
    void twoServersSharingAFleetNameShareItsLimit() throws Exception {
        String name = "lh-fleet-" + System.nanoTime();
        RedisSemaphore s1 = limiters.semaphore(name, 3, LEASE);
        RedisSemaphore s2 = fleet.limiters().semaphore(name, 3, LEASE);   // another replica: its own client
        Server one = backPressureServer(s1);
        Server two = backPressureServer(s2);

        Client a = one.connect();
        Client b = two.connect();
        a.send("a0", "a1");
        b.send("b0");
        Poll.assertEventually("a0, a1, b0 admitted", WAIT, () -> app.received.size() == 3);

        Client c = two.connect();
        c.send("c0");                                    // the fleet is full: waits on server two
        Poll.assertEventually("c0 waits", WAIT, () -> s2.statistics().queued() == 1);
        assertThat(app.received).doesNotContain("c0");
        app.answer("a0");                                // a release on server one wakes server two
        Poll.assertEventually("c0 admitted", WAIT, () -> app.received.contains("c0"));

        Client d = one.connect();
        d.send("d0");
        Poll.assertEventually("d0 waits", WAIT, () -> s1.statistics().queued() == 1);
        assertThat(app.received).doesNotContain("d0");
        app.answer("b0");                                // and the other way round
        Poll.assertEventually("d0 admitted", WAIT, () -> app.received.contains("d0"));
        assertThat(app.maxInFlight.get()).as("the limit is fleet-wide").isEqualTo(3);

        for (String held : List.of("a1", "c0", "d0")) {
            app.answer(held);
        }
        assertThat(a.read(2)).containsExactly("ok a0", "ok a1");
        assertThat(b.read(1)).containsExactly("ok b0");
        assertThat(c.read(1)).containsExactly("ok c0");
        assertThat(d.read(1)).containsExactly("ok d0");

        // then pipelined load on both servers, answered after a few ms
        app.autoAnswer = true;
        app.maxInFlight.set(0);
        int perClient = 15;
        List<Client> load = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Client l = (i % 2 == 0 ? one : two).connect();
            load.add(l);
            List<String> lines = new ArrayList<>();
            for (int j = 0; j < perClient; j++) {
                lines.add("l" + i + "-" + j);
            }
            l.send(lines.toArray(String[]::new));
        }
        for (int i = 0; i < load.size(); i++) {
            List<String> expected = new ArrayList<>();
            for (int j = 0; j < perClient; j++) {
                expected.add("ok l" + i + "-" + j);
            }
            assertThat(load.get(i).read(perClient)).as("client " + i + ": every message answered, in order")
                    .isEqualTo(expected);
        }
        assertThat(app.maxInFlight.get()).as("at most the fleet's limit at once, over both servers")
                .isBetween(1, 3);
        awaitAllBack(s1);
        assertThat(s2.statistics().inUse()).isZero();
        assertThat(s2.statistics().queued()).isZero();
    }

    // ---------------------------------------------------------------- support

    private Server backPressureServer(RedisSemaphore sem) {
        return new Server(() -> LimitingHandler.builder().limiter(sem).backPressure().build());
    }

    /** Sends one message and waits until the application has it (admitted). */
    private void sendAdmitted(Client c, String line) throws Exception {
        c.send(line);
        Poll.assertEventually(line + " admitted", WAIT, () -> app.received.contains(line));
    }

    /** Sends one message while nobody else waits and waits until it is queued on {@code sem}. */
    private static void sendQueued(Client c, String line, RedisSemaphore sem) throws Exception {
        c.send(line);
        Poll.assertEventually(line + " waits in the semaphore's queue", WAIT, () -> sem.statistics().queued() == 1);
    }

    /** Every permit back: Redis counts no lease, this JVM holds and queues nothing. */
    private void awaitAllBack(RedisSemaphore sem) throws InterruptedException {
        // a permit ends when its answer's write completes, which the client may beat by a hair
        Poll.assertEventually("the semaphore's count back to its limit", WAIT,
                () -> fleet.used(sem) == 0 && fleet.leases(sem) == 0);
        Poll.assertEventually("nothing held or queued here", WAIT,
                () -> sem.statistics().inUse() == 0 && sem.statistics().queued() == 0);
    }

    private static LimitingHandler handler(Channel ch) {
        return ch.pipeline().get(LimitingHandler.class);
    }

    /** Runs {@code task} on the channel's event loop (where the handler's state lives) and waits. */
    private static <T> T onLoop(Channel ch, Callable<T> task) {
        try {
            return ch.eventLoop().submit(task).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /**
     * The application behind the limiting handler, shared by every server of a test: records what
     * it is passed (and checks it runs on the channel's loop), holds each message until the test
     * answers it (or answers it after 2 ms in auto mode), and answers a {@code Rejected} event at
     * once with its reason and cause.
     */
    private static final class App {
        final List<String> received = new CopyOnWriteArrayList<>();
        final Map<String, ChannelHandlerContext> held = new ConcurrentHashMap<>();
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger maxInFlight = new AtomicInteger();
        final Queue<String> offLoop = new ConcurrentLinkedQueue<>();
        volatile boolean autoAnswer;

        ChannelInboundHandlerAdapter handler() {
            return new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    String line = (String) msg;
                    checkLoop(ctx, "channelRead " + line);
                    maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                    if (autoAnswer) {
                        ctx.executor().schedule(() -> answer(ctx, line), 2, TimeUnit.MILLISECONDS);
                    } else {
                        held.put(line, ctx);
                    }
                    // last: a test that sees the line received may answer it at once (held first)
                    received.add(line);
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof LimitingHandler.Rejected r) {
                        checkLoop(ctx, "Rejected " + r.message());
                        Throwable cause = r.cause();
                        String answer = "rejected " + r.message() + ' ' + r.reason() + ' '
                                + (cause == null ? "-" : cause.getClass().getSimpleName());
                        r.release();
                        ctx.writeAndFlush(answer + '\n');
                    } else {
                        ReferenceCountUtil.release(evt);
                    }
                }
            };
        }

        private void checkLoop(ChannelHandlerContext ctx, String what) {
            if (!ctx.channel().eventLoop().inEventLoop()) {
                offLoop.add(what + " on " + Thread.currentThread().getName());
            }
        }

        /** Answers a held message (the test answers each channel's messages in order). */
        void answer(String line) {
            ChannelHandlerContext ctx = held.remove(line);
            assertThat(ctx).as(line + " is held").isNotNull();
            ctx.executor().execute(() -> answer(ctx, line));
        }

        private void answer(ChannelHandlerContext ctx, String line) {
            inFlight.decrementAndGet();               // before the write: its completion ends the permit
            ctx.writeAndFlush("ok " + line + '\n');
        }
    }

    /** A line server on 127.0.0.1, an ephemeral port: decoder, limiting handler, the app. */
    private final class Server {
        final int port;
        final Queue<Channel> accepted = new ConcurrentLinkedQueue<>();

        Server(Supplier<LimitingHandler> limiting) {
            Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            accepted.add(ch);
                            ch.pipeline().addLast(new LineBasedFrameDecoder(256),
                                    new StringDecoder(StandardCharsets.UTF_8),
                                    new StringEncoder(StandardCharsets.UTF_8),
                                    limiting.get(), app.handler());
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
            port = ((InetSocketAddress) ch.localAddress()).getPort();
        }

        Client connect() throws IOException {
            Client c = new Client(port);
            clients.add(c);
            return c;
        }

        /** The server's end of {@code c}'s connection. */
        Channel serverSide(Client c) throws InterruptedException {
            int local = c.socket.getLocalPort();
            Channel[] found = new Channel[1];
            Poll.assertEventually("the server accepted the connection", WAIT, () -> {
                for (Channel ch : accepted) {
                    if (((InetSocketAddress) ch.remoteAddress()).getPort() == local) {
                        found[0] = ch;
                        return true;
                    }
                }
                return false;
            });
            return found[0];
        }
    }

    /** A blocking line client on the test thread. */
    private static final class Client implements AutoCloseable {
        final Socket socket;
        private final BufferedReader in;
        private final OutputStream out;

        Client(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout((int) WAIT.toMillis());
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            out = socket.getOutputStream();
        }

        /** Writes the lines in one write (pipelined). */
        void send(String... lines) throws IOException {
            out.write((String.join("\n", lines) + '\n').getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        List<String> read(int n) throws IOException {
            List<String> lines = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String line = in.readLine();
                assertThat(line).as("answer " + i + " (the connection closed before it)").isNotNull();
                lines.add(line);
            }
            return lines;
        }

        /** The lines left until the server closes the connection. */
        List<String> readToEnd() throws IOException {
            List<String> lines = new ArrayList<>();
            for (String line; (line = in.readLine()) != null; ) {
                lines.add(line);
            }
            return lines;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
