package io.forgequeue.gateway.job;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.stereotype.Service;

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
        return jobs.find(owner, jobId).map(views::toView);
    }

    /** The owner's QUEUED and RUNNING jobs, oldest first. */
    public List<JobView> inFlight(UUID owner) {
        return jobs.inFlight(owner).stream().map(views::toView).toList();
    }

    /** The current version of each of these jobs that exists (a cheap check before reading whole jobs). */
    public List<JobVersion> versions(Collection<UUID> jobIds) {
        return jobIds.isEmpty() ? List.of() : jobs.versions(jobIds);
    }

    /**
     * The versions of the owners' jobs that are QUEUED or RUNNING or have a ticket above {@code afterTicket}
     * (created after the ticket watermark {@code afterTicket} was read).
     */
    public List<JobVersion> inFlightOrNewer(Collection<UUID> owners, long afterTicket) {
        return owners.isEmpty() ? List.of() : jobs.inFlightOrNewer(owners, afterTicket);
    }

    /**
     * The highest ticket handed out so far, committed or not: every job created after this call gets a higher one.
     */
    public long ticketWatermark() {
        return jobs.ticketWatermark();
    }

    /** A job's owner and current version. */
    public record JobVersion(UUID id, UUID ownerKeyId, long version) {}
}
