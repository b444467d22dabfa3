package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The hold plan's bookkeeping, without calls: what a call that took a counted hold does when it reaches its step. */
class FaultPlanTest {

    /**
     * A call takes its counted hold when it starts and reaches the step later; a clear in between (the plan is gone)
     * must not leave it held until the next clear. The scheduling system test lets the GPUs run with a clear right
     * after releasing one, and the lookahead job that had just started was held for minutes.
     */
    @Test
    void aCallThatTookACountedHoldBeforeAClearIsNotHeldWhenItReachesItsStep() {
        FaultPlan plan = new FaultPlan();
        plan.hold(OptionalInt.of(1), 1);
        FaultPlan.CallHold call = plan.takeHold(-1);

        plan.clear();

        assertThat(within(plan, call)).as("held").isFalse();
    }

    @Test
    void aCallThatTookACountedHoldIsStillHeldAfterAReleaseOfTheCallsHeldBeforeIt() throws Exception {
        FaultPlan plan = new FaultPlan();
        plan.hold(OptionalInt.of(1), 1);
        FaultPlan.CallHold call = plan.takeHold(-1);
        plan.releaseHeld();

        CompletableFuture<Boolean> held = CompletableFuture.supplyAsync(() -> holdAt(plan, call));
        Thread.sleep(100);
        assertThat(held).as("still held").isNotDone();
        plan.releaseHeld();

        assertThat(held.get(10, TimeUnit.SECONDS)).isTrue();
    }

    private static boolean within(FaultPlan plan, FaultPlan.CallHold call) {
        try {
            return CompletableFuture.supplyAsync(() -> holdAt(plan, call)).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("the call was still held after 10 s", e);
        }
    }

    private static boolean holdAt(FaultPlan plan, FaultPlan.CallHold call) {
        try {
            return plan.holdAt(call, 1, () -> {}, () -> false);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
