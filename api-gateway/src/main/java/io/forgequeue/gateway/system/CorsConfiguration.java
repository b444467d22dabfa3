package io.forgequeue.gateway.system;

import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.web.cors.UrlBasedCorsConfigurationSource;
import org.springframework.web.filter.CorsFilter;

/**
 * CORS for the REST API ({@code gateway.web.cors.*}). Off by default: without listed origins no answer
 * carries {@code Access-Control-Allow-Origin}, so a page of another origin cannot read the API from a browser. With
 * origins, a filter placed before the API-key check answers their preflight requests (which carry no key) and marks
 * their answers; the key still travels as a Bearer header (no cookies, so no credentials mode).
 */
@Configuration(proxyBeanMethods = false)
class CorsConfiguration {

    private static final Logger log = LoggerFactory.getLogger(CorsConfiguration.class);

    @Bean
    FilterRegistrationBean<CorsFilter> corsFilter(WebProperties properties) {
        WebProperties.Cors cors = properties.cors();
        UrlBasedCorsConfigurationSource source = new UrlBasedCorsConfigurationSource();
        if (cors.enabled()) {
            org.springframework.web.cors.CorsConfiguration api = new org.springframework.web.cors.CorsConfiguration();
            api.setAllowedOrigins(cors.allowedOrigins());
            api.setAllowedMethods(List.of("GET", "POST", "PUT", "PATCH", "DELETE"));
            api.setAllowedHeaders(List.of("Authorization", "Content-Type", "Idempotency-Key", "If-None-Match"));
            api.setExposedHeaders(List.of("Location", "Retry-After", "ETag"));
            api.setAllowCredentials(false);
            api.setMaxAge(Duration.ofSeconds(cors.maxAge()));
            source.registerCorsConfiguration("/api/**", api);
            log.info("CORS on for /api/** from {}", cors.allowedOrigins());
        }
        FilterRegistrationBean<CorsFilter> registration = new FilterRegistrationBean<>(new CorsFilter(source));
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 5);
        registration.setEnabled(cors.enabled());
        return registration;
    }
}
