package io.forgequeue.bench;

import java.util.List;
import java.util.Map;

/**
 * The fleet figures of the mixed-fleet scenario (infra/bench/README.md, "mixed" defines each), from every
 * forge-sim's own stats, reset when the measured load starts. Pure: no I/O, so the definitions are unit-tested. The
 * per-key figures (waits, Jain's index, ETA error) are {@link FairnessFigures}'.
 */
final class MixedFigures {

    /**
     * One GPU (one forge-sim) over the scenario.
     *
     * @param generatingMicros busy time not spent loading checkpoints
     * @param loadingMicros    busy time spent loading checkpoints
     * @param loads            checkpoint loads
     * @param loadedAtStart    whether a checkpoint was loaded when the scenario started (else its first load is no
     *                         switch: a GPU that held nothing must load something whatever the scheduler does)
     */
    record Gpu(long generatingMicros, long loadingMicros, long loads, boolean loadedAtStart) {

        long switches() {
            return loadedAtStart || loads == 0 ? loads : loads - 1;
        }
    }

    /**
     * The fleet's figures.
     *
     * @param usefulShare    time generating / (GPUs x wall), 0-1: the "useful GPU share"
     * @param loadingShare   time loading checkpoints / (GPUs x wall), 0-1
     * @param switches       checkpoint switches of all GPUs together
     * @param switchesPer100 switches per 100 jobs
     * @param wallSeconds    the wall time the shares are of
     */
    record Fleet(double usefulShare, double loadingShare, long switches, double switchesPer100, double wallSeconds) {}

    private MixedFigures() {}

    /**
     * @param gpus        every GPU of the fleet, busy or not
     * @param jobs        jobs run
     * @param wallSeconds from the first submission to the last job's end
     */
    static Fleet fleet(List<Gpu> gpus, int jobs, double wallSeconds) {
        double capacityMicros = gpus.size() * wallSeconds * 1e6;
        long generating = gpus.stream().mapToLong(Gpu::generatingMicros).sum();
        long loading = gpus.stream().mapToLong(Gpu::loadingMicros).sum();
        long switches = gpus.stream().mapToLong(Gpu::switches).sum();
        return new Fleet(
                capacityMicros > 0 ? generating / capacityMicros : Double.NaN,
                capacityMicros > 0 ? loading / capacityMicros : Double.NaN,
                switches,
                jobs > 0 ? switches * 100.0 / jobs : Double.NaN,
                wallSeconds);
    }

    /**
     * The goals between the policies, as figures of {@code ours}: its useful share at least {@code factor}
     * times the {@code baseline}'s, and above each of the {@code peers}'. A policy that did not run has no figure.
     */
    static List<Figure> comparison(
            Map<String, Double> usefulByPolicy, String ours, String baseline, double factor, List<String> peers) {
        Double own = usefulByPolicy.get(ours);
        if (own == null) {
            return List.of();
        }
        java.util.ArrayList<Figure> out = new java.util.ArrayList<>();
        Double base = usefulByPolicy.get(baseline);
        if (base != null) {
            out.add(Figure.atLeast(
                    "mixed",
                    "useful GPU share, " + ours + " / " + baseline,
                    DutyScenario.round(own / base, 2),
                    "×",
                    factor));
        }
        for (String peer : peers) {
            Double other = usefulByPolicy.get(peer);
            if (other != null) {
                out.add(Figure.above(
                        "mixed",
                        "useful GPU share, " + ours + " / " + peer,
                        DutyScenario.round(own / other, 2),
                        "×",
                        1.0));
            }
        }
        return out;
    }
}
