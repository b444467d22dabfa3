package io.forgequeue.gateway.quota;

import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Defaults of the per-key quotas ({@code gateway.quotas.*}), used where a key has no value of its own (keys made
 * with {@code GATEWAY_BOOTSTRAP_API_KEY}, or whose limit the admin API left unset).
 *
 * @param maxQueued   jobs one key may have waiting at once; more is answered 429 with Retry-After
 * @param maxRunning  GPU slots one key may hold at once (running or assigned jobs); 0 = no limit
 * @param weight      a key's fair-share weight
 * @param maxPriority the highest priority class a key may ask for
 */
@Validated
@ConfigurationProperties("gateway.quotas")
public record QuotaProperties(
        @DefaultValue("50") @Min(0) int maxQueued,
        @DefaultValue("0") @Min(0) int maxRunning,

        @DefaultValue("1") @DecimalMin(value = "0", inclusive = false)
        double weight,

        @DefaultValue("normal") @NotNull Priority maxPriority) {

    /** The quota of a key with these stored values (null = the default). */
    public Quota resolve(Integer keyMaxQueued, Integer keyMaxRunning, Double keyWeight, Integer keyMaxPriority) {
        return new Quota(
                keyMaxQueued == null ? maxQueued : keyMaxQueued,
                keyMaxRunning == null ? maxRunning : keyMaxRunning,
                keyWeight == null ? weight : keyWeight,
                keyMaxPriority == null ? maxPriority : Priority.ofLevel(keyMaxPriority));
    }
}
