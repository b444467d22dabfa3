package io.forgequeue.gateway.job;

import org.springframework.stereotype.Service;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** Read access to an owner's jobs for other features (the WebSocket relay's snapshots). */
@Service
public class JobQueries {

    private final JobRepository jobs;
    private final JobViews views;

    JobQueries(JobRepository jobs, JobViews views) {
        this.jobs = jobs;
        this.views = views;
    }

    /** The owner's job, or empty when it does not exist or belongs to another key (indistinguishable). */
    public Optional<JobView> find(UUID owner, UUID jobId) {
        return jobs.find(owner, jobId).map(p -> views.toView(p.row(), p.position()));
    }

    /** The owner's QUEUED and RUNNING jobs, oldest first. */
    public List<JobView> inFlight(UUID owner) {
        return jobs.inFlight(owner).stream().map(p -> views.toView(p.row(), p.position())).toList();
    }
}
