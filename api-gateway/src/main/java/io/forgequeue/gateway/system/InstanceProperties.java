package io.forgequeue.gateway.system;

import java.util.UUID;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Identity of this gateway instance ({@code gateway.instance-id}, env {@code GATEWAY_INSTANCE_ID}). It names the
 * instance's relay queue ({@code forge.events.relay.<id>}) and its outbox claims. Left empty, a random id is used,
 * which is right for any number of replicas.
 *
 * @param instanceId 1-64 characters of letters, digits, '-', '_' or '.'; empty for a random one
 */
@ConfigurationProperties("gateway")
public record InstanceProperties(@DefaultValue("") String instanceId) {

    public InstanceProperties {
        if (instanceId == null || instanceId.isBlank()) {
            instanceId = "gw-" + UUID.randomUUID().toString().substring(0, 8);
        }
        if (!instanceId.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new IllegalArgumentException("gateway.instance-id must be 1-64 characters of letters, digits, "
                    + "'.', '_' or '-': " + instanceId);
        }
    }
}
