package io.forgequeue.worker.system;

import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.concurrent.ScheduledExecutorService;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The worker's own threads: progress polling, heartbeats, the shutdown watchdog and Forge health probes. */
@Configuration(proxyBeanMethods = false)
public class SchedulingConfiguration {

    /**
     * A few daemon threads ({@code worker-sched-N}); every task on it is short or bounded by an HTTP timeout. Shut down
     * with the context; its queue is {@code executor_*{name="worker-sched"}}.
     */
    @Bean(destroyMethod = "shutdownNow")
    public ScheduledExecutorService workerScheduler(MeterRegistry meters) {
        return ThreadPools.start(ThreadPools.scheduler("worker-sched", 3), meters)
                .getScheduledExecutor();
    }

    @Bean
    public Clock clock() {
        return Clock.systemUTC();
    }
}
