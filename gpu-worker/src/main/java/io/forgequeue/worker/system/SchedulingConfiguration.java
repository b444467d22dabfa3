package io.forgequeue.worker.system;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.time.Clock;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/** The worker's own threads: progress polling, heartbeats, the shutdown watchdog and Forge health probes. */
@Configuration(proxyBeanMethods = false)
public class SchedulingConfiguration {

    /** A few daemon threads; every task on it is short or bounded by an HTTP timeout. */
    @Bean(destroyMethod = "shutdownNow")
    public ScheduledExecutorService workerScheduler() {
        AtomicInteger n = new AtomicInteger();
        ThreadFactory threads = r -> {
            Thread t = new Thread(r, "worker-sched-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        return Executors.newScheduledThreadPool(3, threads);
    }

    @Bean
    public Clock clock() {
        return Clock.systemUTC();
    }
}
