package io.forgequeue.worker.forge;

import jakarta.validation.Valid;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.net.URI;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The Forge server this worker drives and the resilience policies around it ({@code worker.forge.*}).
 *
 * @param url            base URL of Forge (env {@code FORGE_URL}), e.g. {@code http://127.0.0.1:7861}
 * @param username       Basic auth user for {@code --api-auth} (env {@code FORGE_USERNAME}); blank for none
 * @param password       Basic auth password (env {@code FORGE_PASSWORD}); never logged
 * @param connectTimeout TCP connect timeout of every call
 * @param callTimeout    limit of one txt2img call (the read timeout and the Failsafe timeout); size it for the
 *                       slowest job including a first model load
 * @param pollTimeout    limit of the small calls: progress, interrupt, health probe
 * @param settleTimeout  after a txt2img was abandoned (timeout, dropped connection) and Forge still runs it, how long
 *                       to wait, once it is interrupted, for Forge to become idle (job_count 0) before the next
 *                       txt2img is sent
 * @param busyTimeout    how long a txt2img waits while Forge runs another client's job (a person in its web UI,
 *                       another API client) before the job is given back to the queue
 * @param retry          retries of transient failures
 * @param breaker        the circuit breaker in front of Forge
 * @param sslBundle      for an {@code https://} Forge: the Spring SSL bundle whose trust material verifies Forge's
 *                       certificate (env {@code WORKER_FORGE_SSL_BUNDLE}, e.g. {@code forge} with
 *                       {@code spring.ssl.bundle.pem.forge.truststore.certificate=file:/etc/forge-queue/ca.pem});
 *                       blank: the JVM's default trust store. The host name is always verified against the
 *                       certificate
 */
@Validated
@ConfigurationProperties("worker.forge")
public record ForgeProperties(
        @DefaultValue("http://127.0.0.1:7861") @NotNull URI url,
        String username,
        String password,
        @DefaultValue("5s") @NotNull Duration connectTimeout,
        @DefaultValue("180s") @NotNull Duration callTimeout,
        @DefaultValue("5s") @NotNull Duration pollTimeout,
        @DefaultValue("30s") @NotNull Duration settleTimeout,
        @DefaultValue("10m") @NotNull Duration busyTimeout,
        @DefaultValue @Valid Retry retry,
        @DefaultValue @Valid Breaker breaker,
        String sslBundle) {

    public ForgeProperties {
        username = username == null || username.isBlank() ? null : username;
        sslBundle = sslBundle == null || sslBundle.isBlank() ? null : sslBundle;
        password = password == null || password.isEmpty() ? null : password;
    }

    /** Whether calls carry Basic auth. */
    public boolean hasCredentials() {
        return username != null;
    }

    /** Whether Forge is reached over HTTPS. */
    public boolean isHttps() {
        return "https".equalsIgnoreCase(url.getScheme());
    }

    /** The URL without user info, safe to log and to report in events. */
    public String safeUrl() {
        return url.getScheme() + "://" + url.getHost() + (url.getPort() > 0 ? ":" + url.getPort() : "")
                + (url.getPath() == null ? "" : url.getPath());
    }

    /** Never prints the password. */
    @Override
    public String toString() {
        return "ForgeProperties[url=" + safeUrl() + ", username=" + username + ", password="
                + (password == null ? "none" : "****") + ", connectTimeout=" + connectTimeout + ", callTimeout="
                + callTimeout + ", pollTimeout=" + pollTimeout + ", settleTimeout=" + settleTimeout + ", busyTimeout="
                + busyTimeout + ", retry="
                + retry + ", breaker=" + breaker + ", sslBundle=" + sslBundle + "]";
    }

    /**
     * Retries with exponential backoff and jitter. Only transient failures are retried: a 500, a timeout, and
     * outages (connection refused or reset, 502/503/504). A 4xx, a validation error or an out-of-memory error is
     * never retried.
     *
     * @param maxRetries     retries of a failing call (500, timeout) before the job fails
     * @param delay          first backoff delay of a failing call
     * @param maxDelay       largest backoff delay of a failing call
     * @param jitter         random share (0..1) added to or taken from each delay
     * @param outageDelay    first backoff delay while Forge is unreachable; an outage is retried until the circuit
     *                       breaker opens, never until the job fails
     * @param outageMaxDelay largest backoff delay while Forge is unreachable
     */
    public record Retry(
            @DefaultValue("2") @Min(0) int maxRetries,
            @DefaultValue("1s") @NotNull Duration delay,
            @DefaultValue("10s") @NotNull Duration maxDelay,

            @DefaultValue("0.25") @DecimalMin("0") @DecimalMax("1")
            double jitter,

            @DefaultValue("1s") @NotNull Duration outageDelay,
            @DefaultValue("15s") @NotNull Duration outageMaxDelay) {}

    /**
     * The circuit breaker: it counts outages and timeouts (not job failures such as a 500 with a Python error).
     *
     * @param failureThreshold consecutive failures that open it
     * @param delay            how long it stays open before a trial call is let through (half-open)
     * @param successThreshold successful trial calls that close it again
     * @param probeInterval    how often the worker probes Forge's health while paused
     */
    public record Breaker(
            @DefaultValue("5") @Min(1) int failureThreshold,
            @DefaultValue("60s") @NotNull Duration delay,
            @DefaultValue("1") @Min(1) int successThreshold,
            @DefaultValue("5s") @NotNull Duration probeInterval) {}
}
