package io.forgequeue.forgesim;

/**
 * The faults one call suffers, drawn from the {@link FaultPlan} when it takes the queue lock: a failure (or null), its
 * hold, the step it is interrupted at (or -1), and whether it ignores the checkpoint it asks for ({@code pinModel}:
 * the loaded one runs).
 */
record CallFaults(FaultPlan.Failure failure, FaultPlan.CallHold hold, int interruptAt, boolean pinModel) {}
