package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The hold plan's promises to a test: a clear lets every call go, including one that took its hold but is not held yet. */
class FaultPlanTest {

    private final FaultPlan plan = new FaultPlan();

    // Bug regression (SchedulingSystemIT, once under load: 2 jobs never finished): a call took a counted hold when it
    // took the lock, the test cleared the faults before the call reached its step, and the call then waited for a
    // release that never came.
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS) // a failure bound: without the fix the call waits for ever
    void aCallThatTookItsHoldBeforeAClearIsNotHeldWhenItReachesItsStep() throws InterruptedException {
        plan.hold(OptionalInt.of(1), 1);
        FaultPlan.CallHold call = plan.takeHold(-1);

        plan.clear();

        assertThat(plan.holdAt(call, 1, () -> {}, () -> false)).isFalse();
        assertThat(plan.heldNow()).isZero();
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aCallHeldAtItsStepWaitsUntilTheClearAndAReleaseOfHeldCallsBeforeItReachesItDoesNotCancelIt() throws Exception {
        plan.hold(OptionalInt.of(1), 1);
        FaultPlan.CallHold call = plan.takeHold(-1);
        plan.releaseHeld(); // "the calls held right now": this one is not held yet, so its hold stays
        CountDownLatch held = new CountDownLatch(1);

        CompletableFuture<Boolean> result = CompletableFuture.supplyAsync(() -> {
            try {
                return plan.holdAt(call, 1, held::countDown, () -> false);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        held.await();
        assertThat(result).isNotDone();
        assertThat(plan.heldNow()).isOne();

        plan.clear();

        assertThat(result.get()).as("it was held, then let go").isTrue();
        assertThat(plan.heldNow()).isZero();
    }
}
