package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

class Txt2ImgRequestTest {

    @Test
    void fillsEveryFieldWithForgesDefaultAndDropsUnknownFields() {
        Txt2ImgRequest request = Txt2ImgRequest.validate(json("{\"prompt\":\"cat\",\"no_such_field\":1}"));

        JsonNode p = request.parameters();
        assertThat(p.has("no_such_field")).isFalse();
        assertThat(p.get("prompt").stringValue()).isEqualTo("cat");
        assertThat(p.get("steps").asInt()).isEqualTo(50);
        assertThat(p.get("seed").asLong()).isEqualTo(-1);
        assertThat(p.get("cfg_scale").doubleValue()).isEqualTo(7.0);
        assertThat(p.get("width").asInt()).isEqualTo(512);
        assertThat(p.get("sampler_index").stringValue()).isEqualTo("Euler");
        assertThat(p.get("sampler_name").isNull()).isTrue();
        assertThat(p.get("send_images").booleanValue()).isTrue();
        assertThat(p.get("save_images").booleanValue()).isFalse();
        assertThat(p.get("script_args").isArray()).isTrue();
        assertThat(p.propertyNames()).hasSize(Txt2ImgRequest.FIELDS.size());
        assertThat(request.isExplicit("prompt")).isTrue();
        assertThat(request.isExplicit("steps")).isFalse();
    }

    @Test
    void coercesLikePydanticLaxMode() {
        Txt2ImgRequest request = Txt2ImgRequest.validate(
                json(
                        "{\"steps\":\"20\",\"width\":640.0,\"cfg_scale\":5,\"send_images\":\"yes\",\"seed\":\" 42 \",\"tiling\":0}"));

        assertThat(request.integer("steps")).isEqualTo(20);
        assertThat(request.integer("width")).isEqualTo(640);
        assertThat(request.parameters().get("cfg_scale").isDouble()).isTrue();
        assertThat(request.number("cfg_scale")).isEqualTo(5.0);
        assertThat(request.flag("send_images")).isTrue();
        assertThat(request.integer("seed")).isEqualTo(42);
        assertThat(request.flag("tiling")).isFalse();
    }

    @Test
    void collectsEveryTypeErrorAsPydanticV2ErrorObjectsInFieldOrder() {
        ApiError error = catchThrowableOfType(
                ApiError.class,
                () -> Txt2ImgRequest.validate(
                        json(
                                "{\"prompt\":5,\"steps\":\"abc\",\"width\":1.5,\"send_images\":\"maybe\",\"styles\":[\"a\",3],\"override_settings\":[]}")));

        assertThat(error.status()).isEqualTo(422);
        JsonNode detail = error.body().get("detail");
        assertThat(detail).hasSize(6);
        assertThat(detail.get(0).toString())
                .isEqualTo(
                        "{\"type\":\"string_type\",\"loc\":[\"body\",\"prompt\"],\"msg\":\"Input should be a valid string\",\"input\":5}");
        assertThat(detail.get(1).toString())
                .isEqualTo("{\"type\":\"string_type\",\"loc\":[\"body\",\"styles\",1],"
                        + "\"msg\":\"Input should be a valid string\",\"input\":3}");
        assertThat(detail.get(2).toString())
                .isEqualTo(
                        "{\"type\":\"int_parsing\",\"loc\":[\"body\",\"steps\"],"
                                + "\"msg\":\"Input should be a valid integer, unable to parse string as an integer\",\"input\":\"abc\"}");
        assertThat(detail.get(3).get("type").stringValue()).isEqualTo("int_from_float");
        assertThat(detail.get(4).get("type").stringValue()).isEqualTo("dict_type");
        assertThat(detail.get(5).get("type").stringValue()).isEqualTo("bool_parsing");
    }

    @Test
    void rejectsAMissingBodyAndABodyThatIsNotAnObject() {
        ApiError missing = catchThrowableOfType(ApiError.class, () -> Txt2ImgRequest.validate(null));
        ApiError notObject = catchThrowableOfType(ApiError.class, () -> Txt2ImgRequest.validate(json("[1,2]")));

        assertThat(missing.body().toString())
                .isEqualTo(
                        "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\"],\"msg\":\"Field required\",\"input\":null}]}");
        assertThat(notObject.body().get("detail").get(0).get("type").stringValue())
                .isEqualTo("model_attributes_type");
    }

    @Test
    void acceptsNullForEveryFieldAndFallsBackToTheDefaultWhenReading() {
        Txt2ImgRequest request = Txt2ImgRequest.validate(json("{\"steps\":null,\"seed\":null,\"prompt\":null}"));

        assertThat(request.parameters().get("steps").isNull()).isTrue();
        assertThat(request.integer("steps")).isEqualTo(50);
        assertThat(request.integer("seed")).isEqualTo(-1);
        assertThat(request.string("prompt")).isEmpty();
    }

    private static JsonNode json(String text) {
        return Json.MAPPER.readTree(text);
    }
}
