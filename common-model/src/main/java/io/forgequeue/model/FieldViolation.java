package io.forgequeue.model;

/**
 * One broken limit of a {@link JobSpec}.
 *
 * @param field   the JSON name of the field, e.g. {@code width}
 * @param message what is wrong, for a person, e.g. {@code must be a multiple of 8}
 */
public record FieldViolation(String field, String message) {}
