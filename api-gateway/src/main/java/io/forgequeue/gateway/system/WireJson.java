package io.forgequeue.gateway.system;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.forgequeue.model.Contract;
import java.util.Map;
import org.springframework.stereotype.Component;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.cfg.EnumFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The JSON codec of the wire contract ({@link Contract}): unknown properties ignored, unknown enum constants read
 * as their default, ISO-8601 instants, null components left out. Used for broker messages and for the JSON
 * columns of the database; the HTTP API uses Spring's own (stricter) mapper. Thread-safe.
 */
@Component
public class WireJson {

    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

    private final JsonMapper mapper = JsonMapper.builder()
            .enable(EnumFeature.READ_UNKNOWN_ENUM_VALUES_USING_DEFAULT_VALUE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .changeDefaultPropertyInclusion(incl -> incl.withValueInclusion(JsonInclude.Include.NON_NULL))
            .build();

    public byte[] toBytes(Object value) {
        return mapper.writeValueAsBytes(value);
    }

    public String toText(Object value) {
        return mapper.writeValueAsString(value);
    }

    public <T> T read(byte[] body, Class<T> type) {
        return mapper.readValue(body, type);
    }

    public <T> T read(String text, Class<T> type) {
        return mapper.readValue(text, type);
    }

    public Map<String, Object> readMap(String text) {
        return text == null ? Map.of() : mapper.readValue(text, MAP);
    }
}
