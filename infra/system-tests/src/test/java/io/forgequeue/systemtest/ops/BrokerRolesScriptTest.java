package io.forgequeue.systemtest.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.testsupport.BrokerRoles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The broker users infra/local/rabbitmq.sh creates have the permissions the tests prove sufficient and narrow
 * ({@link BrokerRoles}, used by LeastPrivilegeWorkerIT and WorkerCredentialsIT): the script's regexes are the same.
 */
class BrokerRolesScriptTest {

    private static final String SCRIPT = "infra/local/rabbitmq.sh";

    @Test
    void theScriptGrantsAWorkerUserExactlyThePermissionsTheTestsUse() throws Exception {
        String id = "gpu.box-1";
        List<String> lines =
                run("source <(sed -n '/^worker_permissions()/,/^}/p' " + SCRIPT + "); worker_permissions '" + id + "'");

        BrokerRoles.Permissions expected = BrokerRoles.worker(id);
        assertThat(lines).containsExactly(expected.configure(), expected.write(), expected.read());
    }

    @Test
    void theScriptsTopicAndGatewayPermissionsAreTheOnesTheTestsUse() throws IOException {
        String script = Files.readString(OpsFiles.path(SCRIPT), StandardCharsets.UTF_8);

        assertThat(script)
                .contains("WORKER_TOPIC_WRITE='" + BrokerRoles.WORKER_TOPIC_WRITE + "'")
                .contains("WORKER_TOPIC_READ='" + BrokerRoles.WORKER_TOPIC_READ + "'")
                .contains("GATEWAY_PERMISSION='" + BrokerRoles.GATEWAY_ALL + "'")
                .contains("GATEWAY_WRITE='" + BrokerRoles.GATEWAY_WRITE + "'")
                .contains("\"$GATEWAY_PERMISSION\" \"$GATEWAY_WRITE\" \"$GATEWAY_PERMISSION\"");
    }

    private static List<String> run(String command) throws Exception {
        Process p = new ProcessBuilder("bash", "-c", command)
                .directory(OpsFiles.root().toFile())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out.lines().toList();
    }
}
