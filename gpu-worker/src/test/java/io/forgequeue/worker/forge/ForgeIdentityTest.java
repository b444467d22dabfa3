package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.api.Test;

class ForgeIdentityTest {

    private static String identity(String url) {
        return ForgeIdentity.of(URI.create(url), "gpu-box-1").value();
    }

    @Test
    void writesSchemeHostPortAndPathTheSameWayWhateverTheSpelling() {
        assertThat(identity("HTTP://Forge.Example.org.:7861/")).isEqualTo("http://forge.example.org:7861");
        assertThat(identity("http://user:secret@forge.example.org:7861?x=1#top"))
                .isEqualTo("http://forge.example.org:7861");
        assertThat(identity("http://forge.example.org")).isEqualTo("http://forge.example.org:80");
        assertThat(identity("https://forge.example.org/sd//")).isEqualTo("https://forge.example.org:443/sd");
    }

    @Test
    void namesALoopbackForgeAfterThisMachineSoThatTwoMachinesLocalhostsDiffer() {
        assertThat(identity("http://localhost:7861")).isEqualTo("http://gpu-box-1:7861");
        assertThat(identity("http://127.0.0.1:7861")).isEqualTo("http://gpu-box-1:7861");
        assertThat(identity("http://[::1]:7861")).isEqualTo("http://gpu-box-1:7861");
        assertThat(identity("http://0.0.0.0:7861")).isEqualTo("http://gpu-box-1:7861");
        assertThat(ForgeIdentity.of(URI.create("http://localhost:7861"), "GPU-Box-2")
                        .value())
                .isEqualTo("http://gpu-box-2:7861");
    }

    @Test
    void keepsIpLiteralsInTheirCanonicalForm() {
        assertThat(identity("http://192.168.1.5:7861")).isEqualTo("http://192.168.1.5:7861");
        assertThat(identity("http://[2001:DB8::1]:7861")).isEqualTo("http://[2001:db8:0:0:0:0:0:1]:7861");
    }

    @Test
    void tellsDifferentForgesApart() {
        assertThat(identity("http://forge-a:7861"))
                .isNotEqualTo(identity("http://forge-b:7861"))
                .isNotEqualTo(identity("http://forge-a:7862"))
                .isNotEqualTo(identity("https://forge-a:7861"));
    }
}
