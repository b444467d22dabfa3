package io.forgequeue.worker.job;

import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.forge.ForgeProperties;
import io.forgequeue.worker.system.ThreadPools;
import io.forgequeue.worker.system.WorkerMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.core.MessageListenerContainer;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.connection.ConnectionListener;
import org.springframework.amqp.rabbit.listener.AsyncConsumerRestartedEvent;
import org.springframework.amqp.rabbit.listener.ConsumeOkEvent;
import org.springframework.amqp.rabbit.listener.RabbitListenerEndpointRegistry;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;
import org.springframework.stereotype.Component;

/**
 * Stops the job consumer while Forge is down and starts it again once Forge answers, and knows whether this worker
 * can receive a job right now ({@link #isConsuming()}).
 *
 * <p>Pausing: the listener has already cancelled its own consumer (so the job it gives back is not redelivered to
 * it) and returns; the container is then stopped on a separate thread, because stopping it from the listener
 * thread would wait for that very thread. While paused, Forge is probed through the circuit breaker every
 * {@code worker.forge.breaker.probe-interval}: rejected without a call while the breaker is open, then the trial
 * call when it half-opens; the first successful probe closes the breaker and restarts the container.
 *
 * <p>Consuming means more than a running container: the job consumer must be registered with the broker on this
 * worker's own queue ({@link ConsumeOkEvent}). The queue is exclusive to the consumer connection, so when that
 * connection drops the queue is gone until the container's consumer has reconnected and declared it again, while
 * the separate publisher connection may already be back. A worker that announced READY in that gap would have the
 * scheduler's job messages returned (each return costs the job an attempt). So a closed consumer connection or a
 * restarting consumer means "not consuming" until the broker confirms a new consumer. Thread-safe.
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
    /** The broker confirmed a consumer on this worker's queue, and neither it nor its connection failed since. */
    private final AtomicBoolean consumerUp = new AtomicBoolean();
    /** The connection the registered consumer uses, when known (a late shutdown of an older one changes nothing). */
    private volatile Object consumerConnection;

    private volatile boolean checkedAtStartup;
    /**
     * Stops and starts the job consumer's container off the listener thread ({@code worker-consumption}). Made ready
     * with this bean (its thread starts with the first task) and shut down when the bean is destroyed, not through a
     * SmartLifecycle: a lifecycle bean that depends on the listener registry would have Spring start the registry in
     * its phase and, on shutdown, stop this bean and the announcer (which depends on it) before the job container.
     */
    private final ThreadPoolTaskExecutor lifecycle =
            ThreadPools.executor("worker-consumption", 1, Integer.MAX_VALUE, new ThreadPoolExecutor.AbortPolicy());

    private final AmqpAdmin admin;
    private final String queueName;

    ConsumptionControl(
            RabbitListenerEndpointRegistry registry,
            ForgeClient forge,
            ForgeProperties forgeProps,
            ScheduledExecutorService workerScheduler,
            WorkerMetrics metrics,
            ShutdownGrace shutdown,
            AmqpAdmin admin,
            Queue jobQueue,
            ConnectionFactory connectionFactory,
            MeterRegistry meters) {
        this.registry = registry;
        ThreadPools.start(lifecycle, meters);
        this.admin = admin;
        this.queueName = jobQueue.getName();
        this.forge = forge;
        this.scheduler = workerScheduler;
        this.metrics = metrics;
        this.shutdown = shutdown;
        this.probeMillis = Math.max(10, forgeProps.breaker().probeInterval().toMillis());
        watchConsumerConnection(connectionFactory);
    }

    /**
     * Hears when the consumer connection (not the publisher connection: events and announcements use their own) shuts
     * down: this worker's queue went with it. The shutdown of a connection older than the registered consumer's (its
     * notice may come after the new consumer registered) changes nothing.
     */
    private void watchConsumerConnection(ConnectionFactory connectionFactory) {
        ConnectionListener listener = new ConnectionListener() {
            @Override
            public void onCreate(Connection connection) {
                // the consumer is not registered yet: its ConsumeOkEvent says when it is
            }

            @Override
            public void onShutDown(com.rabbitmq.client.ShutdownSignalException signal) {
                Object known = consumerConnection;
                if (known == null || known == signal.getReference()) {
                    consumerLost("the consumer connection closed");
                }
            }
        };
        connectionFactory.addConnectionListener(listener);
        ConnectionFactory publisher = connectionFactory.getPublisherConnectionFactory();
        if (publisher != null) {
            publisher.removeConnectionListener(listener); // added to both by addConnectionListener
        }
    }

    /** The broker registered a consumer: on this worker's job queue, it can receive jobs. */
    @EventListener
    void onConsumeOk(ConsumeOkEvent event) {
        if (!queueName.equals(event.getQueue())) {
            return;
        }
        consumerConnection = event.getSource() instanceof com.rabbitmq.client.DefaultConsumer consumer
                        && consumer.getChannel() != null
                ? consumer.getChannel().getConnection()
                : null;
        if (consumerUp.compareAndSet(false, true)) {
            log.debug("Job consumer registered on {}", queueName);
        }
    }

    /** The job consumer failed and is replaced; the new one is not registered yet. */
    @EventListener
    void onConsumerRestarted(AsyncConsumerRestartedEvent event) {
        if (event.getSource() == registry.getListenerContainer(JOBS_CONTAINER)) {
            consumerLost("the job consumer restarts");
        }
    }

    private void consumerLost(String why) {
        if (consumerUp.compareAndSet(true, false)) {
            log.warn("Job consumer lost ({}); taking no job until it is registered again", why);
        }
    }

    /**
     * At startup: a worker whose Forge does not answer takes no job (it announces PAUSED, so the scheduler hands it
     * nothing) until a probe succeeds.
     */
    @EventListener(ApplicationReadyEvent.class)
    void probeForgeAtStartup() {
        try {
            if (!forge.probe()) {
                log.warn(
                        "Forge does not answer at startup ({}); taking no job until it does", forge.lastProbeFailure());
                pauseUntilForgeAnswers();
            }
        } finally {
            checkedAtStartup = true;
        }
    }

    /** Whether the startup check of Forge is over (before it, this worker does not know whether it may take jobs). */
    boolean hasCheckedForgeAtStartup() {
        return checkedAtStartup;
    }

    /** Stops taking jobs until a health probe succeeds. Idempotent. */
    void pauseUntilForgeAnswers() {
        if (!paused.compareAndSet(false, true)) {
            return;
        }
        consumerUp.set(false); // the listener cancelled it, the container stops it; resuming registers a new one
        metrics.consuming(false);
        log.warn(
                "Job consumption PAUSED: Forge is unavailable (breaker {}); probing every {} ms",
                forge.breakerState(),
                probeMillis);
        lifecycle.execute(() -> container().stop());
        scheduleProbe();
    }

    boolean isPaused() {
        return paused.get();
    }

    /** Whether this worker can receive a job now: not paused, and its consumer is registered on its queue. */
    boolean isConsuming() {
        return isContainerRunning() && !paused.get() && consumerUp.get();
    }

    /** Whether the job container runs (it may be reconnecting its consumer). */
    boolean isContainerRunning() {
        MessageListenerContainer container = registry.getListenerContainer(JOBS_CONTAINER);
        return container != null && container.isRunning();
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
        lifecycle.shutdown();
    }
}
