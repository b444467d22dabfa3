package io.forgequeue.gateway.system;

/**
 * One bad field in a problem's {@code errors} array.
 *
 * @param field   JSON name (or dotted path) of the field, a query parameter or a header
 * @param message what is wrong, for a person
 */
public record FieldError(String field, String message) {}
