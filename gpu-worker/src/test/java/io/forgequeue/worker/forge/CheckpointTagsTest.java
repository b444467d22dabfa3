package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CheckpointTagsTest {

    @Test
    void usesCanonicalNamesUpToTheLimitAndOtherBeyondIt() {
        List<String> registered = new ArrayList<>();
        CheckpointTags tags = new CheckpointTags(2, registered::add);

        tags.offered(List.of("a", "sdxl_juggernaut", "c"));

        assertThat(tags.tagFor("sdxl/juggernaut.safetensors [2222222222]")).isEqualTo("sdxl_juggernaut");
        assertThat(tags.tagFor("a.safetensors")).isEqualTo("a");
        assertThat(tags.tagFor("c")).isEqualTo(CheckpointTags.OTHER);
        assertThat(tags.tagFor("d")).isEqualTo(CheckpointTags.OTHER);
        assertThat(tags.tagFor(null)).isEqualTo(CheckpointTags.OTHER);
        assertThat(registered).as("each new value registered once").containsExactly("a", "sdxl_juggernaut");
    }
}
