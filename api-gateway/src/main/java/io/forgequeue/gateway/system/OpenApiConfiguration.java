package io.forgequeue.gateway.system;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The OpenAPI document, served at {@code /api/v1/openapi} (JSON) and {@code /api/v1/openapi.yaml}, generated
 * from the controllers by springdoc.
 */
@Configuration(proxyBeanMethods = false)
class OpenApiConfiguration {

    @Bean
    OpenAPI forgeQueueOpenApi() {
        return new OpenAPI()
                .info(new Info().title("Forge Queue API").version("v1").description("""
                        Text-to-image jobs on a shared pool of Stable Diffusion Forge GPUs.
                        Every request carries an API key: `Authorization: Bearer <key>`. Errors are RFC 9457
                        problem details (`application/problem+json`) with a stable `type` URI and `code`; field
                        errors are listed in `errors` as `{field, message}`. Live updates: WebSocket `/ws`,
                        protocol in PROTOCOL.md.
                        The admin API (`/api/v1/admin/`, tag admin) takes an admin token instead
                        (`gateway.admin.tokens`, env `GATEWAY_ADMIN_TOKENS`); an API key is refused there, and an admin
                        token is not an API key."""))
                .components(new Components()
                        .addSecuritySchemes(
                                "apiKey",
                                new SecurityScheme()
                                        .type(SecurityScheme.Type.HTTP)
                                        .scheme("bearer")
                                        .description("An API key"))
                        .addSecuritySchemes(
                                "adminToken",
                                new SecurityScheme()
                                        .type(SecurityScheme.Type.HTTP)
                                        .scheme("bearer")
                                        .description(
                                                "An admin token (gateway.admin.tokens); only for /api/v1/admin/")));
    }
}
