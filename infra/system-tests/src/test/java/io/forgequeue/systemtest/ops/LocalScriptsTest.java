package io.forgequeue.systemtest.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decisions of infra/local/up.sh, checked through the functions of infra/local/lib/*.sh it uses: which API keys
 * the local gateway accepts, which workers and forge-sims start on which ports, and whose answer counts as an app's
 * (issue 15). Starting the whole system with up.sh is {@code LocalSystemIT}.
 */
class LocalScriptsTest {

    @Test
    void everyLocalScriptIsValidBash() throws IOException {
        List<Path> scripts;
        try (Stream<Path> files =
                Stream.concat(Files.list(OpsFiles.path("infra/local")), Files.list(OpsFiles.path("infra/local/lib")))) {
            scripts = files.filter(p -> p.toString().endsWith(".sh")).sorted().toList();
        }

        assertThat(scripts).hasSizeGreaterThanOrEqualTo(7);
        for (Path script : scripts) {
            LocalScripts.Run run = LocalScripts.functions(Map.of(), "bash -n '" + script + "'");
            assertThat(run.exitCode()).as("bash -n %s: %s", script, run).isZero();
        }
    }

    // Issue 19: an amqps listener needs its certificate, key and CA; a half-given TLS set-up stops before any node
    // starts.
    @Test
    void aRabbitTlsPortWithoutItsCertificateKeyAndCaIsRefusedBeforeAnythingStarts() {
        LocalScripts.Run run = LocalScripts.script(
                Map.of("FQ_RABBIT_TLS_PORT", "5671"), Duration.ofSeconds(30), "rabbitmq.sh", "status");

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.stderr()).contains("FQ_RABBIT_TLS_PORT is set: FQ_RABBIT_TLS_CERT (a PEM file) is required too");
    }

    // Issue 19: clients verify the host name they connect to against the certificate's names.
    @Test
    void theCertificateScriptSignsAServerCertificateNamingEveryHostItIsGiven(@TempDir Path dir) throws Exception {
        LocalScripts.Run ca =
                LocalScripts.script(Map.of(), Duration.ofSeconds(60), "tls-certs.sh", "ca", dir.toString());
        LocalScripts.Run server = LocalScripts.script(
                Map.of(),
                Duration.ofSeconds(60),
                "tls-certs.sh",
                "server",
                dir.toString(),
                "broker",
                "broker.example.com",
                "203.0.113.7");

        assertThat(ca.exitCode()).as(ca.toString()).isZero();
        assertThat(server.exitCode()).as(server.toString()).isZero();
        CertificateFactory x509 = CertificateFactory.getInstance("X.509");
        X509Certificate certificate;
        X509Certificate authority;
        try (InputStream chain = Files.newInputStream(dir.resolve("broker.pem"));
                InputStream caFile = Files.newInputStream(dir.resolve("ca.pem"))) {
            certificate = (X509Certificate)
                    x509.generateCertificates(chain).iterator().next();
            authority = (X509Certificate) x509.generateCertificate(caFile);
        }
        List<String> names = certificate.getSubjectAlternativeNames().stream()
                .map(name -> String.valueOf(name.get(1)))
                .toList();
        assertThat(names).containsExactlyInAnyOrder("broker.example.com", "203.0.113.7");
        certificate.verify(authority.getPublicKey()); // signed by the CA
        assertThat(authority.getBasicConstraints()).as("the CA is a CA").isGreaterThanOrEqualTo(0);
        assertThat(dir.resolve("broker.key")).content().startsWith("-----BEGIN PRIVATE KEY-----");
    }

    // Issue 15, item 2: up.sh replaced the operator's GATEWAY_BOOTSTRAP_API_KEY with its local key.
    @Test
    void theLocalKeyIsAddedToTheOperatorsOwnKeysInsteadOfReplacingThem() {
        LocalScripts.Run run = LocalScripts.functions(
                Map.of(), "fq_merge_api_keys fq_local_abc ' mine-1, mine-2,,fq_local_abc,mine-1 '");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.stdout().strip()).isEqualTo("fq_local_abc,mine-1,mine-2");
    }

    @Test
    void withoutOperatorKeysOnlyTheLocalKeyIsEnsured() {
        LocalScripts.Run run = LocalScripts.functions(Map.of(), "fq_merge_api_keys fq_local_abc ''");

        assertThat(run.stdout().strip()).isEqualTo("fq_local_abc");
    }

    @Test
    void byDefaultTwoWorkersStartOn8091And8092EachWithAForgeSimOfItsOwn() {
        LocalScripts.Run run = LocalScripts.functions(Map.of(), "fq_worker_layout 8080");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.lines())
                .containsExactly(
                        "worker-1 8091 http://127.0.0.1:7861 7861", "worker-2 8092 http://127.0.0.1:7863 7863");
    }

    // Issue 15, items 3 and 4: worker ports were fixed at 8091..; all workers shared one forge-sim.
    @Test
    void workerAndForgeSimPortsFollowTheirConfigurableBases() {
        LocalScripts.Run run = LocalScripts.functions(
                Map.of("FQ_WORKERS", "3", "FQ_WORKER_PORT", "18091", "FQ_FORGE_SIM_PORT", "18861"),
                "fq_worker_layout 18080");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.lines())
                .containsExactly(
                        "worker-1 18091 http://127.0.0.1:18861 18861",
                        "worker-2 18092 http://127.0.0.1:18863 18863",
                        "worker-3 18093 http://127.0.0.1:18865 18865");
    }

    @Test
    void severalRealForgesGetOneWorkerEachAndNoForgeSim() {
        LocalScripts.Run run = LocalScripts.functions(
                Map.of("FORGE_URLS", "http://gpu-a:7860, http://gpu-b:7860", "FQ_WORKER_PORT", "9101"),
                "fq_worker_layout 8080");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.lines())
                .containsExactly("worker-1 9101 http://gpu-a:7860 -", "worker-2 9102 http://gpu-b:7860 -");
    }

    @Test
    void oneRealForgeGetsOneWorker() {
        LocalScripts.Run run =
                LocalScripts.functions(Map.of("FORGE_URL", "http://gpu-box:7860"), "fq_worker_layout 8080");

        assertThat(run.lines()).containsExactly("worker-1 8091 http://gpu-box:7860 -");
    }

    @Test
    void moreWorkersThanRealForgesAreRefusedWithHowToGiveSeveralForges() {
        LocalScripts.Run run = LocalScripts.functions(
                Map.of("FORGE_URL", "http://gpu-box:7860", "FQ_WORKERS", "2"), "fq_worker_layout 8080");

        assertThat(run.exitCode()).isNotZero();
        assertThat(run.stdout()).isEmpty();
        assertThat(run.stderr())
                .contains("FQ_WORKERS=2, but 1 Forge URL(s) given", "one worker per Forge", "FORGE_URLS=");
    }

    @Test
    void portsThatCoincideAreRefusedBeforeAnythingStarts() {
        LocalScripts.Run run = LocalScripts.functions(Map.of("FQ_FORGE_SIM_PORT", "8092"), "fq_worker_layout 8080");

        assertThat(run.exitCode()).isNotZero();
        assertThat(run.stderr()).contains("port 8092 would be both forge-sim-1 and worker-2");
    }

    @Test
    void aPortBeyondTheRangeIsRefused() {
        LocalScripts.Run run = LocalScripts.functions(Map.of("FQ_WORKER_PORT", "65535"), "fq_worker_layout 8080");

        assertThat(run.exitCode()).isNotZero();
        assertThat(run.stderr()).contains("the port of worker-2 must be a TCP port (1-65535), got '65536'");
    }

    // Issue 15, item 3: up.sh took another system's worker on the same port for the one it had started.
    @Test
    void thePortHolderIsTheProcessWhoseSocketListensThereNotJustAnyProcess() throws IOException {
        long thisJvm = ProcessHandle.current().pid();
        try (ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            int port = socket.getLocalPort();

            LocalScripts.Run run = LocalScripts.functions(
                    Map.of(),
                    "fq_port_holder " + thisJvm + " " + port + "; fq_port_holder $$ " + port + "; fq_port_owners "
                            + port);

            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(run.lines()).hasSize(3);
            assertThat(run.lines().get(0)).isEqualTo("self");
            assertThat(run.lines().get(1)).isEqualTo("other");
            assertThat(run.lines().get(2)).startsWith("pid " + thisJvm + " (");
        }
    }

    // Issue 15, item 3: a second system's worker failed on "port 8091 already in use", but up.sh reported it up
    // because its readiness probe reached the first system's worker.
    @Test
    void anAppIsNotTakenForUpWhenTheAnswerOnItsPortComesFromAnotherProcess(@TempDir Path runDir) throws IOException {
        HttpServer firstSystemsWorker = answering("{\"status\":\"UP\"}");
        try {
            int port = firstSystemsWorker.getAddress().getPort();

            LocalScripts.Run run = LocalScripts.functions(
                    Map.of("FQ_RUN_DIR", runDir.toString()), """
                    sleep 30 < /dev/null > /dev/null 2>&1 &
                    started=$!
                    if (fq_await_app worker-1 "$started" %d http://127.0.0.1:%d/actuator/health/readiness %s); then
                      echo "reported up"
                      kill "$started"
                    else
                      echo refused
                    fi
                    wait "$started" || echo "ended by signal $(($? - 128))"
                    """.formatted(port, port, runDir.resolve("worker-1.log")));

            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(run.lines()).as(run.toString()).containsExactly("refused", "ended by signal 15");
            assertThat(run.stderr())
                    .contains(
                            "port " + port + " is held by pid "
                                    + ProcessHandle.current().pid(),
                            "what answers there is not worker-1");
        } finally {
            firstSystemsWorker.stop(0);
        }
    }

    @Test
    void anAppIsNotStartedOnAPortAnotherProcessListensOn(@TempDir Path runDir) throws IOException {
        Path jar = Files.writeString(runDir.resolve("app.jar"), "never run");
        try (ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            int port = socket.getLocalPort();

            LocalScripts.Run run = LocalScripts.functions(
                    Map.of("FQ_RUN_DIR", runDir.toString()),
                    "fq_start_app worker-2 " + jar + " " + port + " /actuator/health/readiness -- env SERVER_PORT="
                            + port);

            assertThat(run.exitCode()).isNotZero();
            assertThat(run.stderr())
                    .contains("port " + port + ", wanted by worker-2, is already in use by pid "
                            + ProcessHandle.current().pid());
            assertThat(runDir.resolve("local/pids/worker-2.pid")).doesNotExist();
        }
    }

    @Test
    void anAppOfThisRunDirectoryRunningOnAnotherPortIsNotTakenForTheOneAskedFor(@TempDir Path runDir)
            throws IOException {
        Path jar = Files.writeString(runDir.resolve("app.jar"), "never run");

        LocalScripts.Run run =
                LocalScripts.functions(Map.of("FQ_RUN_DIR", runDir.toString()), """
                bash -c 'sleep 30; exit 0' %s < /dev/null > /dev/null 2>&1 &
                running=$!
                mkdir -p "$FQ_APP_DIR/pids"
                printf '%%s\n18091\n' "$running" > "$FQ_APP_DIR/pids/worker-1.pid"
                (fq_check_app_port worker-1 %s 18091) && echo "same port: fine"
                (fq_check_app_port worker-1 %s 18191) || echo "other port: refused"
                kill "$running"
                """.formatted(jar, jar, jar));

        assertThat(run.lines()).as(run.toString()).containsExactly("same port: fine", "other port: refused");
        assertThat(run.stderr()).contains("worker-1 already runs (pid", "on port 18091, not 18191");
    }

    @Test
    void aPortNobodyListensOnHasNoHolder() throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }

        LocalScripts.Run run = LocalScripts.functions(Map.of(), "fq_port_holder $$ " + port);

        assertThat(run.stdout().strip()).isEqualTo("none");
    }

    @Test
    void theGatewayIsOfferedOnlyTheSamplersEveryForgeHas() throws IOException {
        HttpServer a = answering("[{\"name\":\"Euler a\"},{\"name\":\"DPM++ 2M\"},{\"name\":\"LCM\"}]");
        HttpServer b = answering("[{\"name\":\"LCM\"},{\"name\":\"Euler a\"}]");
        try {
            LocalScripts.Run run = LocalScripts.functions(
                    Map.of(),
                    "fq_forge_common_names /sdapi/v1/samplers name " + url(a) + " http://127.0.0.1:1 " + url(b));

            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(run.stdout().strip())
                    .as("in the first Forge's order; one that cannot be asked is left out")
                    .isEqualTo("Euler a,LCM");
        } finally {
            a.stop(0);
            b.stop(0);
        }
    }

    /** A server on a free loopback port that answers every request with 200 and this JSON body. */
    private static HttpServer answering(String json) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        return server;
    }

    private static String url(HttpServer server) {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }
}
