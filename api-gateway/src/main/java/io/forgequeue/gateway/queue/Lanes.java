package io.forgequeue.gateway.queue;

import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.model.WorkerStatus;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The checkpoint lanes of one pool: for each checkpoint, when the available GPUs that will have it loaded can start
 * their next job. Under placement by checkpoint a GPU takes the jobs of the checkpoint it holds before the others, so
 * a job's start follows the GPUs of its lane more than its place in the pool's order (issue 17: the ETA "knows which
 * worker will run a job and whether it must load a model first"). Immutable; built from the workers' loads.
 */
public final class Lanes {

    /**
     * What one worker holds, as the scheduler counts it.
     *
     * @param worker       the worker
     * @param loadedNext   the checkpoint it will have loaded when it starts its next job: that of the job assigned to
     *                     it last, else the one it reported
     * @param busySeconds  seconds until it could start another job, from the costs of the jobs it holds (a running
     *                     one less the time it has run)
     * @param holding      jobs it holds (assigned or running, not yet done on its side)
     */
    public record WorkerLoad(FleetWorker worker, String loadedNext, double busySeconds, int holding) {

        /**
         * The load of {@code worker} holding {@code held}, each job taking its cost x {@code secondsPerUnit}; jobs
         * the worker said it moved on from are done on its side and do not count.
         */
        public static WorkerLoad of(
                FleetWorker worker, List<QueueIndex.Held> held, double secondsPerUnit, long nowMillis) {
            String loadedNext = worker.loadedCheckpoint();
            long latest = Long.MIN_VALUE;
            double busy = 0;
            int holding = 0;
            for (QueueIndex.Held h : held) {
                JobState s = h.job();
                if (worker.movedOn(s.id(), s.attempt())) {
                    continue; // the outcome's merge is on its way
                }
                holding++;
                if (s.checkpoint() != null && s.assignedAtMillis() >= latest) {
                    latest = s.assignedAtMillis();
                    loadedNext = s.checkpoint();
                }
                double seconds = s.cost() * secondsPerUnit;
                busy += h.running() ? Math.max(0, seconds - (nowMillis - s.startedAtMillis()) / 1000.0) : seconds;
            }
            return new WorkerLoad(worker, loadedNext, busy, holding);
        }
    }

    /**
     * The workers that have one checkpoint loaded: their busy seconds, ascending, and their sum. The dispatcher keeps
     * one per checkpoint for a round, the ETA one per checkpoint of a pool.
     */
    public record Lane(double[] busy, double total) {

        /** The lane of workers busy for {@code busySeconds} (any order; the array is sorted in place). */
        public static Lane of(double[] busySeconds) {
            double total = 0;
            for (double b : busySeconds) {
                total += b;
            }
            Arrays.sort(busySeconds);
            return new Lane(busySeconds, total);
        }

        public int count() {
            return busy.length;
        }

        /**
         * When the last of the first {@code jobs} waiting jobs of the checkpoint starts on these workers, each job
         * taking {@code jobSeconds}: the {@code jobs}-th soonest worker while there is one per job, else the work
         * spread over all of them.
         */
        public double lastStart(int jobs, double jobSeconds) {
            if (jobs <= busy.length) {
                return busy[Math.max(0, jobs - 1)];
            }
            return Math.max(busy[0], (total + (jobs - 1) * jobSeconds) / busy.length);
        }
    }

    /** Per canonical checkpoint, the workers that will have it loaded. */
    private final Map<String, Lane> holders;

    private final double soonest;

    private final List<WorkerLoad> loads;

    private Lanes(Map<String, Lane> holders, double soonest, List<WorkerLoad> loads) {
        this.holders = holders;
        this.soonest = soonest;
        this.loads = loads;
    }

    /** The lanes of these workers (the available workers of one pool). */
    public static Lanes of(List<WorkerLoad> loads) {
        Map<String, List<Double>> busy = new HashMap<>();
        double soonest = Double.POSITIVE_INFINITY;
        for (WorkerLoad load : loads) {
            soonest = Math.min(soonest, load.busySeconds());
            String lane = WorkerStatus.ForgeOffer.canonical(load.loadedNext());
            if (lane != null && load.worker().offersCheckpoint(load.loadedNext())) {
                busy.computeIfAbsent(lane, c -> new java.util.ArrayList<>()).add(load.busySeconds());
            }
        }
        Map<String, Lane> lanes = new HashMap<>();
        busy.forEach((lane, list) -> lanes.put(
                lane, Lane.of(list.stream().mapToDouble(Double::doubleValue).toArray())));
        return new Lanes(Map.copyOf(lanes), soonest, List.copyOf(loads));
    }

    /**
     * Seconds from now until a job of {@code checkpoint} with {@code ahead} jobs of the same checkpoint before it can
     * start on a GPU of its lane, each job taking {@code jobSeconds}: on the GPUs that will hold the checkpoint
     * ({@link Lane#lastStart}); when none does, on the GPU that frees up first, which then serves the lane alone (the
     * load itself is not counted here). Null without workers.
     */
    public Double startIn(String checkpoint, int ahead, double jobSeconds) {
        Lane lane = holders.get(WorkerStatus.ForgeOffer.canonical(checkpoint));
        if (lane != null) {
            return lane.lastStart(ahead + 1, jobSeconds);
        }
        return Double.isInfinite(soonest) ? null : soonest + ahead * jobSeconds;
    }

    /**
     * Seconds from now until a job of {@code checkpoint} starts when the waiting jobs {@code before} it start first,
     * in their order, each on the GPU that can start it soonest: the GPU's busy seconds, plus its measured load time
     * when it will hold another checkpoint then (the pool's mean for a checkpoint it never loaded; nothing when no GPU
     * measured one); each job then keeps its GPU busy for its cost x {@code secondsPerUnit}. GPUs that do not offer a
     * job's checkpoint do not take it. The plan the ETA follows near the head of the order (issue 17: it "knows which
     * worker will run a job and whether it must load a model first"). Null when no GPU offers the checkpoint.
     */
    public Double plannedStart(List<JobState> before, String checkpoint, double secondsPerUnit) {
        int n = loads.size();
        double[] free = new double[n];
        String[] holds = new String[n];
        for (int i = 0; i < n; i++) {
            free[i] = loads.get(i).busySeconds();
            holds[i] = WorkerStatus.ForgeOffer.canonical(loads.get(i).loadedNext());
        }
        Map<String, Double> poolLoads = new HashMap<>();
        for (JobState job : before) {
            int gpu = soonest(job.checkpoint(), free, holds, poolLoads);
            if (gpu >= 0) {
                free[gpu] = startOn(gpu, job.checkpoint(), free, holds, poolLoads) + job.cost() * secondsPerUnit;
                if (job.checkpoint() != null) {
                    holds[gpu] = WorkerStatus.ForgeOffer.canonical(job.checkpoint());
                }
            }
        }
        int gpu = soonest(checkpoint, free, holds, poolLoads);
        return gpu < 0 ? null : startOn(gpu, checkpoint, free, holds, poolLoads);
    }

    /** The GPU that can start a job of {@code checkpoint} soonest, or -1 when none offers it. */
    private int soonest(String checkpoint, double[] free, String[] holds, Map<String, Double> poolLoads) {
        int best = -1;
        double bestStart = Double.POSITIVE_INFINITY;
        for (int i = 0; i < free.length; i++) {
            if (checkpoint != null && !loads.get(i).worker().offersCheckpoint(checkpoint)) {
                continue;
            }
            double start = startOn(i, checkpoint, free, holds, poolLoads);
            if (start < bestStart) {
                bestStart = start;
                best = i;
            }
        }
        return best;
    }

    private double startOn(int gpu, String checkpoint, double[] free, String[] holds, Map<String, Double> poolLoads) {
        String lane = WorkerStatus.ForgeOffer.canonical(checkpoint);
        if (lane == null || lane.equals(holds[gpu])) {
            return free[gpu];
        }
        Double own = loads.get(gpu).worker().loadSeconds(checkpoint);
        return free[gpu] + (own != null ? own : poolLoads.computeIfAbsent(lane, c -> meanLoad(checkpoint)));
    }

    /** The mean of the GPUs' measured load times of {@code checkpoint}, 0 when none measured it. */
    private double meanLoad(String checkpoint) {
        return FleetWorker.meanLoadSeconds(loads.stream().map(WorkerLoad::worker), checkpoint)
                .orElse(0);
    }
}
