package io.forgequeue.gateway.apikey;

/**
 * A change of an API key's settings ({@link KeyAdministration#change}), with the meaning of a JSON merge patch:
 * a null field stays as it is; a {@link Setting} with a null value goes back to the gateway's default; any other
 * setting is the new value. Bounds as in {@link NewKey}.
 *
 * @param name        new display name, or null to keep it (a name has no default)
 * @param maxQueued   new limit of waiting jobs
 * @param maxRunning  new limit of GPU slots
 * @param weight      new fair-share weight
 * @param maxPriority new highest priority class ({@code high}, {@code normal}, {@code low})
 */
public record KeyChange(
        String name,
        Setting<Integer> maxQueued,
        Setting<Integer> maxRunning,
        Setting<Double> weight,
        Setting<String> maxPriority) {

    /**
     * A new value of one setting.
     *
     * @param value the value, or null for the gateway's default
     */
    public record Setting<T>(T value) {

        public static <T> Setting<T> of(T value) {
            return new Setting<>(value);
        }

        public static <T> Setting<T> byDefault() {
            return new Setting<>(null);
        }
    }
}
