package io.forgequeue.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

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
        assertThatThrownBy(() -> Topology.deadLetterQueue("#")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void workerQueuesDeadLetterToTheirPoolAndRefuseIdsThatCouldEscapeTheirName() {
        assertThat(Topology.workerQueueArguments("sdxl"))
                .containsEntry("x-dead-letter-exchange", "forge.jobs.dlx")
                .containsEntry("x-dead-letter-routing-key", "sdxl");
        assertThat(Topology.workerQueue("gpu-box-0")).isEqualTo("forge.jobs.worker.gpu-box-0");
        assertThat(Topology.isWorkerQueue("forge.jobs.worker.gpu-box-0")).isTrue();
        assertThat(Topology.isWorkerQueue("forge.jobs.worker.")).isFalse();
        assertThat(Topology.isWorkerQueue("forge.events.persist")).isFalse();
        assertThat(Topology.deadLetterQueue("gpu-xl")).isEqualTo("forge.jobs.gpu-xl.dead");
        assertThat(Topology.isValidWorkerId("w#1")).isFalse();
        assertThat(Topology.isValidWorkerId("")).isFalse();
        assertThatThrownBy(() -> Topology.workerQueue("a b")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void jobMessagesAreHandedOutThroughTheDefaultExchangeWhoseBindingsNobodyCanChange() {
        assertThat(Topology.HANDOUT_EXCHANGE).isEmpty();
        assertThat(Topology.HANDOUT_EXCHANGE_RESOURCE).isEqualTo("amq.default");
    }

    @Test
    void workerAnnouncementsTravelOnTheirOwnKeysNeitherPersistedNorRelayedAsUpdates() {
        assertThat(Topology.WORKER_STATUS_ROUTING_KEY).startsWith("worker.").matches(k -> !k.startsWith("job."));
        assertThat(Topology.WORKER_BINDING).isEqualTo("worker.#");
    }

    @Test
    void namesEveryPerInstanceQueueAfterItsInstance() {
        assertThat(Topology.relayQueue("gw-1")).isEqualTo("forge.events.relay.gw-1");
        assertThat(Topology.controlQueue("gpu-a")).isEqualTo("forge.control.gpu-a");
    }
}
