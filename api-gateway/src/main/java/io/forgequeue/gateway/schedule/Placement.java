package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.queue.JobState;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Which waiting job a worker with a free slot gets, given the policy's order of candidates (the heads of the
 * (key, checkpoint, sampler) groups the worker may run, best first). A checkpoint switch costs a real GPU far more
 * than a job (forge-api.md §9: Forge reloads the model from disk on every switch), so the rules differ in how they
 * trade the order against switches. One dispatcher, one rule per policy (configured, not separate code paths).
 */
enum Placement {

    /** The first candidate, whatever it costs (round 1's broker did this). */
    FIRST {
        @Override
        JobState choose(Slot worker, Context ctx) {
            List<JobState> c = ctx.candidates(worker);
            return c.isEmpty() ? null : c.get(0);
        }
    },

    /**
     * SwarmUI's rule (BackendHandler): a job whose model the worker has loaded, oldest first; else the model under
     * the most "pressure", {@code waiting jobs x 10 + seconds its oldest job waited}, and that model's oldest job.
     */
    SWARMUI {
        @Override
        JobState choose(Slot worker, Context ctx) {
            List<JobState> c = ctx.candidates(worker);
            for (JobState job : c) {
                if (!worker.needsSwitch(job)) {
                    return job;
                }
            }
            Map<String, Double> pressure = new HashMap<>();
            Map<String, JobState> oldest = new HashMap<>();
            long now = ctx.nowMillis();
            for (JobState job : c) {
                String key = Objects.toString(CheckpointKey.of(job.checkpoint()), "");
                oldest.merge(key, job, (a, b) -> a.queuedAtMillis() <= b.queuedAtMillis() ? a : b);
            }
            oldest.forEach((key, job) -> pressure.put(
                    key, ctx.waiting(job.checkpoint()) * 10.0 + Math.max(0, now - job.queuedAtMillis()) / 1000.0));
            return pressure.entrySet().stream()
                    .max(Map.Entry.comparingByValue())
                    .map(e -> oldest.get(e.getKey()))
                    .orElse(null);
        }
    },

    /**
     * InvokeAI's rule (session queue affinity): the first candidate, unless a job of the same key and priority
     * within the lookahead has its model loaded on this worker: then that one (the key keeps its turn).
     */
    INVOKEAI {
        @Override
        JobState choose(Slot worker, Context ctx) {
            List<JobState> c = ctx.candidates(worker);
            if (c.isEmpty()) {
                return null;
            }
            JobState first = c.get(0);
            if (!worker.needsSwitch(first)) {
                return first;
            }
            for (JobState job : c) {
                if (job.owner().equals(first.owner())
                        && job.priority() == first.priority()
                        && !worker.needsSwitch(job)) {
                    return job;
                }
            }
            return first;
        }
    },

    /**
     * Ours, from measured costs. A job passed over too often (or for too long) goes first. Else the first candidate
     * if it needs no switch here; else the first candidate within the lookahead that needs none (those before it wait,
     * counted as passed over, bounded); else, every candidate needing a switch here, the first one whose checkpoint's
     * waiting backlog the workers holding it would not all start before this one can load it: a switch only where it
     * saves waiting. A job a worker declines so stays idle is bounded by max-delay too.
     */
    COST_AWARE {
        @Override
        JobState choose(Slot worker, Context ctx) {
            List<JobState> c = ctx.candidates(worker);
            if (c.isEmpty()) {
                return null;
            }
            for (JobState job : c) {
                if (ctx.forced(job)) {
                    return job;
                }
            }
            JobState first = c.get(0);
            if (!worker.needsSwitch(first)) {
                return first;
            }
            for (int i = 1; i < c.size(); i++) {
                if (!worker.needsSwitch(c.get(i))) {
                    // per checkpoint, the candidates before this one that start before it
                    Map<String, Integer> ahead = new HashMap<>();
                    for (int k = 0; k < i; k++) {
                        JobState skipped = c.get(k);
                        int before = ahead.merge(CheckpointKey.of(skipped.checkpoint()), 1, Integer::sum) - 1;
                        if (!ctx.startsNoLaterElsewhere(skipped, before, worker)) {
                            ctx.passedOver(skipped);
                        }
                    }
                    return c.get(i);
                }
            }
            for (JobState job : c) {
                if (!ctx.cheaperElsewhere(job, worker)) {
                    return job;
                }
            }
            // this worker stays idle rather than switch for any of them: that delays them as passing over does, so
            // their wait counts against max-delay (a job declined by every idle worker was never "passed over" and
            // waited without bound; issue 17's mixed-fleet benchmark). Not against max-pass-overs: rounds come often.
            c.forEach(ctx::declined);
            return null;
        }
    };

    /** The job {@code worker} should get now, or null to give it nothing this round. */
    abstract JobState choose(Slot worker, Context ctx);

    /** What a placement rule may ask about the queue and the other workers. */
    interface Context {

        /** The candidates for this worker, best first in the policy's order (at most the lookahead). */
        List<JobState> candidates(Slot worker);

        /** Jobs waiting for {@code checkpoint} (null: jobs without one) in the pool. */
        int waiting(String checkpoint);

        /** Whether the job was passed over so often or so long that it must go to the next worker that can run it. */
        boolean forced(JobState job);

        /** The job was passed over for a later one (affinity). */
        void passedOver(JobState job);

        /**
         * A worker stayed idle rather than switch for the job (it would start sooner elsewhere): from the first time,
         * its wait counts against {@code max-delay}.
         */
        void declined(JobState job);

        /**
         * Whether the available workers that have the job's checkpoint loaded would start it no later than
         * {@code worker} can; for a worker that needs a switch, they must also start the checkpoint's whole waiting
         * backlog no later (else a switch here starts some of it sooner).
         */
        boolean cheaperElsewhere(JobState job, Slot worker);

        /**
         * Whether the job itself, with {@code ahead} jobs of its checkpoint before it, would start no later on the
         * workers that have its checkpoint loaded than on {@code worker} (after its work and the switch): passing it
         * over for a job that needs no switch here then delays nothing. Unlike {@link #cheaperElsewhere}, the rest of
         * the checkpoint's backlog does not count: a job at the head of a long backlog still goes to the next GPU
         * holding its checkpoint that frees up.
         */
        boolean startsNoLaterElsewhere(JobState job, int ahead, Slot worker);

        /** Now, in epoch milliseconds (PostgreSQL's clock is assumed close). */
        long nowMillis();
    }

    /** Canonical checkpoint names, null for jobs without one. */
    static final class CheckpointKey {

        private CheckpointKey() {}

        static String of(String checkpoint) {
            return io.forgequeue.model.WorkerStatus.ForgeOffer.canonical(checkpoint);
        }
    }
}
