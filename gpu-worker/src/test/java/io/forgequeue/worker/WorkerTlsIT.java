package io.forgequeue.worker;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import io.forgequeue.forgesim.ForgeSimServer;
import io.forgequeue.forgesim.SimConfig;
import io.forgequeue.model.EventType;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestCertificates;
import io.forgequeue.testsupport.TlsBroker;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.amqp.autoconfigure.RabbitAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Issue 19: a worker on another machine reaches the broker over {@code amqps} and Forge over HTTPS, and verifies both
 * certificates (chain and host name). One RabbitMQ node of this class's own with a TLS listener ({@link TlsBroker},
 * ~6 s) and an in-process forge-sim over HTTPS, both with a certificate for 127.0.0.1 made at test time by
 * {@code infra/local/tls-certs.sh}. The workers connect only to the amqps listener; the test watches and plays the
 * scheduler over the node's plain one (same virtual host). Each test starts its own worker (its own Spring context).
 */
class WorkerTlsIT {

    static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    static Path certificateDir;

    static TestCertificates certificates;
    static TlsBroker node;
    static RabbitEndpoint rabbit;
    static ForgeSimServer forge;
    static EventRecorder events;
    static TestBroker broker;
    static final List<ConfigurableApplicationContext> workers = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        // the broker's certificate names 127.0.0.1 only: amqps://localhost must be refused (host name verification)
        certificates = TestCertificates.create(certificateDir).withServer("broker", "127.0.0.1");
        node = TlsBroker.start(certificates, "broker");
        rabbit = node.plainEndpoint().withFreshVirtualHost("worker-tls");
        forge = ForgeSimServer.start(SimConfig.fromArgs(
                "--port",
                "0",
                "--step-ms",
                "1",
                "--model-load-ms",
                "0",
                "--tls-cert",
                certificates.serverCertificate().toString(),
                "--tls-key",
                certificates.serverKey().toString()));
        events = new EventRecorder(rabbit);
        broker = new TestBroker(rabbit);
    }

    /** Each test's worker ends with it, so that one retrying its handshake does not slow down the next. */
    @AfterEach
    void stopWorker() {
        workers.forEach(ConfigurableApplicationContext::close);
        workers.clear();
    }

    @AfterAll
    static void stop() throws Exception {
        if (events != null) {
            events.close();
        }
        if (broker != null) {
            broker.close();
        }
        if (forge != null) {
            forge.close();
        }
        if (node != null) {
            node.close();
        }
    }

    @Test
    void aWorkerThatTrustsTheCaAnnouncesItselfOverAmqpsAndRunsAJobOnForgeOverHttps() {
        startWorker("tls-trusting", certificates.ca(), certificates.ca());

        WorkerStatus ready = events.awaitStatus("tls-trusting", s -> s.state() == WorkerState.READY, WAIT);
        UUID jobId =
                broker.to("tls-trusting").submit(aSpec().size(64, 64).steps(2).build());

        assertThat(ready.forge()).as("it read Forge's lists over HTTPS").isNotNull();
        assertThat(events.awaitOutcome(jobId, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(forge.baseUrl().getScheme()).isEqualTo("https");
    }

    @Test
    void aWorkerThatDoesNotTrustTheBrokersCertificateIsRefusedWithAClearLogLine() {
        long mark = logLength();

        startWorker("tls-wrong-broker-ca", certificates.otherCa(), certificates.ca());

        String line = awaitLogLine(mark, "Broker TLS handshake failed");
        assertThat(line)
                .contains(
                        "ERROR",
                        "no connection to the broker",
                        "spring.rabbitmq.ssl.bundle",
                        "PKIX path building failed");
        assertThat(events.statusCount("tls-wrong-broker-ca"))
                .as("it never got through to announce itself")
                .isZero();
    }

    @Test
    void aWorkerThatDoesNotTrustForgesCertificateSaysForgeIsUnreachableAndTakesNoJob() {
        long mark = logLength();

        startWorker("tls-wrong-forge-ca", certificates.ca(), certificates.otherCa());

        WorkerStatus paused = events.awaitStatus("tls-wrong-forge-ca", s -> s.state() == WorkerState.PAUSED, WAIT);
        assertThat(paused.forge()).as("Forge never answered").isNull();
        String line = awaitLogLine(mark, "Forge does not answer at startup");
        assertThat(line)
                .contains("WARN", "TLS handshake failed", "worker.forge.ssl-bundle", "PKIX path building failed");
        assertThat(events.statusesOf("tls-wrong-forge-ca"))
                .as("it never offers itself for jobs")
                .extracting(WorkerStatus::state)
                .containsOnly(WorkerState.PAUSED);
    }

    @Test
    void theBrokerSettingsTheDocsGiveVerifyTheHostNameAgainstTheBrokersCertificate() {
        ApplicationContextRunner boot = new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(SslAutoConfiguration.class, RabbitAutoConfiguration.class))
                .withPropertyValues(
                        "spring.rabbitmq.username=guest",
                        "spring.rabbitmq.password=guest",
                        "spring.rabbitmq.virtual-host=" + rabbit.virtualHost(),
                        "spring.rabbitmq.ssl.bundle=broker",
                        "spring.ssl.bundle.pem.broker.truststore.certificate=file:" + certificates.ca());

        boot.withPropertyValues("spring.rabbitmq.addresses=amqps://127.0.0.1:" + node.tlsPort())
                .run(context -> {
                    try (Connection named =
                            context.getBean(CachingConnectionFactory.class).createConnection()) {
                        assertThat(named.isOpen())
                                .as("127.0.0.1 is a name in the certificate")
                                .isTrue();
                    }
                });
        boot.withPropertyValues("spring.rabbitmq.addresses=amqps://localhost:" + node.tlsPort())
                .run(context -> {
                    Throwable refused = catchThrowable(() ->
                            context.getBean(CachingConnectionFactory.class).createConnection());
                    assertThat(tlsReason(refused))
                            .as("same broker, same CA, a name not in the certificate")
                            .contains("No name matching localhost");
                });
    }

    /** The message of the TLS failure behind {@code t}, or null. */
    private static String tlsReason(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SSLException ssl) {
                return ssl.getMessage();
            }
        }
        return null;
    }

    /** The length of this JVM's log file (the apps started in it log there, see logback-test.xml). */
    private static long logLength() {
        try {
            return Files.size(AppLogs.testJvmLog());
        } catch (IOException e) {
            return 0;
        }
    }

    /** The first line logged after {@code mark} that contains {@code text}, waiting for it. */
    private static String awaitLogLine(long mark, String text) {
        return await().atMost(WAIT)
                .until(
                        () -> logLinesSince(mark).stream()
                                .filter(l -> l.contains(text))
                                .findFirst(),
                        Optional::isPresent)
                .orElseThrow();
    }

    private static List<String> logLinesSince(long mark) throws IOException {
        try (SeekableByteChannel channel = Files.newByteChannel(AppLogs.testJvmLog())) {
            channel.position(mark);
            return new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8)
                    .lines()
                    .toList();
        }
    }

    /** A worker over amqps that trusts {@code brokerCa} for the broker and {@code forgeCa} for Forge. */
    private static void startWorker(String id, Path brokerCa, Path forgeCa) {
        // command-line arguments: they win over application.yml (builder properties would not)
        workers.add(new SpringApplicationBuilder(GpuWorkerApplication.class)
                .web(WebApplicationType.NONE)
                .run(
                        "--spring.rabbitmq.addresses=" + node.tlsAddresses(),
                        "--spring.rabbitmq.username=" + rabbit.username(),
                        "--spring.rabbitmq.password=" + rabbit.password(),
                        "--spring.rabbitmq.virtual-host=" + rabbit.virtualHost(),
                        "--spring.rabbitmq.ssl.bundle=broker",
                        "--spring.ssl.bundle.pem.broker.truststore.certificate=file:" + brokerCa,
                        "--worker.forge.url=" + forge.baseUrl(),
                        "--worker.forge.ssl-bundle=forge",
                        "--spring.ssl.bundle.pem.forge.truststore.certificate=file:" + forgeCa,
                        "--worker.id=" + id,
                        "--worker.presence.interval=200ms",
                        "--worker.forge.breaker.probe-interval=200ms",
                        // the first TLS handshake is slow on a loaded machine; a refused one comes at once
                        "--worker.forge.connect-timeout=30s",
                        "--worker.forge.poll-timeout=30s",
                        "--worker.shutdown-grace=1s"));
    }
}
