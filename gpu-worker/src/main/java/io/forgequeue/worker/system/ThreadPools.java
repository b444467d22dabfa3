package io.forgequeue.worker.system;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.jvm.ExecutorServiceMetrics;
import java.util.concurrent.RejectedExecutionHandler;
import org.springframework.context.SmartLifecycle;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;

/**
 * The worker's own thread pools, each owned by one component: named (threads {@code <name>-N}, daemon), created
 * unstarted with the component, started and shut down by the component's {@link SmartLifecycle} ({@link #start},
 * {@code shutdown()}) or bean lifecycle, and measured by Micrometer's {@link ExecutorServiceMetrics} ({@code executor_*} meters, tag
 * {@code name} = the pool's name; listed in docs/metrics.md). The pools are deliberately not beans: a bean of type
 * {@code Executor} or {@code TaskScheduler} would replace Boot's {@code applicationTaskExecutor} and the scheduler of
 * the {@code @Scheduled} methods.
 */
public final class ThreadPools {
    // the gateway has the same class (io.forgequeue.gateway.system.ThreadPools): the apps share no code

    private ThreadPools() {}

    /** A scheduler of {@code threads} threads named {@code <name>-N}, not started yet. */
    public static ThreadPoolTaskScheduler scheduler(String name, int threads) {
        ThreadPoolTaskScheduler pool = new ThreadPoolTaskScheduler();
        pool.setPoolSize(threads);
        pool.setThreadNamePrefix(name + "-");
        pool.setDaemon(true);
        pool.setBeanName(name);
        pool.setRemoveOnCancelPolicy(true);
        return pool;
    }

    /**
     * An executor of {@code threads} threads named {@code <name>-N} holding up to {@code queueCapacity} waiting tasks
     * (a task beyond that goes to {@code whenFull}), not started yet.
     */
    public static ThreadPoolTaskExecutor executor(
            String name, int threads, int queueCapacity, RejectedExecutionHandler whenFull) {
        ThreadPoolTaskExecutor pool = new ThreadPoolTaskExecutor();
        pool.setCorePoolSize(threads);
        pool.setMaxPoolSize(threads);
        pool.setQueueCapacity(queueCapacity);
        pool.setThreadNamePrefix(name + "-");
        pool.setDaemon(true);
        pool.setBeanName(name);
        pool.setRejectedExecutionHandler(whenFull);
        return pool;
    }

    /** Starts a scheduler from {@link #scheduler} and exposes its queue as {@code executor_*{name}}. */
    public static ThreadPoolTaskScheduler start(ThreadPoolTaskScheduler pool, MeterRegistry meters) {
        pool.initialize();
        new ExecutorServiceMetrics(
                        pool.getScheduledThreadPoolExecutor(), name(pool.getThreadNamePrefix()), Tags.empty())
                .bindTo(meters);
        return pool;
    }

    /** Starts an executor from {@link #executor} and exposes its queue as {@code executor_*{name}}. */
    public static ThreadPoolTaskExecutor start(ThreadPoolTaskExecutor pool, MeterRegistry meters) {
        pool.initialize();
        new ExecutorServiceMetrics(pool.getThreadPoolExecutor(), name(pool.getThreadNamePrefix()), Tags.empty())
                .bindTo(meters);
        return pool;
    }

    private static String name(String prefix) {
        return prefix.substring(0, prefix.length() - 1);
    }
}
