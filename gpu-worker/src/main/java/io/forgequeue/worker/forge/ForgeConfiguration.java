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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.time.Duration;

/**
 * The Forge client and its Failsafe policies, each built once from {@link ForgeProperties}. Failsafe policies and
 * executors are thread-safe; the breaker is shared by job calls and health probes.
 *
 * <p>Which failure goes where:
 * <ul>
 *   <li>outage (connection refused/reset, 502/503/504): retried with backoff without a count limit, until the
 *       breaker opens; then the job is given back to the queue, never failed;</li>
 *   <li>500 and timeouts: retried {@code retry.max-retries} times (default 2), then the job fails
 *       (FORGE_ERROR / FORGE_TIMEOUT);</li>
 *   <li>out of memory: NOT retried. Forge already tries to recover inside the call (sliced attention, tiled VAE,
 *       forge-api.md §8); the same size on the same GPU runs out of memory again in nearly every case, and a retry
 *       costs a full generation while the whole queue waits. The job fails at once with FORGE_OUT_OF_MEMORY, whose
 *       message tells the user to ask for a smaller size or fewer images;</li>
 *   <li>401/403/404/422 and other 4xx, unreadable 200: never retried.</li>
 * </ul>
 * The breaker counts outages and timeouts only: a 500 with a Python error or an out-of-memory error is an answer
 * from a healthy server about one job, so it must not stop the worker from consuming.
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
                    log.warn("Forge circuit breaker OPEN after {} consecutive failures: the worker stops taking "
                            + "jobs and probes {} every {}", b.failureThreshold(), props.safeUrl(), b.probeInterval());
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
                    log.warn("Forge unreachable ({}); retry {} of the call", describe(e.getLastException()),
                            e.getAttemptCount());
                    metrics.forgeRetry("outage");
                });
        return backoff(builder, r.outageDelay(), r.outageMaxDelay()).build();
    }

    /** A 500 or a timeout is retried a few times, then the job fails. */
    @Bean
    RetryPolicy<Object> forgeFailureRetry(ForgeProperties props, WorkerMetrics metrics) {
        ForgeProperties.Retry r = props.retry();
        RetryPolicyBuilder<Object> builder = RetryPolicy.builder()
                .handleIf(ForgeConfiguration::isRetriedFailure)
                .withMaxRetries(r.maxRetries())
                .withJitter(r.jitter())
                .onRetry(e -> {
                    log.warn("Forge call failed ({}); retry {} of {}", describe(e.getLastException()),
                            e.getAttemptCount(), r.maxRetries());
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
     *       does not eat into it and a timeout counts as one breaker failure.</li>
     * </ul>
     * Health probes use the same breaker alone: {@code CircuitBreaker(GET /progress)}.
     */
    @Bean
    ForgeClient forgeClient(ForgeProperties props, WireJson wireJson, WorkerMetrics metrics,
                            RetryPolicy<Object> forgeOutageRetry, RetryPolicy<Object> forgeFailureRetry,
                            CircuitBreaker<Object> forgeCircuitBreaker, Timeout<Object> forgeCallTimeout,
                            ModelProperties modelProps) {
        FailsafeExecutor<Object> jobCalls = Failsafe.with(forgeOutageRetry, forgeFailureRetry, forgeCircuitBreaker);
        FailsafeExecutor<Object> timedCall = Failsafe.with(forgeCallTimeout);
        FailsafeExecutor<Object> probes = Failsafe.with(forgeCircuitBreaker);
        ForgeIdentity identity = ForgeIdentity.of(props.url(), ForgeIdentity.localHostName());
        log.info("Forge client for {} (identity {}; call timeout {} ms, breaker opens after {} failures for {} ms)",
                props.safeUrl(), identity, props.callTimeout().toMillis(), props.breaker().failureThreshold(),
                props.breaker().delay().toMillis());
        return new ForgeClient(new ForgeApi(props, wireJson.mapper()), jobCalls, timedCall, probes,
                forgeCircuitBreaker, props, metrics, wireJson.mapper(), identity, modelProps);
    }

    static boolean isOutage(Throwable t) {
        return t instanceof ForgeException e && e.failure().isOutage();
    }

    static boolean isRetriedFailure(Throwable t) {
        return t instanceof TimeoutExceededException || t instanceof ForgeException e && e.failure().isRetriedFailure();
    }

    static boolean saysForgeIsUnhealthy(Throwable t) {
        return t instanceof TimeoutExceededException || t instanceof ForgeException e && e.failure().countsForBreaker();
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
