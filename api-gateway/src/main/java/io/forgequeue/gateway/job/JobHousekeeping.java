package io.forgequeue.gateway.job;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/** Forgets expired Idempotency-Keys (any instance may run it; deleting twice is harmless). */
@Component
class JobHousekeeping {

    private static final Logger log = LoggerFactory.getLogger(JobHousekeeping.class);

    private final JobRepository jobs;
    private final JobProperties properties;

    JobHousekeeping(JobRepository jobs, JobProperties properties) {
        this.jobs = jobs;
        this.properties = properties;
    }

    @Scheduled(
            fixedDelayString = "${gateway.jobs.housekeeping-interval:10m}",
            initialDelayString = "${gateway.jobs.housekeeping-interval:10m}")
    void purge() {
        try {
            int removed = jobs.purgeIdempotencyKeys(properties.idempotencyRetention());
            if (removed > 0) {
                log.debug("Removed {} expired idempotency keys", removed);
            }
        } catch (DataAccessException e) {
            log.warn("Idempotency key purge failed: {}", e.getClass().getSimpleName());
        }
    }
}
