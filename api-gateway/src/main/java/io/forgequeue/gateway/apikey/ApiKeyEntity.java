package io.forgequeue.gateway.apikey;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.PostLoad;
import jakarta.persistence.PostPersist;
import jakarta.persistence.Table;
import jakarta.persistence.Transient;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.hibernate.annotations.DynamicUpdate;
import org.springframework.data.domain.Persistable;

/**
 * One row of {@code api_key} (migrations V1, V2), for the admin API. Authentication reads the same table with plain
 * SQL ({@link ApiKeys}); the secret itself is never here, only its SHA-256 hash and its first characters.
 *
 * <p>Updates write only the columns that changed ({@link DynamicUpdate}): two operators changing different settings
 * of one key at the same moment both keep their change, and a rename never undoes a concurrent disable. Every update
 * fires the table's trigger, which tells every gateway (NOTIFY {@code fq_keys}) to drop its cached copy.
 */
@Entity
@Table(name = "api_key")
@DynamicUpdate
class ApiKeyEntity implements Persistable<UUID> {

    @Id
    private UUID id;

    @Column(nullable = false)
    private String name;

    @Column(name = "key_hash", nullable = false, updatable = false)
    private byte[] keyHash;

    @Column(name = "key_prefix", updatable = false)
    private String keyPrefix;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    @Column(name = "updated_at", nullable = false)
    private Instant updatedAt;

    @Column(name = "disabled_at")
    private Instant disabledAt;

    /** null: the gateway's default ({@code gateway.quotas.*}), as for the other limits. */
    @Column(name = "max_queued")
    private Integer maxQueued;

    @Column(name = "max_running")
    private Integer maxRunning;

    @Column(name = "weight")
    private Double weight;

    /** 0 high, 1 normal, 2 low ({@link io.forgequeue.gateway.quota.Priority#level()}). */
    @Column(name = "max_priority")
    private Short maxPriority;

    /** Made here and not yet stored: saving it inserts without first looking for it (the id is ours, not generated). */
    @Transient
    private boolean fresh;

    protected ApiKeyEntity() {}

    ApiKeyEntity(UUID id, String name, byte[] keyHash, String keyPrefix, Instant now) {
        this.id = id;
        this.name = name;
        this.keyHash = keyHash.clone();
        this.keyPrefix = keyPrefix;
        this.createdAt = now;
        this.updatedAt = now;
        this.fresh = true;
    }

    @PostLoad
    @PostPersist
    void stored() {
        fresh = false;
    }

    @Override
    public UUID getId() {
        return id;
    }

    @Override
    public boolean isNew() {
        return fresh;
    }

    void rename(String newName, Instant now) {
        if (!newName.equals(name)) {
            name = newName;
            updatedAt = now;
        }
    }

    void limitQueued(Integer value, Instant now) {
        if (!Objects.equals(value, maxQueued)) {
            maxQueued = value;
            updatedAt = now;
        }
    }

    void limitRunning(Integer value, Instant now) {
        if (!Objects.equals(value, maxRunning)) {
            maxRunning = value;
            updatedAt = now;
        }
    }

    void weigh(Double value, Instant now) {
        if (!Objects.equals(value, weight)) {
            weight = value;
            updatedAt = now;
        }
    }

    void allowPriority(Short level, Instant now) {
        if (!Objects.equals(level, maxPriority)) {
            maxPriority = level;
            updatedAt = now;
        }
    }

    /** Disables the key; a key disabled already keeps the time it was first disabled. */
    void disable(Instant now) {
        if (disabledAt == null) {
            disabledAt = now;
            updatedAt = now;
        }
    }

    void enable(Instant now) {
        if (disabledAt != null) {
            disabledAt = null;
            updatedAt = now;
        }
    }

    UUID id() {
        return id;
    }

    String name() {
        return name;
    }

    byte[] keyHash() {
        return keyHash.clone();
    }

    String keyPrefix() {
        return keyPrefix;
    }

    Instant createdAt() {
        return createdAt;
    }

    Instant updatedAt() {
        return updatedAt;
    }

    Instant disabledAt() {
        return disabledAt;
    }

    Integer maxQueued() {
        return maxQueued;
    }

    Integer maxRunning() {
        return maxRunning;
    }

    Double weight() {
        return weight;
    }

    Short maxPriority() {
        return maxPriority;
    }
}
