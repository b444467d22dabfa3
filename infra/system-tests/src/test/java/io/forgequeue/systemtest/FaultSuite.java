package io.forgequeue.systemtest;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A class of the reliability suite: its scenarios run in order on one system of its own, started when the first
 * scenario asks for it ({@link #rig()}) and stopped after the last; each scenario adds a line to the suite's summary.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@ExtendWith(ReliabilitySummary.class)
abstract class FaultSuite {

    /** forge-sim as most scenarios run it: realistic 40 ms steps, no model load, a preview every 5 steps. */
    static final String[] STEADY_FORGE = {"--step-ms", "40", "--model-load-ms", "0", "--preview-every", "5"};

    private FaultRig rig;

    /** The system this class's scenarios share, as a builder; called once. */
    abstract ForgeQueueSystem.Builder system();

    /** The running system with its instruments, started on first use. */
    final FaultRig rig() {
        if (rig == null) {
            rig = new FaultRig(system());
        }
        return rig;
    }

    @AfterAll
    final void stopRig() {
        if (rig != null) {
            rig.close();
        }
    }
}
