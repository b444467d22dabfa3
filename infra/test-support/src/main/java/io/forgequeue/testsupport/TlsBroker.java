package io.forgequeue.testsupport;

import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A RabbitMQ node of one test class's own with an {@code amqps} listener (besides the plain one, which the test uses
 * for nothing but the management port), started by {@code infra/local/rabbitmq.sh} with {@code FQ_RABBIT_TLS_PORT} and
 * the certificate of {@link TestCertificates}, on free ports, with its data under {@code <repo>/.run/tls/}. The shared
 * test broker has no TLS listener (it may be one a developer started, or one from the environment), hence a node of
 * its own: about 6 s to start, SIGKILL and its data deleted on {@link #close()}. Not thread-safe: one test class
 * drives it.
 */
public final class TlsBroker implements AutoCloseable {

    private static final int ATTEMPTS = 3;

    private final Path root;
    private final int port;
    private final int tlsPort;
    private final TestCertificates certificates;

    private TlsBroker(Path root, int port, int tlsPort, TestCertificates certificates) {
        this.root = root;
        this.port = port;
        this.tlsPort = tlsPort;
        this.certificates = certificates;
    }

    /** Starts a node with a TLS listener with the certificate {@code server} (127.0.0.1 and localhost). */
    public static TlsBroker start(TestCertificates certificates) {
        return start(certificates, "server");
    }

    /**
     * Starts a node with a TLS listener whose certificate is {@code certificates}' {@code name} (see
     * {@link TestCertificates#withServer}); retries on a taken port.
     */
    public static TlsBroker start(TestCertificates certificates, String name) {
        Path root = LocalServers.findRoot();
        IllegalStateException last = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int port = freeNodePort();
            int tlsPort = freeTlsPort();
            TlsBroker broker = new TlsBroker(root, port, tlsPort, certificates);
            try {
                LocalServers.runScript(
                        root,
                        "rabbitmq.sh",
                        List.of("start"),
                        Map.of(
                                "FQ_RUN_DIR", runDir(root).toString(),
                                "FQ_RABBIT_PORT", Integer.toString(port),
                                "FQ_RABBIT_TLS_PORT", Integer.toString(tlsPort),
                                "FQ_RABBIT_TLS_CERT",
                                        certificates.certificate(name).toString(),
                                "FQ_RABBIT_TLS_KEY", certificates.key(name).toString(),
                                "FQ_RABBIT_TLS_CA", certificates.ca().toString()));
                // a test JVM that ends without close() (an aborted run) must not leave the node running
                Runtime.getRuntime().addShutdownHook(new Thread(broker::close, "tls-broker-stop-" + port));
                return broker;
            } catch (IllegalStateException e) {
                broker.close();
                last = e;
            }
        }
        throw last;
    }

    /** The amqps port (on 127.0.0.1). */
    public int tlsPort() {
        return tlsPort;
    }

    /** {@code amqps://127.0.0.1:<tls port>}, for {@code spring.rabbitmq.addresses}. */
    public String tlsAddresses() {
        return "amqps://127.0.0.1:" + tlsPort;
    }

    /** The plain endpoint (guest, default virtual host) for the management API, e.g. fresh virtual hosts. */
    public RabbitEndpoint plainEndpoint() {
        return new RabbitEndpoint("127.0.0.1", port, "guest", "guest", port + 10000, "/");
    }

    /** A client of the amqps listener that trusts only {@code caPem}, verifies the host name, on {@code vhost}. */
    public ConnectionFactory tlsConnectionFactory(Path caPem, String virtualHost) {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("127.0.0.1");
        factory.setPort(tlsPort);
        factory.setUsername("guest");
        factory.setPassword("guest");
        factory.setVirtualHost(virtualHost);
        factory.setConnectionTimeout(10_000);
        factory.useSslProtocol(TestCertificates.trusting(caPem));
        factory.enableHostnameVerification();
        return factory;
    }

    /** SIGKILL of the node, then its data is deleted. Idempotent. */
    @Override
    public synchronized void close() {
        Path nodeDir = runDir(root).resolve("rabbitmq").resolve("fq" + port);
        Path pidFile = nodeDir.resolve("rabbit.pid");
        try {
            if (Files.isRegularFile(pidFile)) {
                long pid = Long.parseLong(
                        Files.readString(pidFile, StandardCharsets.UTF_8).replaceAll("[^0-9]", ""));
                ProcessHandle.of(pid).ifPresent(node -> {
                    node.destroyForcibly();
                    node.onExit()
                            .orTimeout(Duration.ofSeconds(15).toMillis(), TimeUnit.MILLISECONDS)
                            .exceptionally(e -> null)
                            .join();
                });
            }
            if (Files.isDirectory(nodeDir)) {
                try (Stream<Path> files = Files.walk(nodeDir)) {
                    files.sorted(Comparator.reverseOrder())
                            .forEach(p -> p.toFile().delete());
                }
            }
            Files.deleteIfExists(runDir(root).resolve("rabbitmq-fq" + port + ".lock"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path runDir(Path root) {
        return root.resolve(".run").resolve("tls");
    }

    /** A port whose derived ports (management +10000, prometheus +11000, distribution +20000) are free too. */
    private static int freeNodePort() {
        for (int i = 0; i < 200; i++) {
            int port = ThreadLocalRandom.current().nextInt(6000, 9900);
            if (free(port) && free(port + 10000) && free(port + 11000) && free(port + 20000)) {
                return port;
            }
        }
        throw new IllegalStateException("no free port for a RabbitMQ node in 6000-9900 (and its +10000/+11000/+20000)");
    }

    /** A kernel-chosen free port outside 35672-35682, which rabbitmqctl uses for itself. */
    private static int freeTlsPort() {
        while (true) {
            int port = FreePort.next();
            if (port < 35672 || port > 35682) {
                return port;
            }
        }
    }

    private static boolean free(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
