package io.forgequeue.gateway.quota;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * A job's priority class. The scheduler serves classes in this order ({@link #level()}: 0 first); within a class
 * keys share fairly. A key may ask for at most its {@link Quota#maxPriority()}.
 */
public enum Priority {
    HIGH(0),
    NORMAL(1),
    LOW(2);

    private final int level;

    Priority(int level) {
        this.level = level;
    }

    /** 0 for high, 1 normal, 2 low: the value stored in the {@code job.priority} column. */
    public int level() {
        return level;
    }

    /** Whether a key allowed {@code max} may ask for this class. */
    public boolean allowedBy(Priority max) {
        return level >= max.level;
    }

    /** The class stored as {@code level}. */
    public static Priority ofLevel(int level) {
        for (Priority p : values()) {
            if (p.level == level) {
                return p;
            }
        }
        throw new IllegalArgumentException("no priority level " + level);
    }

    /** Lower case on the wire: {@code high}, {@code normal}, {@code low}. */
    @JsonValue
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Reads {@code high}, {@code normal} or {@code low} (any case); anything else is refused. */
    @JsonCreator
    public static Priority fromWire(String name) {
        if (name != null) {
            for (Priority p : values()) {
                if (p.name().equalsIgnoreCase(name.trim())) {
                    return p;
                }
            }
        }
        throw new IllegalArgumentException("priority must be one of high, normal, low");
    }
}
