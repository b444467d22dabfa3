package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Issue 19, the HTTP surface of a gateway with its default settings: the actuator lives on the management port only,
 * health details are never shown, every answer carries the security headers and a Content-Security-Policy, and CORS
 * is off.
 */
class HttpSurfaceIT extends IntegrationTestBase {

    @Test
    void servesTheActuatorOnlyOnTheManagementPortNeverOnThePublicOne() {
        for (String path : List.of(
                "/actuator",
                "/actuator/health",
                "/actuator/health/readiness",
                "/actuator/prometheus",
                "/actuator/metrics",
                "/actuator/info")) {
            assertThat(api().get(null, path).status())
                    .as("public port %s", path)
                    .isEqualTo(404);
        }

        assertThat(managementPort).isNotEqualTo(port);
        assertThat(management().get(null, "/actuator/health/readiness").status())
                .isEqualTo(200);
        assertThat(management().get(null, "/actuator/health/liveness").status()).isEqualTo(200);
        assertThat(management().get(null, "/actuator/prometheus").text()).contains("gpu_gateway_jobs_by_state");
    }

    @Test
    void showsHealthComponentsButNeverTheirDetails() {
        JsonNode health = management().get(null, "/actuator/health").json();

        assertThat(health.path("components").path("db").path("status").asString())
                .isEqualTo("UP");
        assertThat(health.path("components").path("db").has("details"))
                .as("db details (database, validation query)")
                .isFalse();
        assertThat(health.toString()).doesNotContain("jdbc:").doesNotContain("PostgreSQL");
    }

    @Test
    void everyAnswerCarriesTheSecurityHeadersAndAContentSecurityPolicyWithoutInlineScriptsOrStyles() {
        String key = newKey();
        List<Api.Response> answers = List.of(
                api().get(null, "/"),
                api().get(null, "/app.js"),
                api().get(null, "/app.css"),
                api().get(key, "/api/v1/queue"),
                api().get(null, "/api/v1/queue"),
                api().get(null, "/no-such-page"));

        for (Api.Response answer : answers) {
            String what = answer.raw().request().uri().getPath() + " (" + answer.status() + ")";
            assertThat(answer.header("Content-Security-Policy"))
                    .as("CSP of %s", what)
                    .contains(
                            "default-src 'none'",
                            "script-src 'self'",
                            "style-src 'self'",
                            "frame-ancestors 'none'",
                            "object-src 'none'",
                            "base-uri 'none'")
                    .doesNotContain("unsafe-inline")
                    .doesNotContain("unsafe-eval");
            assertThat(answer.header("X-Content-Type-Options")).as("%s", what).isEqualTo("nosniff");
            assertThat(answer.header("X-Frame-Options")).as("%s", what).isEqualTo("DENY");
            assertThat(answer.header("Referrer-Policy")).as("%s", what).isEqualTo("no-referrer");
        }
        assertThat(answers.get(0).status()).isEqualTo(200);
        assertThat(answers.get(4).status()).isEqualTo(401);
    }

    @Test
    void theWebPageHasNoInlineScriptStyleOrEventHandlerTheContentSecurityPolicyWouldBlock() {
        String page = api().get(null, "/").text();

        assertThat(page)
                .containsPattern("<script src=\"[^\"]+\"></script>")
                .doesNotContainPattern("<script(?![^>]*\\bsrc=)[^>]*>")
                .doesNotContainPattern("<style")
                .doesNotContainPattern("\\sstyle=")
                .doesNotContainPattern("\\son[a-z]+=")
                .doesNotContain("javascript:");
    }

    @Test
    void corsIsOffByDefaultNoOriginMayCallTheApiFromABrowser() {
        String key = newKey();

        Api.Response preflight = api().send(
                        null,
                        "OPTIONS",
                        "/api/v1/jobs",
                        null,
                        "application/json",
                        "Origin",
                        "https://evil.example",
                        "Access-Control-Request-Method",
                        "POST",
                        "Access-Control-Request-Headers",
                        "authorization,content-type");
        Api.Response get = api().get(key, "/api/v1/queue", "Origin", "https://evil.example");

        assertThat(preflight.header("Access-Control-Allow-Origin")).isNull();
        assertThat(get.status()).isEqualTo(200);
        assertThat(get.header("Access-Control-Allow-Origin")).isNull();
    }
}
