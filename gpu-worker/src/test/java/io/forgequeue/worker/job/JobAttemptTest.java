package io.forgequeue.worker.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.fixtures.SampleMessages;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

class JobAttemptTest {

    private final JobAttempt attempt = new JobAttempt(SampleMessages.jobMessage(), 1, null);

    // issue 15: the cancel listener and the progress poll both interrupted Forge for one cancel; the second
    // interrupt landed on the next job on that Forge, which then "succeeded" with a partial image
    @Test
    void interruptsForgeOnceWhenTheCancelListenerAndThePollAskAtTheSameTime() throws Exception {
        AtomicInteger sent = new AtomicInteger();
        CountDownLatch sending = new CountDownLatch(1);
        CountDownLatch answered = new CountDownLatch(1);
        BooleanSupplier interrupt = () -> {
            if (sent.incrementAndGet() == 1) { // the first one is still on its way when the second thread asks
                sending.countDown();
                await(answered);
            }
            return true;
        };

        CompletableFuture<Boolean> first = CompletableFuture.supplyAsync(() -> attempt.interruptOnce(interrupt));
        await(sending);
        boolean second = attempt.interruptOnce(interrupt);
        answered.countDown();

        assertThat(first.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(second).as("asked while the first interrupt was on its way").isFalse();
        assertThat(attempt.interruptOnce(interrupt))
                .as("asked after it was sent")
                .isFalse();
        assertThat(sent).hasValue(1);
        assertThat(attempt.interruptSent()).isTrue();
    }

    @Test
    void triesAgainWhenTheInterruptCouldNotBeSentYet() {
        assertThat(attempt.interruptOnce(() -> false)).isFalse();
        assertThat(attempt.interruptSent()).isFalse();

        assertThat(attempt.interruptOnce(() -> true)).isTrue();

        assertThat(attempt.interruptSent()).isTrue();
    }

    private static void await(CountDownLatch latch) {
        try {
            assertThat(latch.await(10, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
