package io.forgequeue.model;

/**
 * Version and codec settings of the wire contract.
 *
 * <p>Both sides encode messages as UTF-8 JSON ({@value #CONTENT_TYPE}) with these settings, which each
 * app applies to its own Jackson mapper:
 * <ul>
 *   <li>unknown properties are ignored (also declared on every record);</li>
 *   <li>an unknown enum constant reads as the constant annotated {@code @JsonEnumDefaultValue}
 *       (for example {@link ErrorCode#UNKNOWN}; Jackson 3: {@code EnumFeature.READ_UNKNOWN_ENUM_VALUES_USING_DEFAULT_VALUE});</li>
 *   <li>instants are ISO-8601 strings; {@code null} components are left out.</li>
 * </ul>
 * The sender puts {@link #VERSION} in the AMQP header {@value #VERSION_HEADER}. A reader accepts any
 * version up to its own and, for a newer one, still reads what it understands.
 */
public final class Contract {

    /** Version of this contract. Bumped only for a change an older reader would misread. */
    public static final int VERSION = 2;

    /** AMQP message header carrying {@link #VERSION}. */
    public static final String VERSION_HEADER = "x-forge-contract";

    /** Content type of every message body. */
    public static final String CONTENT_TYPE = "application/json";

    private Contract() {}
}
