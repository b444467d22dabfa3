package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.forgequeue.forgesim.ForgeSimServer;
import io.forgequeue.forgesim.SimConfig;
import io.forgequeue.testsupport.TestCertificates;
import io.forgequeue.worker.system.WireJson;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19: the worker's Forge calls over HTTPS verify the certificate chain and the host name. forge-sim in-process
 * over HTTPS, certificates made by infra/local/tls-certs.sh (openssl) at test time; no broker.
 */
class ForgeTlsTest {

    @TempDir
    static Path dir;

    static TestCertificates certificates;
    static ForgeSimServer forge;
    static ForgeSimServer forgeForLocalhostOnly;

    @BeforeAll
    static void start() throws Exception {
        certificates = TestCertificates.create(dir).withServer("localhost-only", "localhost");
        forge = ForgeSimServer.start(sim(certificates.serverCertificate(), certificates.serverKey()));
        forgeForLocalhostOnly =
                ForgeSimServer.start(sim(dir.resolve("localhost-only.pem"), dir.resolve("localhost-only.key")));
    }

    @AfterAll
    static void stop() {
        if (forge != null) {
            forge.close();
        }
        if (forgeForLocalhostOnly != null) {
            forgeForLocalhostOnly.close();
        }
    }

    @Test
    void talksToAnHttpsForgeWhoseCertificateTheBundlesCaSigned() {
        ForgeApi api = api(forge.baseUrl(), certificates.ca());

        ProgressSnapshot progress = api.progress(false);

        assertThat(forge.baseUrl().getScheme()).isEqualTo("https");
        assertThat(progress).isNotNull();
    }

    @Test
    void refusesAForgeWhoseCertificateAnotherCaSignedAsAnOutage() {
        ForgeException e = catchThrowableOfType(
                ForgeException.class,
                () -> api(forge.baseUrl(), certificates.otherCa()).progress(false));

        assertThat(e.failure()).isEqualTo(ForgeFailure.UNAVAILABLE);
        assertThat(e.getMessage()).contains("TLS handshake failed", "PKIX path building failed");
    }

    @Test
    void refusesACertificateThatDoesNotNameTheHostInTheUrl() {
        URI byAddress = forgeForLocalhostOnly.baseUrl(); // https://127.0.0.1:port, the certificate names localhost only

        ForgeException e = catchThrowableOfType(
                ForgeException.class, () -> api(byAddress, certificates.ca()).progress(false));

        assertThat(e.failure()).isEqualTo(ForgeFailure.UNAVAILABLE);
        assertThat(e.getMessage()).contains("TLS handshake failed", "No subject alternative names matching IP address");
    }

    private static SimConfig sim(Path certificate, Path key) {
        return SimConfig.fromArgs(
                "--port",
                "0",
                "--step-ms",
                "0",
                "--model-load-ms",
                "0",
                "--tls-cert",
                certificate.toString(),
                "--tls-key",
                key.toString());
    }

    private static ForgeApi api(URI url, Path trustedCa) {
        // generous connect (TCP + TLS handshake) and read limits: on a loaded machine the first handshake is slow, and
        // the refusals under test come at once, not from a limit
        ForgeProperties props = new ForgeProperties(
                url,
                null,
                null,
                Duration.ofSeconds(30),
                Duration.ofSeconds(30),
                Duration.ofSeconds(30),
                Duration.ofSeconds(1),
                Duration.ofSeconds(1),
                new ForgeProperties.Retry(
                        0,
                        Duration.ofMillis(10),
                        Duration.ofMillis(20),
                        0,
                        Duration.ofMillis(10),
                        Duration.ofMillis(20)),
                new ForgeProperties.Breaker(5, Duration.ofSeconds(1), 1, Duration.ofMillis(10)),
                "forge");
        return new ForgeApi(props, new WireJson().mapper(), TestCertificates.trusting(trustedCa));
    }
}
