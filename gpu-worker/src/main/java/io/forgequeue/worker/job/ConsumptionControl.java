package io.forgequeue.worker.job;

import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.forge.ForgeProperties;
import io.forgequeue.worker.system.WorkerMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.core.MessageListenerContainer;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.rabbit.listener.RabbitListenerEndpointRegistry;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Stops the job consumer while Forge is down and starts it again once Forge answers.
 *
 * <p>Pausing: the listener has already cancelled its own consumer (so the job it gives back is not redelivered to
 * it) and returns; the container is then stopped on a separate thread, because stopping it from the listener
 * thread would wait for that very thread. While paused, Forge is probed through the circuit breaker every
 * {@code worker.forge.breaker.probe-interval}: rejected without a call while the breaker is open, then the trial
 * call when it half-opens; the first successful probe closes the breaker and restarts the container. Thread-safe.
 */
@Component
class ConsumptionControl implements DisposableBean {

    static final String JOBS_CONTAINER = "jobs";

    private static final Logger log = LoggerFactory.getLogger(ConsumptionControl.class);

    private final RabbitListenerEndpointRegistry registry;
    private final ForgeClient forge;
    private final ScheduledExecutorService scheduler;
    private final WorkerMetrics metrics;
    private final ShutdownGrace shutdown;
    private final long probeMillis;
    private final AtomicBoolean paused = new AtomicBoolean();
    private final ExecutorService lifecycle = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "worker-consumption");
        t.setDaemon(true);
        return t;
    });

    private final AmqpAdmin admin;
    private final String queueName;

    ConsumptionControl(RabbitListenerEndpointRegistry registry, ForgeClient forge, ForgeProperties forgeProps,
                       ScheduledExecutorService workerScheduler, WorkerMetrics metrics, ShutdownGrace shutdown,
                       AmqpAdmin admin, Queue jobQueue) {
        this.registry = registry;
        this.admin = admin;
        this.queueName = jobQueue.getName();
        this.forge = forge;
        this.scheduler = workerScheduler;
        this.metrics = metrics;
        this.shutdown = shutdown;
        this.probeMillis = Math.max(10, forgeProps.breaker().probeInterval().toMillis());
    }

    /**
     * At startup: a worker whose Forge does not answer takes no job (it announces PAUSED, so the scheduler hands it
     * nothing) until a probe succeeds.
     */
    @org.springframework.context.event.EventListener(org.springframework.boot.context.event.ApplicationReadyEvent.class)
    void probeForgeAtStartup() {
        if (!forge.probe()) {
            log.warn("Forge does not answer at startup; taking no job until it does");
            pauseUntilForgeAnswers();
        }
    }

    /** Stops taking jobs until a health probe succeeds. Idempotent. */
    void pauseUntilForgeAnswers() {
        if (!paused.compareAndSet(false, true)) {
            return;
        }
        metrics.consuming(false);
        log.warn("Job consumption PAUSED: Forge is unavailable (breaker {}); probing every {} ms",
                forge.breakerState(), probeMillis);
        lifecycle.execute(() -> container().stop());
        scheduleProbe();
    }

    boolean isPaused() {
        return paused.get();
    }

    /** Whether the job consumer runs (this worker can receive a job now). */
    boolean isConsuming() {
        MessageListenerContainer container = registry.getListenerContainer(JOBS_CONTAINER);
        return container != null && container.isRunning() && !paused.get();
    }

    private void scheduleProbe() {
        if (shutdown.isStopping()) {
            return;
        }
        try {
            scheduler.schedule(this::probe, probeMillis, TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            log.debug("Probe not scheduled: {}", e.getMessage());
        }
    }

    private void probe() {
        if (shutdown.isStopping()) {
            return;
        }
        if (forge.probe()) {
            lifecycle.execute(this::resume);
        } else {
            scheduleProbe();
        }
    }

    private void resume() {
        if (shutdown.isStopping()) {
            return;
        }
        // What waits in this worker's queue was assigned before the pause; the scheduler took it back when this
        // worker announced PAUSED (or will, seeing that it never ran): drop it rather than run it as a revoked attempt.
        try {
            int purged = admin.purgeQueue(queueName);
            if (purged > 0) {
                log.info("Dropped {} job message(s) assigned before the pause", purged);
            }
        } catch (RuntimeException e) {
            log.debug("Own queue not purged: {}", e.getMessage());
        }
        container().start();
        paused.set(false);
        metrics.consuming(true);
        log.warn("Job consumption RESUMED: Forge answers again (breaker {})", forge.breakerState());
    }

    private MessageListenerContainer container() {
        MessageListenerContainer container = registry.getListenerContainer(JOBS_CONTAINER);
        if (container == null) {
            throw new IllegalStateException("No listener container " + JOBS_CONTAINER);
        }
        return container;
    }

    @Override
    public void destroy() {
        lifecycle.shutdownNow();
    }
}
