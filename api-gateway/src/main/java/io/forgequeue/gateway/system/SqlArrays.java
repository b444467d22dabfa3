package io.forgequeue.gateway.system;

import java.util.Collection;
import java.util.stream.Collectors;
import org.springframework.jdbc.core.SqlTypeValue;

/**
 * PostgreSQL array literals for {@code = any(cast(:param as uuid[]))}: one parameter, whatever the size (a named
 * collection parameter would be expanded into one placeholder per element).
 */
public final class SqlArrays {

    private SqlArrays() {}

    public static String of(Collection<?> values) {
        return values.stream().map(String::valueOf).collect(Collectors.joining(",", "{", "}"));
    }

    /**
     * A typed SQL array parameter (e.g. {@code bytea[]}, {@code text[]}), created on the statement's connection,
     * for values an array literal cannot carry (binary data, arbitrary text).
     *
     * @param elementType the PostgreSQL element type name, e.g. {@code bytea}
     */
    public static SqlTypeValue typed(String elementType, Object[] values) {
        return (ps, index, sqlType, typeName) ->
                ps.setArray(index, ps.getConnection().createArrayOf(elementType, values));
    }
}
