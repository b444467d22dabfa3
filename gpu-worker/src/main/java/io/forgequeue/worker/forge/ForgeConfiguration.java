package io.forgequeue.worker.forge;

import dev.failsafe.CircuitBreaker;
import dev.failsafe.CircuitBreakerOpenException;
import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.RetryPolicy;
import dev.failsafe.RetryPolicyBuilder;
import dev.failsafe.Timeout;
import dev.failsafe.TimeoutExceededException;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The Forge client and its Failsafe policies, each built once from {@link ForgeProperties}. Failsafe policies and
 * executors are thread-safe; the breaker is shared by job calls and health probes.
 *
 * <p>Which failure goes where:
 * <ul>
 *   <li>outage (connection refused/reset, 502/503/504): retried with backoff without a count limit, until the
 *       breaker opens; then the job is given back to the queue, never failed;</li>
 *   <li>500 and timeouts of the small calls (progress, the settle wait after an abandoned call): retried
 *       {@code retry.max-retries} times (default 2), then the job fails (FORGE_ERROR / FORGE_TIMEOUT);</li>
 *   <li>the txt2img call timeout ({@code call-timeout}): NOT retried and NOT counted by the breaker. A
 *       job that needs longer than the limit needs it again on the next try, so each retry would hold the GPU for
 *       another full call timeout while everyone's jobs wait; and a user who sends such jobs on purpose must not be
 *       able to open the breaker, which pauses the worker for everyone. The job fails at once with FORGE_TIMEOUT.
 *       A Forge that really hangs is still noticed: the next attempt first reads its progress, and a progress call
 *       that gets no answer within {@code poll-timeout} (or an abandoned call Forge does not let go of within
 *       {@code settle-timeout}) counts for the breaker;</li>
 *   <li>out of memory: NOT retried. Forge already tries to recover inside the call (sliced attention, tiled VAE,
 *       forge-api.md §8); the same size on the same GPU runs out of memory again in nearly every case, and a retry
 *       costs a full generation while the whole queue waits. The job fails at once with FORGE_OUT_OF_MEMORY, whose
 *       message tells the user to ask for a smaller size or fewer images;</li>
 *   <li>401/403/404/422 and other 4xx, unreadable 200: never retried.</li>
 * </ul>
 * The breaker is for Forge outages only: connection failures, 502/503/504, and small calls that Forge, which answers
 * them without waiting for its generation lock, does not answer in time. A 500 with a Python error, an out-of-memory
 * error or a txt2img that outlasts the call timeout is an answer (or a non-answer) about one job, so it must not stop
 * the worker from consuming.
 */
@Configuration(proxyBeanMethods = false)
class ForgeConfiguration {

    private static final Logger log = LoggerFactory.getLogger(ForgeConfiguration.class);

    @Bean
    CircuitBreaker<Object> forgeCircuitBreaker(ForgeProperties props, WorkerMetrics metrics) {
        ForgeProperties.Breaker b = props.breaker();
        return CircuitBreaker.builder()
                .handleIf(ForgeConfiguration::saysForgeIsUnhealthy)
                .withFailureThreshold(b.failureThreshold())
                .withDelay(b.delay())
                .withSuccessThreshold(b.successThreshold())
                .onOpen(e -> {
                    log.warn(
                            "Forge circuit breaker OPEN after {} consecutive failures: the worker stops taking "
                                    + "jobs and probes {} every {}",
                            b.failureThreshold(),
                            props.safeUrl(),
                            b.probeInterval());
                    metrics.breakerState(2, "open");
                })
                .onHalfOpen(e -> {
                    log.warn("Forge circuit breaker HALF-OPEN: letting a trial call through");
                    metrics.breakerState(1, "half_open");
                })
                .onClose(e -> {
                    log.warn("Forge circuit breaker CLOSED: Forge answers again");
                    metrics.breakerState(0, "closed");
                })
                .build();
    }

    /** Limit of one txt2img call; interrupts the waiting thread, which drops the HTTP connection. */
    @Bean
    Timeout<Object> forgeCallTimeout(ForgeProperties props) {
        return Timeout.builder(props.callTimeout()).withInterrupt().build();
    }

    /** Outages are retried until the breaker opens (abortOn), then the job is handed back. */
    @Bean
    RetryPolicy<Object> forgeOutageRetry(ForgeProperties props, WorkerMetrics metrics) {
        ForgeProperties.Retry r = props.retry();
        RetryPolicyBuilder<Object> builder = RetryPolicy.builder()
                .handleIf(ForgeConfiguration::isOutage)
                .abortOn(CircuitBreakerOpenException.class)
                .withMaxRetries(-1)
                .withJitter(r.jitter())
                .onRetry(e -> {
                    log.warn(
                            "Forge unreachable ({}); retry {} of the call",
                            describe(e.getLastException()),
                            e.getAttemptCount());
                    metrics.forgeRetry("outage");
                });
        return backoff(builder, r.outageDelay(), r.outageMaxDelay()).build();
    }

    /** A 500 or a small call's timeout is retried a few times, then the job fails; a txt2img timeout is not. */
    @Bean
    RetryPolicy<Object> forgeFailureRetry(ForgeProperties props, WorkerMetrics metrics) {
        ForgeProperties.Retry r = props.retry();
        RetryPolicyBuilder<Object> builder = RetryPolicy.builder()
                .handleIf(ForgeConfiguration::isRetriedFailure)
                .withMaxRetries(r.maxRetries())
                .withJitter(r.jitter())
                .onRetry(e -> {
                    log.warn(
                            "Forge call failed ({}); retry {} of {}",
                            describe(e.getLastException()),
                            e.getAttemptCount(),
                            r.maxRetries());
                    metrics.forgeRetry("failure");
                });
        return backoff(builder, r.delay(), r.maxDelay()).build();
    }

    /**
     * Composition, outermost first: {@code OutageRetry(FailureRetry(CircuitBreaker(call)))} where
     * {@code call = settle-abandoned-call; Timeout(txt2img)}.
     * <ul>
     *   <li>the breaker sits inside both retries so that every retried attempt is counted by it, and once it is
     *       open the next attempt fails fast with CircuitBreakerOpenException, which ends the outage retries;</li>
     *   <li>the timeout is innermost and wraps only the HTTP call, so the settle step (bounded by its own limit)
     *       does not eat into it; the breaker and the retries let a {@link TimeoutExceededException} through
     *       untouched (see the class comment).</li>
     * </ul>
     * Health probes use the same breaker alone: {@code CircuitBreaker(GET /progress)}.
     */
    @Bean
    ForgeClient forgeClient(
            ForgeProperties props,
            WireJson wireJson,
            WorkerMetrics metrics,
            RetryPolicy<Object> forgeOutageRetry,
            RetryPolicy<Object> forgeFailureRetry,
            CircuitBreaker<Object> forgeCircuitBreaker,
            Timeout<Object> forgeCallTimeout,
            ModelProperties modelProps,
            SslBundles sslBundles) {
        FailsafeExecutor<Object> jobCalls = Failsafe.with(forgeOutageRetry, forgeFailureRetry, forgeCircuitBreaker);
        FailsafeExecutor<Object> timedCall = Failsafe.with(forgeCallTimeout);
        FailsafeExecutor<Object> probes = Failsafe.with(forgeCircuitBreaker);
        ForgeIdentity identity = ForgeIdentity.of(props.url(), ForgeIdentity.localHostName());
        log.info(
                "Forge client for {} (identity {}; call timeout {} ms, breaker opens after {} failures for {} ms)",
                props.safeUrl(),
                identity,
                props.callTimeout().toMillis(),
                props.breaker().failureThreshold(),
                props.breaker().delay().toMillis());
        warnAboutTransport(props);
        SSLContext tls = props.sslBundle() == null
                ? null
                : sslBundles.getBundle(props.sslBundle()).createSslContext();
        return new ForgeClient(
                new ForgeApi(props, wireJson.mapper(), tls),
                jobCalls,
                timedCall,
                probes,
                forgeCircuitBreaker,
                props,
                metrics,
                wireJson.mapper(),
                identity,
                modelProps);
    }

    /**
     * Forge's Basic auth travels in every request: over plain HTTP anyone on the path reads the password. A WARN at
     * startup rather than a refusal, because Forge on the same machine (loopback) is common and safe, and a worker
     * that refuses to start is worse than a loud line; an SSL bundle that an http URL ignores is a mistake too.
     */
    static void warnAboutTransport(ForgeProperties props) {
        if (props.hasCredentials() && !props.isHttps()) {
            log.warn(
                    "SECURITY: Forge credentials (worker.forge.username/password) are sent in clear text to {}: "
                            + "put Forge behind HTTPS (worker.forge.url=https://..., worker.forge.ssl-bundle) unless it runs "
                            + "on this machine; see docs/security-tls.md",
                    props.safeUrl());
        }
        if (props.sslBundle() != null && !props.isHttps()) {
            log.warn(
                    "worker.forge.ssl-bundle={} is set but Forge is reached over plain HTTP ({}): the bundle is not "
                            + "used",
                    props.sslBundle(),
                    props.safeUrl());
        }
    }

    static boolean isOutage(Throwable t) {
        return t instanceof ForgeException e && e.failure().isOutage();
    }

    /** The txt2img call timeout ({@link TimeoutExceededException}) is about the job: never retried. */
    static boolean isRetriedFailure(Throwable t) {
        return t instanceof ForgeException e && e.failure().isRetriedFailure();
    }

    /** The txt2img call timeout ({@link TimeoutExceededException}) is about the job: never counted. */
    static boolean saysForgeIsUnhealthy(Throwable t) {
        return t instanceof ForgeException e && e.failure().countsForBreaker();
    }

    private static RetryPolicyBuilder<Object> backoff(RetryPolicyBuilder<Object> b, Duration delay, Duration max) {
        return max.compareTo(delay) > 0 ? b.withBackoff(delay, max) : b.withDelay(delay);
    }

    private static String describe(Throwable t) {
        if (t == null) {
            return "unknown";
        }
        return t instanceof TimeoutExceededException ? "timeout" : t.getMessage();
    }
}
