package io.forgequeue.forgesim;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;

/**
 * A running forge-sim: the Forge API on one port and the admin API on another, in this JVM. {@link ForgeSimMain}
 * runs one as a process; tests may start one in-process with {@link #start(SimConfig)} (port 0 picks free ports).
 * Thread-safe.
 */
public final class ForgeSimServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("forge-sim");

    static {
        // Without TCP_NODELAY the JDK server's separate header and body writes meet the client's delayed ACK and
        // every small response takes ~40 ms. Must be set before the first HttpServer is created in this JVM.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
    }

    private static final int BACKLOG = 1024;

    private final SimConfig config;

    private final Txt2ImgEngine engine;

    private final GenerationState state;

    private final TaskQueue tasks;

    private final Router apiRouter;

    private final ExecutorService apiExecutor;

    private final ExecutorService adminExecutor;

    private final ScheduledExecutorService scheduler;

    private final HttpServer adminServer;

    private final CountDownLatch closed = new CountDownLatch(1);

    private final SSLContext tls;

    private HttpServer apiServer;

    private int apiPort;

    private ScheduledFuture<?> pendingUp;

    private boolean closing;

    private ForgeSimServer(SimConfig config) throws IOException {
        this.config = config;
        Catalog catalog = new Catalog(config.models());
        this.state = new GenerationState();
        Options options = new Options(catalog, config.previewEvery());
        FaultPlan faults = new FaultPlan();
        if (config.failNext() > 0) {
            faults.failNext(config.failNext(), new FaultPlan.Failure(config.failError(), config.failMessage(), 0));
        }
        if (config.hangNext() > 0) {
            faults.hangNext(config.hangNext());
        }
        if (config.failureRate() > 0) {
            faults.failureRate(
                    config.failureRate(),
                    config.failureSeed(),
                    new FaultPlan.Failure(config.failError(), config.failMessage(), 0));
        }
        SimStats stats = new SimStats();
        this.tasks = new TaskQueue();
        this.engine =
                new Txt2ImgEngine(state, tasks, options, catalog, faults, stats, config.stepMs(), config.modelLoadMs());
        engine.checkpointLoadMs(config.checkpointLoadMs());
        if (config.loaded() != null) {
            Catalog.Checkpoint preloaded = catalog.checkpoint(config.loaded());
            options.restore("sd_model_checkpoint", Json.NODES.stringNode(preloaded.title()));
            options.restore("sd_checkpoint_hash", Json.NODES.stringNode(preloaded.sha256()));
            engine.preload(preloaded);
        }
        ForgeApi forgeApi =
                new ForgeApi(engine, state, tasks, options, catalog, stats, ApiAuth.parse(config.apiAuth()));
        forgeApi.webui(config.webui());
        this.apiRouter = forgeApi.router();
        this.apiExecutor = Executors.newFixedThreadPool(config.threads(), daemonThreads("forge-sim-api-"));
        this.adminExecutor = Executors.newFixedThreadPool(4, daemonThreads("forge-sim-admin-"));
        this.scheduler = Executors.newSingleThreadScheduledExecutor(daemonThreads("forge-sim-timer-"));
        this.tls = config.tls() ? PemTls.serverContext(Path.of(config.tlsCert()), Path.of(config.tlsKey())) : null;

        this.apiServer = bindApi(config.port(), false);
        this.apiPort = apiServer.getAddress().getPort();
        int adminPort = config.adminPort();
        HttpServer admin;
        try {
            admin = HttpServer.create(new InetSocketAddress(config.host(), adminPort), 64);
        } catch (IOException e) {
            apiServer.stop(0);
            shutdownExecutors();
            throw e;
        }
        this.adminServer = admin;
        adminServer.createContext("/", new AdminApi(this, engine, forgeApi, tasks, faults, stats, options).router());
        adminServer.setExecutor(adminExecutor);
        apiServer.start();
        adminServer.start();
    }

    /** Starts a sim; returns once both ports listen. */
    public static ForgeSimServer start(SimConfig config) throws IOException {
        return new ForgeSimServer(config);
    }

    public int apiPort() {
        synchronized (this) {
            return apiPort;
        }
    }

    public int adminPort() {
        return adminServer.getAddress().getPort();
    }

    public String host() {
        return config.host();
    }

    /** The Forge API, e.g. {@code http://127.0.0.1:7861} ({@code https} with {@code --tls-cert}). */
    public URI baseUrl() {
        return URI.create((tls == null ? "http://" : "https://") + connectHost() + ":" + apiPort());
    }

    /** The admin API, e.g. {@code http://127.0.0.1:7862}. */
    public URI adminUrl() {
        return URI.create("http://" + connectHost() + ":" + adminPort());
    }

    public synchronized boolean apiUp() {
        return apiServer != null;
    }

    /**
     * Closes the API's listening socket and every open API connection (clients get "connection refused"), and
     * abandons calls in progress, as a crashed Forge would: the next start has fresh progress state and no model
     * loaded (options persist, as Forge keeps them in config.json). With {@code forMs > 0} the API comes back by
     * itself after that many milliseconds.
     */
    public void down(long forMs) {
        HttpServer toStop;
        synchronized (this) {
            if (pendingUp != null) {
                pendingUp.cancel(false);
                pendingUp = null;
            }
            toStop = apiServer;
            apiServer = null;
            if (forMs > 0 && !closing) {
                pendingUp = scheduler.schedule(this::upQuietly, forMs, TimeUnit.MILLISECONDS);
            }
        }
        if (toStop != null) {
            toStop.stop(0);
            engine.abortAll();
            state.reset();
            tasks.reset();
            engine.unload();
            LOG.log(
                    System.Logger.Level.INFO,
                    "API on port {0} is down{1}",
                    String.valueOf(apiPort),
                    forMs > 0 ? " for " + forMs + " ms" : "");
        }
    }

    /** Rebinds the API on the same port (no-op when it is up). */
    public void up() throws IOException {
        synchronized (this) {
            if (closing) {
                throw new IllegalStateException("forge-sim is stopping");
            }
            if (pendingUp != null) {
                pendingUp.cancel(false);
                pendingUp = null;
            }
            if (apiServer != null) {
                return;
            }
            apiServer = bindApi(apiPort, true);
            apiServer.start();
        }
        LOG.log(System.Logger.Level.INFO, "API on port {0} is up", String.valueOf(apiPort));
    }

    private void upQuietly() {
        try {
            up();
        } catch (IOException | IllegalStateException e) {
            LOG.log(System.Logger.Level.WARNING, "could not bring the API back up: {0}", e.toString());
        }
    }

    /** Stops both servers and abandons calls in progress. Idempotent. */
    @Override
    public void close() {
        HttpServer toStop;
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
            if (pendingUp != null) {
                pendingUp.cancel(false);
            }
            toStop = apiServer;
            apiServer = null;
        }
        if (toStop != null) {
            toStop.stop(0);
        }
        adminServer.stop(0);
        engine.abortAll();
        shutdownExecutors();
        closed.countDown();
    }

    /** Blocks until {@link #close()} has run. */
    public void awaitClose() throws InterruptedException {
        closed.await();
    }

    /** Binds the API port; when {@code retry}, keeps trying for a few seconds (rebinding after a down). */
    private HttpServer bindApi(int port, boolean retry) throws IOException {
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(retry ? 5 : 0);
        while (true) {
            try {
                HttpServer server;
                if (tls == null) {
                    server = HttpServer.create(new InetSocketAddress(config.host(), port), BACKLOG);
                } else {
                    HttpsServer https = HttpsServer.create(new InetSocketAddress(config.host(), port), BACKLOG);
                    https.setHttpsConfigurator(new HttpsConfigurator(tls));
                    server = https;
                }
                server.createContext("/", apiRouter);
                server.setExecutor(apiExecutor);
                return server;
            } catch (BindException e) {
                if (System.nanoTime() > giveUp) {
                    throw e;
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private void shutdownExecutors() {
        apiExecutor.shutdownNow();
        adminExecutor.shutdownNow();
        scheduler.shutdownNow();
    }

    private String connectHost() {
        String host = config.host();
        return host.equals("0.0.0.0") || host.equals("::") ? "127.0.0.1" : host;
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
