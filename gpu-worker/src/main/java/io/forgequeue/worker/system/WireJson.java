package io.forgequeue.worker.system;

import com.fasterxml.jackson.annotation.JsonInclude;
import org.springframework.stereotype.Component;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.cfg.EnumFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The JSON mapper of the wire contract (and of the Forge client), configured as
 * {@link io.forgequeue.model.Contract} prescribes: unknown properties ignored, unknown enum constants read as
 * their default, null properties left out, instants as ISO-8601 text. Thread-safe.
 *
 * <p>Not a {@code JsonMapper} bean on purpose: that would replace the one Spring Boot configures for actuator.
 */
@Component
public class WireJson {

    private final JsonMapper mapper = newMapper();

    /** The shared mapper. */
    public JsonMapper mapper() {
        return mapper;
    }

    /** A new mapper with the contract's settings. */
    public static JsonMapper newMapper() {
        return JsonMapper.builder()
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(EnumFeature.READ_UNKNOWN_ENUM_VALUES_USING_DEFAULT_VALUE)
                .changeDefaultPropertyInclusion(incl -> incl.withValueInclusion(JsonInclude.Include.NON_NULL))
                .build();
    }
}
