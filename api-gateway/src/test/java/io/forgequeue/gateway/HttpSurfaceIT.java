package io.forgequeue.gateway;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 19, the HTTP surface of a gateway with its default settings: the actuator lives on the management port only,
 * health details are never shown.
 */
class HttpSurfaceIT extends IntegrationTestBase {

    @Test
    void servesTheActuatorOnlyOnTheManagementPortNeverOnThePublicOne() {
        for (String path : List.of("/actuator", "/actuator/health", "/actuator/health/readiness",
                "/actuator/prometheus", "/actuator/metrics", "/actuator/info")) {
            assertThat(api().get(null, path).status()).as("public port %s", path).isEqualTo(404);
        }

        assertThat(managementPort).isNotEqualTo(port);
        assertThat(management().get(null, "/actuator/health/readiness").status()).isEqualTo(200);
        assertThat(management().get(null, "/actuator/health/liveness").status()).isEqualTo(200);
        assertThat(management().get(null, "/actuator/prometheus").text()).contains("gpu_gateway_jobs_by_state");
    }

    @Test
    void showsHealthComponentsButNeverTheirDetails() {
        JsonNode health = management().get(null, "/actuator/health").json();

        assertThat(health.path("components").path("db").path("status").asString()).isEqualTo("UP");
        assertThat(health.path("components").path("db").has("details")).as("db details (database, validation query)")
                .isFalse();
        assertThat(health.toString()).doesNotContain("jdbc:").doesNotContain("PostgreSQL");
    }
}
