package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.BrokerRoles;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestCertificates;
import io.forgequeue.testsupport.TestInfrastructure;
import io.forgequeue.testsupport.TlsBroker;
import io.micrometer.core.instrument.MeterRegistry;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Issue 19: a gateway reaches the broker over {@code amqps} and verifies its certificate (chain and host name), as
 * {@code WorkerTlsIT} shows for the worker. One RabbitMQ node of this class's own with a TLS listener
 * ({@link TlsBroker}, ~6 s) and a certificate for 127.0.0.1 made at test time by {@code infra/local/tls-certs.sh}. The
 * gateway connects only to the amqps listener, with the gateway's least-privilege user ({@link BrokerRoles#gateway}),
 * so the hand-out also shows that this user may publish to the default exchange; the test's worker uses the node's
 * plain listener (same virtual host). Each test starts its own gateway (its own Spring context).
 */
class GatewayTlsIT {

    static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    static Path certificateDir;

    static TestCertificates certificates;
    static TlsBroker node;
    static RabbitEndpoint admin;
    static RabbitEndpoint gatewayUser;
    static PostgresEndpoint db;
    final List<ConfigurableApplicationContext> gateways = new ArrayList<>();
    final List<TestWorker> workers = new ArrayList<>();

    @BeforeAll
    static void start() {
        certificates = TestCertificates.create(certificateDir).withServer("broker", "127.0.0.1");
        node = TlsBroker.start(certificates, "broker");
        admin = node.plainEndpoint().withFreshVirtualHost("gateway-tls");
        gatewayUser = admin.withNewUser("gateway", BrokerRoles.gateway(), null);
        db = TestInfrastructure.postgres().withFreshDatabase("gateway_tls");
    }

    @AfterEach
    void stopGatewaysAndWorkers() {
        workers.forEach(TestWorker::close);
        gateways.forEach(ConfigurableApplicationContext::close);
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close(); // its users and virtual hosts go with its data
        }
    }

    @Test
    void aGatewayThatTrustsTheCaConnectsOverAmqpsHandsOutAJobAndMergesItsOutcome() {
        ConfigurableApplicationContext gateway = startGateway("gw-tls-trusting", certificates.ca());
        String pool = "tls-" + UUID.randomUUID().toString().substring(0, 8);
        String key = "test-" + UUID.randomUUID();
        gateway.getBean(ApiKeys.class).ensure("key-tls", key);
        TestWorker worker = TestWorker.in(admin, pool).start();
        workers.add(worker);
        Api api = new Api(Gateways.port(gateway));

        UUID id = api.submit(key, Api.job(pool, "over amqps")).id();

        JobAttempt handedOut = worker.next(); // the gateway heard the worker's announcements and published to it
        assertThat(handedOut.jobId()).isEqualTo(id);
        handedOut.succeed();
        await().atMost(WAIT)
                .until(
                        () -> api.get(key, "/api/v1/jobs/" + id)
                                .json()
                                .path("status")
                                .asString(),
                        "SUCCEEDED"::equals);
    }

    @Test
    void aGatewayThatDoesNotTrustTheBrokersCertificateIsRefusedWithAClearLogLine() {
        long mark = logLength();

        ConfigurableApplicationContext gateway = startGateway("gw-tls-wrong-ca", certificates.otherCa());

        String line = awaitLogLine(mark, "Broker TLS handshake failed");
        assertThat(line)
                .contains(
                        "ERROR",
                        "no connection to the broker",
                        "spring.rabbitmq.ssl.bundle",
                        "PKIX path building failed");
        assertThat(gateway.getBean(MeterRegistry.class)
                        .get("gpu.gateway.broker.connected")
                        .gauge()
                        .value())
                .as("it says it has no broker")
                .isZero();
    }

    /** A gateway over amqps only, as its least-privilege user, trusting {@code brokerCa} for the broker. */
    private ConfigurableApplicationContext startGateway(String instance, Path brokerCa) {
        ConfigurableApplicationContext context = Gateways.start(
                null,
                db,
                "spring.rabbitmq.addresses=" + node.tlsAddresses(),
                "spring.rabbitmq.username=" + gatewayUser.username(),
                "spring.rabbitmq.password=" + gatewayUser.password(),
                "spring.rabbitmq.virtual-host=" + gatewayUser.virtualHost(),
                "spring.rabbitmq.ssl.bundle=broker",
                "spring.ssl.bundle.pem.broker.truststore.certificate=file:" + brokerCa,
                "gateway.instance-id=" + instance);
        gateways.add(context);
        return context;
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
}
