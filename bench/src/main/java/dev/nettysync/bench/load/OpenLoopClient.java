package dev.nettysync.bench.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * An open-loop HTTP/1.1 load generator on Netty's HTTP client: requests are due at a constant
 * rate whatever the server does, and each latency is measured from the request's <em>intended</em>
 * send time, so a server stall shows up in full in the percentiles (no coordinated omission, the
 * flaw of closed-loop tools like wrk). Latencies go to HdrHistograms, split by status class.
 *
 * <p>Each I/O thread owns {@code connections / threads} keep-alive connections, opened before the
 * clock starts, and sends {@code rate / threads} requests per second. A due request goes out on an
 * idle connection, or waits in a client-side backlog for the next connection to free up (the wait
 * counts in its latency). A backlog longer than {@code --max-backlog} drops requests (counted).
 * Only requests due after {@code --warmup} and before {@code --warmup + --duration} are
 * recorded. Throughput columns count responses completed inside that window. "Generator lag"
 * is how late the generator itself made requests due (its timer and CPU, not the server): if its
 * p99 is not small against the latencies, the machine is too busy for the run to mean much. It is
 * printed next to every latency percentile (the lag at the same percentile) and written to the CSV
 * ({@code gen_lag_*} columns).
 *
 * <p>Safety: only loopback targets are accepted; every run is bounded by its duration plus
 * {@code --drain-timeout}; reconnects are bounded.
 *
 * <p>Run: {@code java -cp bench/target/benchmarks.jar dev.nettysync.bench.load.OpenLoopClient
 * --url http://127.0.0.1:8080/api/items/1 --rates 1000,2000 --duration 10 --csv out.csv}
 */
@Command(name = "open-loop", mixinStandardHelpOptions = true,
        description = "Open-loop (constant-rate) HTTP load generator with HdrHistogram latencies.")
public final class OpenLoopClient implements Callable<Integer> {

    static final String CSV_HEADER = "label,offered_rps,duration_s,completed_rps,ok_rps,count_2xx,count_503,"
            + "count_other,errors,unfinished,dropped,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,ok_p99_ms,"
            + "s503_p50_ms,s503_p99_ms,s503_max_ms,gen_lag_p99_ms,gen_lag_p50_ms,gen_lag_p90_ms,gen_lag_p999_ms,gen_lag_max_ms";

    @Mixin
    OpenLoopGenerator generator = new OpenLoopGenerator(256);   // --url, --connections, --threads, ...

    @Option(names = "--rates", split = ",", required = true,
            description = "Offered rates in requests/s, one run each, e.g. 500,1000,2000.")
    List<Integer> rates;

    @Option(names = "--duration", defaultValue = "10", description = "Measured seconds per rate (default ${DEFAULT-VALUE}).")
    double durationSeconds;

    @Option(names = "--warmup", defaultValue = "3", description = "Unrecorded seconds before each measurement (default ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--pause", defaultValue = "1", description = "Seconds between two rates (default ${DEFAULT-VALUE}).")
    double pauseSeconds;

    @Option(names = "--label", defaultValue = "run", description = "Label of the CSV rows (default ${DEFAULT-VALUE}).")
    String label;

    @Option(names = "--csv", description = "Append one row per rate to this CSV file (header written if new).")
    Path csv;

    @Option(names = "--hgrm-dir", description = "Write each run's full latency distribution (.hgrm, ms) here.")
    Path hgrmDir;

    public static void main(String[] args) {
        System.exit(new CommandLine(new OpenLoopClient()).setCaseInsensitiveEnumValuesAllowed(true).setOverwrittenOptionsAllowed(true).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        generator.check();
        if (durationSeconds <= 0 || durationSeconds > 600 || warmupSeconds < 0 || warmupSeconds > 600) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--duration must be in (0, 600], --warmup in [0, 600]");
        }
        for (int i = 0; i < rates.size(); i++) {
            if (i > 0) {
                Thread.sleep((long) (pauseSeconds * 1000));
            }
            Summary s = runOnce(rates.get(i));
            System.out.println(s.describe());
            if (csv != null) {
                OpenLoopGenerator.appendCsv(csv, CSV_HEADER, List.of(s.csvRow()));
            }
            if (hgrmDir != null) {
                writeHgrm(s);
            }
        }
        return 0;
    }

    // ------------------------------------------------------------------ one run

    Summary runOnce(int rate) throws Exception {
        if (rate <= 0) {
            throw new IllegalArgumentException("rate must be > 0, was " + rate);
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(generator.threads, generator.transport.ioHandlerFactory());
        try {
            List<Worker> workers = generator.connectWorkers(group, rate);
            long warmupNanos = (long) (warmupSeconds * 1e9);
            long durationNanos = (long) (durationSeconds * 1e9);
            long t0 = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
            for (Worker w : workers) {
                w.loop.execute(() -> w.start(t0, t0 + warmupNanos, t0 + warmupNanos + durationNanos));
            }
            long endSend = t0 + warmupNanos + durationNanos;
            OpenLoopGenerator.sleepUntil(endSend);
            long drainDeadline = endSend + (long) (generator.drainSeconds * 1e9);
            while (System.nanoTime() < drainDeadline && outstanding(workers) > 0) {
                Thread.sleep(10);
            }
            Summary s = new Summary(label, rate, durationSeconds);
            for (Worker w : workers) {
                w.loop.submit(() -> w.finish(s)).sync();
            }
            return s;
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static long outstanding(List<Worker> workers) throws InterruptedException {
        long n = 0;
        for (Worker w : workers) {
            Future<Long> f = w.loop.submit(w::outstanding);
            n += f.sync().getNow();
        }
        return n;
    }

    /**
     * The generator state of one I/O thread. Confined to {@code loop}: every field is read and
     * written on it only (the main thread reads results through {@code loop.submit}).
     */
    static final class Worker extends Latencies {
        final EventLoop loop;
        final double rate;
        final int connectionCount;
        final int maxBacklog;
        final String path;
        final String hostHeader;
        final ArrayDeque<Conn> idle = new ArrayDeque<>();
        final ArrayDeque<long[]> backlog = new ArrayDeque<>();     // {intended}
        long t0;
        long recordFrom;
        long recordTo;
        long sentIndex;             // requests made due so far
        long inFlight;
        long completedInWindow;
        long okInWindow;
        long errors;
        long dropped;
        int reconnectsLeft;
        boolean sending;
        Bootstrap bootstrap;

        Worker(EventLoop loop, double rate, int connectionCount, int maxBacklog, String path, String hostHeader) {
            this.loop = loop;
            this.rate = rate;
            this.connectionCount = connectionCount;
            this.maxBacklog = maxBacklog;
            this.path = path;
            this.hostHeader = hostHeader;
            this.reconnectsLeft = 10 * connectionCount;
        }

        /** Opens every connection and waits for them (from the main thread). */
        void connectAll(Bootstrap b) throws InterruptedException {
            bootstrap = b.clone(loop);
            List<ChannelFuture> futures = new ArrayList<>();
            for (int i = 0; i < connectionCount; i++) {
                futures.add(connect());
            }
            for (ChannelFuture f : futures) {
                f.sync();
            }
        }

        ChannelFuture connect() {
            Conn conn = new Conn(this);
            ChannelFuture f = bootstrap.clone().handler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 20), conn);
                }
            }).connect();
            f.addListener(done -> {
                if (done.isSuccess()) {
                    conn.channel = f.channel();
                    becomeIdle(conn);
                }
            });
            return f;
        }

        void start(long t0, long recordFrom, long recordTo) {
            this.t0 = t0;
            this.recordFrom = recordFrom;
            this.recordTo = recordTo;
            this.sending = true;
            tick();
        }

        long intended(long index) {
            return t0 + (long) (index * 1e9 / rate);
        }

        /** Makes every request due by now, then sleeps until the next one is due. */
        void tick() {
            long now = System.nanoTime();
            long next;
            while ((next = intended(sentIndex)) <= now) {
                if (next >= recordTo) {
                    sending = false;
                    return;
                }
                sentIndex++;
                if (next >= recordFrom) {
                    record(genLag, (now - next) / 1000);   // the generator's own lateness
                }
                Conn c = idle.pollFirst();
                if (c != null) {
                    c.send(next, now);
                } else if (backlog.size() < maxBacklog) {
                    backlog.addLast(new long[] {next});
                } else if (next >= recordFrom) {
                    dropped++;
                }
            }
            if (next >= recordTo) {
                sending = false;
                return;
            }
            loop.schedule(this::tick, next - System.nanoTime(), TimeUnit.NANOSECONDS);
        }

        void becomeIdle(Conn c) {
            long[] waiting = backlog.pollFirst();
            if (waiting != null) {
                c.send(waiting[0], System.nanoTime());
            } else {
                idle.addLast(c);
            }
        }

        void completed(Conn c, int status, long intended, long now, boolean reusable) {
            inFlight--;
            if (intended >= recordFrom && intended < recordTo) {
                long micros = (now - intended) / 1000;
                record(all, micros);
                if (status >= 200 && status < 300) {
                    record(ok, micros);
                } else if (status == 503) {
                    record(s503, micros);
                } else {
                    record(other, micros);
                }
            }
            if (now >= recordFrom && now < recordTo) {
                completedInWindow++;
                if (status >= 200 && status < 300) {
                    okInWindow++;
                }
            }
            if (reusable) {
                becomeIdle(c);
            }
        }

        void failed(Conn c, long intended) {
            if (intended >= 0) {
                inFlight--;
                if (intended >= recordFrom && intended < recordTo) {
                    errors++;
                }
            }
            idle.remove(c);
            if (reconnectsLeft-- > 0 && (sending || !backlog.isEmpty())) {
                connect();
            }
        }

        long outstanding() {
            return inFlight + backlog.size() + (sending ? 1 : 0);
        }

        Void finish(Summary s) {
            s.add(this);
            s.completedInWindow += completedInWindow;
            s.okInWindow += okInWindow;
            s.errors += errors;
            s.dropped += dropped;
            for (long[] waiting : backlog) {
                if (waiting[0] >= recordFrom && waiting[0] < recordTo) {
                    s.unfinished++;
                }
            }
            s.unfinished += inFlight;
            backlog.clear();
            return null;
        }
    }

    /**
     * One keep-alive connection: at most one request in flight (HTTP/1.1 without pipelining). A
     * response that cannot be decoded counts as an error and closes the connection.
     */
    static final class Conn extends SimpleChannelInboundHandler<FullHttpResponse> {
        final Worker worker;
        Channel channel;
        long intended = -1;       // of the request in flight, -1 if none

        Conn(Worker worker) {
            this.worker = worker;
        }

        void send(long intendedNanos, long now) {
            intended = intendedNanos;
            worker.inFlight++;
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, worker.path,
                    Unpooled.EMPTY_BUFFER);
            req.headers().set(HttpHeaderNames.HOST, worker.hostHeader)
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
            channel.writeAndFlush(req, channel.voidPromise());
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
            if (!res.decoderResult().isSuccess()) {
                // Malformed: not an answer, and the decoder discards everything after it. Closed,
                // the request in flight counts as an error (channelInactive) and the connection
                // is replaced, instead of every later request on it waiting to the end of the run.
                ctx.close();
                return;
            }
            long now = System.nanoTime();
            long i = intended;
            intended = -1;
            if (i < 0) {
                return;                // unsolicited (e.g. a 408 before close): ignore
            }
            boolean close = res.headers().contains(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE, true);
            worker.completed(this, res.status().code(), i, now, !close);
            if (close) {
                ctx.close();           // channelInactive reconnects while requests are due
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            long i = intended;
            intended = -1;
            worker.failed(this, i);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    static final long HIGHEST_MICROS = TimeUnit.SECONDS.toMicros(3600);

    static Histogram histogram() {
        return new Histogram(HIGHEST_MICROS, 3);   // µs, up to an hour (longer is clamped)
    }

    static void record(Histogram h, long micros) {
        h.recordValue(Math.max(0, Math.min(micros, HIGHEST_MICROS)));
    }

    /**
     * The latency histograms (µs) a worker records and a summary or an interval merges: every
     * response, each class of status (2xx, 503, other), and the generator's own lag. Not
     * thread-safe: a worker's are written on its loop, and merged from there.
     */
    static class Latencies {
        final Histogram all = histogram();
        final Histogram ok = histogram();
        final Histogram s503 = histogram();
        final Histogram other = histogram();
        final Histogram genLag = histogram();

        /** Adds what {@code from} recorded to these. */
        void add(Latencies from) {
            all.add(from.all);
            ok.add(from.ok);
            s503.add(from.s503);
            other.add(from.other);
            genLag.add(from.genLag);
        }

        /** Forgets everything recorded. */
        void reset() {
            all.reset();
            ok.reset();
            s503.reset();
            other.reset();
            genLag.reset();
        }
    }

    /** Merged results of one rate. Filled on the worker loops one after the other. */
    static final class Summary extends Latencies {
        final String label;
        final int rate;
        final double duration;
        long completedInWindow;
        long okInWindow;
        long errors;
        long dropped;
        long unfinished;

        Summary(String label, int rate, double duration) {
            this.label = label;
            this.rate = rate;
            this.duration = duration;
        }

        static double ms(Histogram h, double percentile) {
            return h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(percentile) / 1000.0;
        }

        static double maxMs(Histogram h) {
            return h.getTotalCount() == 0 ? Double.NaN : h.getMaxValue() / 1000.0;
        }

        String describe() {
            return String.format(Locale.ROOT,
                    "%s: offered %d/s, completed %.1f/s (2xx %.1f/s); 2xx %d, 503 %d, other %d, errors %d, "
                            + "unfinished %d, dropped %d%n"
                            + "  latency ms (from intended send), generator lag at the same percentile in brackets:%n"
                            + "    p50 %.3f [%.3f] p90 %.3f [%.3f] p99 %.3f [%.3f] p99.9 %.3f [%.3f] max %.3f [%.3f]%n"
                            + "  2xx p99 %.3f ms [%.3f]; 503 p50 %.3f [%.3f] p99 %.3f [%.3f] max %.3f [%.3f] ms",
                    label, rate, completedInWindow / duration, okInWindow / duration, ok.getTotalCount(),
                    s503.getTotalCount(), other.getTotalCount(), errors, unfinished, dropped,
                    ms(all, 50), ms(genLag, 50), ms(all, 90), ms(genLag, 90), ms(all, 99), ms(genLag, 99),
                    ms(all, 99.9), ms(genLag, 99.9), maxMs(all), maxMs(genLag),
                    ms(ok, 99), ms(genLag, 99), ms(s503, 50), ms(genLag, 50), ms(s503, 99), ms(genLag, 99),
                    maxMs(s503), maxMs(genLag));
        }

        String csvRow() {
            return String.format(Locale.ROOT, "%s,%d,%.1f,%.1f,%.1f,%d,%d,%d,%d,%d,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,"
                            + "%.3f,%.3f,%.3f,%.3f",
                    label, rate, duration, completedInWindow / duration, okInWindow / duration, ok.getTotalCount(),
                    s503.getTotalCount(), other.getTotalCount(), errors, unfinished, dropped,
                    ms(all, 50), ms(all, 90), ms(all, 99), ms(all, 99.9), maxMs(all), ms(ok, 99),
                    ms(s503, 50), ms(s503, 99), maxMs(s503), ms(genLag, 99),
                    ms(genLag, 50), ms(genLag, 90), ms(genLag, 99.9), maxMs(genLag));
        }
    }

    private void writeHgrm(Summary s) throws IOException {
        Files.createDirectories(hgrmDir);
        Path file = hgrmDir.resolve(s.label + "-" + s.rate + ".hgrm");
        try (PrintStream out = new PrintStream(Files.newOutputStream(file), true, StandardCharsets.UTF_8)) {
            s.all.outputPercentileDistribution(out, 1000.0);
        }
    }
}
