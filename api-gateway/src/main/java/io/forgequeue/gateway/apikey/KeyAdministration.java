package io.forgequeue.gateway.apikey;

import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.QuotaProperties;
import io.forgequeue.gateway.system.ApiException;
import io.forgequeue.gateway.system.ApiProblem;
import io.forgequeue.gateway.system.FieldError;
import io.forgequeue.gateway.system.PersistenceConfiguration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.data.domain.Page;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Service;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Creating, listing, changing, disabling and enabling API keys (the admin API), on the {@code api_key} table mapped
 * with JPA ({@link ApiKeyEntity}). Each change is one transaction; right after it commits this gateway forgets its
 * cached copy of the key, so the change applies here at once; the table's trigger tells the other gateways, which
 * forget theirs when the notification arrives (and close a disabled key's WebSocket sessions:
 * {@link ApiKeyChanged}). A key's secret is made here, returned once and never stored or logged; only its SHA-256
 * hash and its first characters are kept. Thread-safe.
 */
@Service
public class KeyAdministration {

    static final int NAME_MAX = 100;
    static final int MAX_QUEUED_MAX = 100_000;
    static final int MAX_RUNNING_MAX = 10_000;
    static final double WEIGHT_MAX = 1000;

    private static final Logger log = LoggerFactory.getLogger(KeyAdministration.class);
    private static final Sort NEWEST_FIRST = Sort.by(Sort.Order.desc("createdAt"), Sort.Order.asc("id"));

    private final ApiKeyRepository repository;
    private final ApiKeys keys;
    private final QuotaProperties quotas;
    private final TransactionTemplate tx;
    private final KeySecrets secrets = new KeySecrets();

    KeyAdministration(
            ApiKeyRepository repository,
            ApiKeys keys,
            QuotaProperties quotas,
            @Qualifier(PersistenceConfiguration.JPA_TRANSACTIONS) PlatformTransactionManager transactions) {
        this.repository = repository;
        this.keys = keys;
        this.quotas = quotas;
        this.tx = new TransactionTemplate(transactions);
    }

    /** Creates a key with a new secret; throws {@link ApiProblem#INVALID_KEY_SETTINGS} for a bad name or limit. */
    public CreatedKey create(NewKey request) {
        List<FieldError> errors = new ArrayList<>();
        String name = checkName(request.name(), errors);
        checkMaxQueued(request.maxQueued(), errors);
        checkMaxRunning(request.maxRunning(), errors);
        checkWeight(request.weight(), errors);
        Priority maxPriority = checkPriority(request.maxPriority(), errors);
        throwIfAny(errors);
        String secret = secrets.generate();
        Instant now = Instant.now();
        ApiKeyEntity entity =
                new ApiKeyEntity(UUID.randomUUID(), name, ApiKeys.hash(secret), ApiKeys.prefixOf(secret), now);
        entity.limitQueued(request.maxQueued(), now);
        entity.limitRunning(request.maxRunning(), now);
        entity.weigh(request.weight(), now);
        entity.allowPriority(level(maxPriority), now);
        ManagedKey key = toKey(repository.save(entity));
        log.info("ApiKey(id={}) created: name '{}', prefix {}", key.id(), key.name(), key.prefix());
        return new CreatedKey(key, secret);
    }

    /** A page of keys, newest first ({@code page} from 0). */
    public KeyList list(int page, int size) {
        Page<ApiKeyEntity> found = repository.findAll(PageRequest.of(page, size, NEWEST_FIRST));
        return new KeyList(found.map(this::toKey).getContent(), page, size, found.getTotalElements());
    }

    public Optional<ManagedKey> find(UUID id) {
        return repository.findById(id).map(this::toKey);
    }

    /** Applies a change (see {@link KeyChange}); throws for an unknown key or a bad value. */
    public ManagedKey change(UUID id, KeyChange change) {
        List<FieldError> errors = new ArrayList<>();
        String name = change.name() == null ? null : checkName(change.name(), errors);
        if (change.maxQueued() != null) {
            checkMaxQueued(change.maxQueued().value(), errors);
        }
        if (change.maxRunning() != null) {
            checkMaxRunning(change.maxRunning().value(), errors);
        }
        if (change.weight() != null) {
            checkWeight(change.weight().value(), errors);
        }
        Priority maxPriority = change.maxPriority() == null
                ? null
                : checkPriority(change.maxPriority().value(), errors);
        throwIfAny(errors);
        ManagedKey key = update(id, (entity, now) -> {
            if (name != null) {
                entity.rename(name, now);
            }
            if (change.maxQueued() != null) {
                entity.limitQueued(change.maxQueued().value(), now);
            }
            if (change.maxRunning() != null) {
                entity.limitRunning(change.maxRunning().value(), now);
            }
            if (change.weight() != null) {
                entity.weigh(change.weight().value(), now);
            }
            if (change.maxPriority() != null) {
                entity.allowPriority(level(maxPriority), now);
            }
        });
        log.info(
                "ApiKey(id={}) changed: name '{}', limits queued {}, running {}, weight {}, max priority {}",
                key.id(),
                key.name(),
                key.maxQueued(),
                key.maxRunning(),
                key.weight(),
                key.maxPriority() == null ? null : key.maxPriority().wireName());
        return key;
    }

    /**
     * Disables a key: from the commit on it authenticates nowhere, and every gateway closes its WebSocket sessions.
     * Its jobs are left alone (see {@code KeyJobs} for cancelling the queued ones). Disabling a disabled key changes
     * nothing.
     */
    public ManagedKey disable(UUID id) {
        ManagedKey key = update(id, (entity, now) -> entity.disable(now));
        log.info("ApiKey(id={}) disabled", key.id());
        return key;
    }

    /** Enables a disabled key again (the same secret works again). */
    public ManagedKey enable(UUID id) {
        ManagedKey key = update(id, (entity, now) -> entity.enable(now));
        log.info("ApiKey(id={}) enabled", key.id());
        return key;
    }

    private ManagedKey update(UUID id, Change change) {
        ManagedKey key = tx.execute(status -> {
            ApiKeyEntity entity = repository.findById(id).orElseThrow(() -> notFound(id));
            change.apply(entity, Instant.now());
            return toKey(entity);
        });
        keys.forget(id); // after the commit: a lookup that starts now reads the new state
        return key;
    }

    /** One change of an entity, in a transaction. */
    private interface Change {
        void apply(ApiKeyEntity entity, Instant now);
    }

    /** The answer for a key id that names no key (null: a malformed id). */
    public static ApiException notFound(UUID id) {
        return new ApiException(
                ApiProblem.KEY_NOT_FOUND,
                id == null ? "No such API key." : "No API key " + id + ".",
                List.of(),
                id == null ? Map.of() : Map.of("keyId", id),
                HttpHeaders.EMPTY);
    }

    private ManagedKey toKey(ApiKeyEntity e) {
        Integer priority = e.maxPriority() == null ? null : e.maxPriority().intValue();
        return new ManagedKey(
                e.id(),
                e.name(),
                e.keyPrefix(),
                e.createdAt(),
                e.updatedAt(),
                e.disabledAt(),
                e.maxQueued(),
                e.maxRunning(),
                e.weight(),
                priority == null ? null : Priority.ofLevel(priority),
                quotas.resolve(e.maxQueued(), e.maxRunning(), e.weight(), priority));
    }

    private static Short level(Priority priority) {
        return priority == null ? null : (short) priority.level();
    }

    private static String checkName(String name, List<FieldError> errors) {
        String trimmed = name == null ? "" : name.strip();
        if (trimmed.isEmpty()) {
            errors.add(new FieldError("name", "is required"));
        } else if (trimmed.length() > NAME_MAX) {
            errors.add(new FieldError("name", "must be at most " + NAME_MAX + " characters"));
        } else if (trimmed.chars().anyMatch(Character::isISOControl)) {
            errors.add(new FieldError("name", "must not contain control characters"));
        }
        return trimmed;
    }

    private static void checkMaxQueued(Integer value, List<FieldError> errors) {
        if (value != null && (value < 0 || value > MAX_QUEUED_MAX)) {
            errors.add(
                    new FieldError("maxQueued", "must be between 0 and " + MAX_QUEUED_MAX + " (or null: the default)"));
        }
    }

    private static void checkMaxRunning(Integer value, List<FieldError> errors) {
        if (value != null && (value < 1 || value > MAX_RUNNING_MAX)) {
            errors.add(new FieldError(
                    "maxRunning", "must be between 1 and " + MAX_RUNNING_MAX + " (or null: the default)"));
        }
    }

    private static void checkWeight(Double value, List<FieldError> errors) {
        if (value != null && !(value > 0 && value <= WEIGHT_MAX)) {
            errors.add(new FieldError(
                    "weight", "must be above 0 and at most " + (int) WEIGHT_MAX + " (or null: the default)"));
        }
    }

    private static Priority checkPriority(String value, List<FieldError> errors) {
        if (value == null) {
            return null;
        }
        try {
            return Priority.fromWire(value);
        } catch (IllegalArgumentException e) {
            errors.add(new FieldError("maxPriority", "must be one of high, normal, low (or null: the default)"));
            return null;
        }
    }

    private static void throwIfAny(List<FieldError> errors) {
        if (!errors.isEmpty()) {
            throw new ApiException(
                    ApiProblem.INVALID_KEY_SETTINGS,
                    "The key settings have " + errors.size()
                            + (errors.size() == 1 ? " invalid field." : " invalid fields."),
                    errors,
                    Map.of(),
                    HttpHeaders.EMPTY);
        }
    }
}
