package io.forgequeue.gateway.apikey;

/**
 * What a new API key is to be ({@link KeyAdministration#create}). A null limit means the gateway's default
 * ({@code gateway.quotas.*}), now and after the default changes.
 *
 * @param name        display name, 1-100 characters, required
 * @param maxQueued   jobs it may have waiting at once, 0-100000
 * @param maxRunning  GPU slots it may hold at once, 1-10000
 * @param weight      fair-share weight, above 0 and at most 1000
 * @param maxPriority highest priority class: {@code high}, {@code normal} or {@code low}
 */
public record NewKey(String name, Integer maxQueued, Integer maxRunning, Double weight, String maxPriority) {}
