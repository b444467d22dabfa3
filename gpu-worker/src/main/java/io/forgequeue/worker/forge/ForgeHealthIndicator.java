package io.forgequeue.worker.forge;

import dev.failsafe.CircuitBreaker;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * {@code /actuator/health/forge}: the state of the circuit breaker in front of Forge, so the health check never
 * calls Forge itself. Closed is UP, half-open UNKNOWN (a trial call is under way), open DOWN. Not part of the
 * readiness group: the worker has no traffic to route, and while Forge is down it already stops consuming.
 */
@Component("forge")
class ForgeHealthIndicator implements HealthIndicator {

    private final ForgeClient forge;

    ForgeHealthIndicator(ForgeClient forge) {
        this.forge = forge;
    }

    @Override
    public Health health() {
        CircuitBreaker.State state = forge.breakerState();
        Health.Builder builder = switch (state) {
            case CLOSED -> Health.up();
            case HALF_OPEN -> Health.unknown();
            case OPEN -> Health.down();
        };
        return builder.withDetail("url", forge.safeUrl())
                .withDetail("identity", forge.forgeIdentity().value())
                .withDetail("breaker", state.name())
                .build();
    }
}
