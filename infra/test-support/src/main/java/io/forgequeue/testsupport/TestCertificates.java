package io.forgequeue.testsupport;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A private certificate authority and a server certificate it signed for {@code 127.0.0.1} and {@code localhost},
 * plus a second CA that signed nothing here (a client trusting only that one must refuse the server), made at test
 * time by {@code infra/local/tls-certs.sh} (openssl), the script the operator uses (docs/security.md). All files are
 * PEM. Immutable once made.
 *
 * @param dir where the files are: {@code ca.pem}, {@code server.pem} (chain), {@code server.key} (PKCS#8) and
 *            {@code other/ca.pem}
 */
public record TestCertificates(Path dir) {

    /** Makes the two CAs and the server certificate in {@code dir} (created when missing); about half a second. */
    public static TestCertificates create(Path dir) {
        Path root = LocalServers.findRoot();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        LocalServers.runScript(root, "tls-certs.sh", List.of("ca", dir.toString()), Map.of());
        LocalServers.runScript(
                root, "tls-certs.sh", List.of("server", dir.toString(), "server", "127.0.0.1", "localhost"), Map.of());
        LocalServers.runScript(
                root,
                "tls-certs.sh",
                List.of("ca", dir.resolve("other").toString()),
                Map.of("FQ_TLS_CN", "Some other CA"));
        return new TestCertificates(dir);
    }

    /**
     * Makes one more server certificate signed by {@link #ca()}, {@code <name>.pem} and {@code <name>.key}, naming only
     * {@code hosts} (e.g. {@code localhost} alone, for a client that connects to 127.0.0.1 and must refuse it).
     */
    public TestCertificates withServer(String name, String... hosts) {
        List<String> args = new ArrayList<>(List.of("server", dir.toString(), name));
        args.addAll(List.of(hosts));
        LocalServers.runScript(LocalServers.findRoot(), "tls-certs.sh", args, Map.of());
        return this;
    }

    /** The CA that signed the server certificate. */
    public Path ca() {
        return dir.resolve("ca.pem");
    }

    /** A CA that did not sign the server certificate. */
    public Path otherCa() {
        return dir.resolve("other").resolve("ca.pem");
    }

    /** The server certificate followed by the CA's (names 127.0.0.1 and localhost). */
    public Path serverCertificate() {
        return certificate("server");
    }

    /** The server certificate's private key (PKCS#8 PEM). */
    public Path serverKey() {
        return key("server");
    }

    /** The certificate (then the CA's) made as {@code name} (by {@link #withServer}, or "server"). */
    public Path certificate(String name) {
        return dir.resolve(name + ".pem");
    }

    /** The private key (PKCS#8 PEM) of the certificate made as {@code name}. */
    public Path key(String name) {
        return dir.resolve(name + ".key");
    }

    /** A TLS context that trusts only the CA in {@code caPem}, for a test's own client. */
    public static SSLContext trusting(Path caPem) {
        try (InputStream in = Files.newInputStream(caPem)) {
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            int i = 0;
            for (Certificate certificate :
                    CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca-" + i++, certificate);
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(trust);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, factory.getTrustManagers(), null);
            return context;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust " + caPem, e);
        }
    }
}
