package io.forgequeue.model;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TopologyTest {

    @Test
    void persistedAndRelayedKeysNeverOverlap() {
        for (EventType type : EventType.values()) {
            assertThat(type.routingKey()).startsWith("job.").doesNotStartWith("relay.");
        }
        assertThat(Topology.PREVIEW_ROUTING_KEY).startsWith("relay.");
        assertThat(Topology.PERSIST_BINDING).isEqualTo("job.#");
        assertThat(Topology.RELAY_BINDING).isEqualTo("relay.#");
    }

    @Test
    void refusesPoolNamesThatCouldEscapeTheirQueueName() {
        assertThat(Topology.isValidPool("default")).isTrue();
        assertThat(Topology.isValidPool("sdxl-2")).isTrue();
        assertThat(Topology.isValidPool("")).isFalse();
        assertThat(Topology.isValidPool("a.b")).isFalse();
        assertThat(Topology.isValidPool("Upper")).isFalse();
        assertThat(Topology.isValidPool("x".repeat(65))).isFalse();
        assertThatThrownBy(() -> Topology.jobQueue("#")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void jobQueuesAreQuorumQueuesDeadLetteringToTheirPool() {
        assertThat(Topology.jobQueueArguments("sdxl"))
                .containsEntry("x-queue-type", "quorum")
                .containsEntry("x-dead-letter-exchange", "forge.jobs.dlx")
                .containsEntry("x-dead-letter-routing-key", "sdxl")
                .containsEntry("x-delivery-limit", 50);
    }

    @Test
    void namesEveryPerInstanceQueueAfterItsInstance() {
        assertThat(Topology.relayQueue("gw-1")).isEqualTo("forge.events.relay.gw-1");
        assertThat(Topology.controlQueue("gpu-a")).isEqualTo("forge.control.gpu-a");
    }
}
