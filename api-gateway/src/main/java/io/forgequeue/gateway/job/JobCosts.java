package io.forgequeue.gateway.job;

import io.forgequeue.model.JobSpec;
import org.springframework.stereotype.Component;

/**
 * A job's size for the fair-share tags: its work in standard images (one 512x512 image at 20 steps), from pixels x
 * steps x images, known exactly at submission. A key's huge jobs therefore count as more than its small ones, and a
 * batch's place does not depend on how well the gateway could guess seconds at that moment. When a job ends, its key's
 * clock is corrected by the GPU seconds it really took, converted with the pool's measured seconds per standard image,
 * so a key whose jobs are slower per image (a heavier checkpoint) is charged for it.
 */
@Component
class JobCosts {

    private static final double STANDARD = 512.0 * 512.0 * 20.0;

    /** The job's size in standard images (at least a tiny positive amount). */
    double estimate(String pool, JobSpec spec) {
        return Math.max(0.001, units(spec));
    }

    /** The job's size in standard images. */
    static double units(JobSpec spec) {
        return (double) spec.width() * spec.height() * spec.steps() * Math.max(1, spec.batchSize()) / STANDARD;
    }
}
