package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Issue 19: Forge's Basic auth over plain HTTP is said loudly at startup. */
class ForgeTransportWarningTest {

    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(ForgeConfiguration.class);

    @BeforeEach
    void listen() {
        logged.start();
        logger.addAppender(logged);
    }

    @AfterEach
    void stopListening() {
        logger.detachAppender(logged);
    }

    @Test
    void warnsAtStartupWhenCredentialsGoToAnHttpForge() {
        ForgeConfiguration.warnAboutTransport(props("http://gpu-box.example:7861", "forge", "secret", null));

        assertThat(logged.list).singleElement().satisfies(e -> {
            assertThat(e.getLevel()).isEqualTo(Level.WARN);
            assertThat(e.getFormattedMessage())
                    .contains("SECURITY", "clear text", "http://gpu-box.example:7861", "https")
                    .doesNotContain("secret");
        });
    }

    @Test
    void saysNothingForCredentialsOverHttpsOrForAnHttpForgeWithoutCredentials() {
        ForgeConfiguration.warnAboutTransport(props("https://gpu-box.example:7861", "forge", "secret", "forge"));
        ForgeConfiguration.warnAboutTransport(props("http://127.0.0.1:7861", null, null, null));

        assertThat(logged.list).isEmpty();
    }

    @Test
    void warnsThatAnSslBundleIsUnusedForAnHttpForge() {
        ForgeConfiguration.warnAboutTransport(props("http://127.0.0.1:7861", null, null, "forge"));

        assertThat(logged.list)
                .singleElement()
                .satisfies(
                        e -> assertThat(e.getFormattedMessage()).contains("worker.forge.ssl-bundle=forge", "not used"));
    }

    private static ForgeProperties props(String url, String user, String password, String sslBundle) {
        return new ForgeProperties(
                URI.create(url),
                user,
                password,
                Duration.ofSeconds(1),
                Duration.ofSeconds(5),
                Duration.ofSeconds(1),
                Duration.ofSeconds(1),
                Duration.ofSeconds(1),
                new ForgeProperties.Retry(
                        2,
                        Duration.ofMillis(10),
                        Duration.ofMillis(20),
                        0,
                        Duration.ofMillis(10),
                        Duration.ofMillis(20)),
                new ForgeProperties.Breaker(5, Duration.ofSeconds(1), 1, Duration.ofMillis(10)),
                sslBundle);
    }
}
