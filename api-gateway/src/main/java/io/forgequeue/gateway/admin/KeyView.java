package io.forgequeue.gateway.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.forgequeue.gateway.apikey.ManagedKey;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.Quota;
import java.time.Instant;
import java.util.UUID;

/**
 * An API key as the admin API shows it. Never its secret, nor the secret's hash.
 *
 * @param id         the key's id (paths {@code /api/v1/admin/keys/{id}})
 * @param name       display name
 * @param prefix     the first characters of the secret, to tell keys apart; absent for keys stored before prefixes
 *                   were kept
 * @param disabled   whether the key is disabled (it authenticates nowhere)
 * @param disabledAt when it was disabled
 * @param createdAt  when it was created
 * @param updatedAt  when its name, limits or state last changed
 * @param limits     its own limits; null members use the gateway's default
 * @param effective  what applies now (its own limits, else the defaults)
 */
record KeyView(
        UUID id,
        String name,
        String prefix,
        boolean disabled,
        Instant disabledAt,
        Instant createdAt,
        Instant updatedAt,
        LimitsView limits,
        EffectiveView effective) {

    static KeyView of(ManagedKey key) {
        return new KeyView(
                key.id(),
                key.name(),
                key.prefix(),
                key.disabled(),
                key.disabledAt(),
                key.createdAt(),
                key.updatedAt(),
                LimitsView.of(key),
                EffectiveView.of(key.effective()));
    }

    /**
     * A key's own limits, each null (shown as {@code null}) where the gateway's default ({@code gateway.quotas.*})
     * applies.
     *
     * @param maxQueued   jobs it may have waiting at once; more is answered 429
     * @param maxRunning  GPU slots (running or assigned jobs) it may hold at once
     * @param weight      its fair-share weight (2 = twice the GPU time of a key with 1 when both wait)
     * @param maxPriority the highest priority class its jobs may ask for
     */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    record LimitsView(Integer maxQueued, Integer maxRunning, Double weight, Priority maxPriority) {

        static LimitsView of(ManagedKey key) {
            return new LimitsView(key.maxQueued(), key.maxRunning(), key.weight(), key.maxPriority());
        }
    }

    /**
     * The limits that apply to a key now.
     *
     * @param maxQueued   jobs it may have waiting at once
     * @param maxRunning  GPU slots it may hold at once; 0 = no limit
     * @param weight      its fair-share weight
     * @param maxPriority the highest priority class it may use
     */
    record EffectiveView(int maxQueued, int maxRunning, double weight, Priority maxPriority) {

        static EffectiveView of(Quota quota) {
            return new EffectiveView(quota.maxQueued(), quota.maxRunning(), quota.weight(), quota.maxPriority());
        }
    }
}
