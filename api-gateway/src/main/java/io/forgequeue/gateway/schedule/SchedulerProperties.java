package io.forgequeue.gateway.schedule;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The scheduler ({@code gateway.scheduler.*}); docs/scheduling.md explains each.
 *
 * @param enabled              whether this gateway may become the scheduler (at least one must)
 * @param policy               the order and placement rule: {@code fair} (priority classes, fair share between keys)
 *                             or {@code fifo} (submission order only, round 1's behaviour, for comparison)
 * @param lookahead            jobs handed to a worker beyond the one it runs, so it never waits for the scheduler
 * @param maxAttempts          a job handed out this many times without finishing fails with TOO_MANY_ATTEMPTS
 * @param leaseTtl             how long the leader's lease lasts without renewal (the failover time, about)
 * @param renewInterval        how often the leader renews its lease and the others try to take it
 * @param tick                 the dispatcher checks the fleet at least this often (it also wakes on every change)
 * @param fleetCheck           how often the dispatcher checks every assignment against its worker's reports
 *                             (hand-outs never received, attempts a worker runs that are not its own) when no worker
 *                             came, went, restarted, paused or fell silent meanwhile (then it checks at once);
 *                             hand-outs are decided on every change (0: the check too)
 * @param lowPriorityMaxWait   a {@code low} job that waited this long competes as {@code normal}
 * @param lostMessageGrace     an assignment is taken for lost when its worker reported twice that it holds nothing,
 *                             the first time at least this long after the assignment
 * @param goodbyeGrace         the running jobs of a worker that said goodbye go back to the queue after this (its last
 *                             event, published before the goodbye, travels through another queue and may come later)
 * @param stopRepeat           a worker still reporting a revoked or finished attempt is told again to stop it after this
 * @param reconnectGrace       after this gateway's broker connection came back, a worker is taken for lost only when it
 *                             stayed silent for this long plus the presence timeout: the outage cut the workers off
 *                             too, and they reconnect on their own schedule
 * @param maxBatch             most hand-outs committed by one statement (decisions of one round, taken together)
 * @param affinity             model-aware placement: how far it looks and how long a job may be passed over
 */
@Validated
@ConfigurationProperties("gateway.scheduler")
public record SchedulerProperties(
        @DefaultValue("true") boolean enabled,
        @DefaultValue("fair") @NotNull SchedulerPolicy policy,
        @DefaultValue("1") @Min(0) int lookahead,
        @DefaultValue("5") @Min(1) int maxAttempts,
        @DefaultValue("3s") @NotNull Duration leaseTtl,
        @DefaultValue("500ms") @NotNull Duration renewInterval,
        @DefaultValue("250ms") @NotNull Duration tick,
        @DefaultValue("250ms") @NotNull Duration fleetCheck,
        @DefaultValue("2m") @NotNull Duration lowPriorityMaxWait,
        @DefaultValue("1s") @NotNull Duration lostMessageGrace,
        @DefaultValue("5s") @NotNull Duration goodbyeGrace,
        @DefaultValue("5s") @NotNull Duration stopRepeat,
        @DefaultValue("10s") @NotNull Duration reconnectGrace,
        @DefaultValue("32") @Min(1) int maxBatch,
        @DefaultValue @Valid Affinity affinity) {

    public SchedulerProperties {
        if (renewInterval.compareTo(leaseTtl) >= 0) {
            throw new IllegalArgumentException("gateway.scheduler.renew-interval must be shorter than lease-ttl");
        }
    }

    /**
     * Model-aware placement ({@code gateway.scheduler.affinity.*}).
     *
     * @param lookahead          how many candidates (group heads in the policy's order) a placement looks at
     * @param maxPassOvers       a job passed over this often for jobs whose model a worker has loaded goes to the next
     *                           worker that can run it, switch or not
     * @param maxDelay           ... likewise once it was first passed over this long ago
     * @param defaultLoadSeconds assumed checkpoint load time of a worker that has not measured one yet
     */
    public record Affinity(
            @DefaultValue("32") @Min(1) int lookahead,
            @DefaultValue("4") @Min(0) int maxPassOvers,
            @DefaultValue("30s") @NotNull Duration maxDelay,
            @DefaultValue("10") double defaultLoadSeconds) {}

    /** GPU slots of one worker: the job it runs plus the lookahead. */
    int slotsPerWorker() {
        return 1 + lookahead;
    }
}
