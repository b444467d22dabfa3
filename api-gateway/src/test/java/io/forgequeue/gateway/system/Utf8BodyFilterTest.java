package io.forgequeue.gateway.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The UTF-8 check of JSON request bodies (issue 6: an overlong {@code C0 AF} was decoded to "/"). */
class Utf8BodyFilterTest {

    /** Fed one byte at a time, so every sequence is cut between chunks; and fed whole: both must agree. */
    private static boolean validatorAccepts(byte[] bytes) {
        Utf8BodyFilter.Utf8Validator v = new Utf8BodyFilter.Utf8Validator();
        boolean byteByByte = true;
        for (byte b : bytes) {
            if (!v.accept(b & 0xFF)) {
                byteByByte = false;
                break;
            }
        }
        byteByByte = byteByByte && v.complete();
        Utf8BodyFilter.Utf8Validator whole = new Utf8BodyFilter.Utf8Validator();
        boolean atOnce = whole.accept(bytes, 0, bytes.length) && whole.complete();
        assertThat(atOnce).as("fed whole agrees with fed byte by byte").isEqualTo(byteByByte);
        return byteByByte;
    }

    /** The JDK's decoder, set to report instead of replace: strict per the Unicode standard. */
    private static boolean jdkAccepts(byte[] bytes) {
        try {
            StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    private static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }

    @Test
    void overlongFormsSurrogatesAndCodePointsAboveTheUnicodeRangeAreRefused() {
        assertThat(validatorAccepts(bytes(0xC0, 0xAF))).isFalse();
        assertThat(validatorAccepts(bytes(0xC1, 0xBF))).isFalse();
        assertThat(validatorAccepts(bytes(0xE0, 0x80, 0xAF))).isFalse();
        assertThat(validatorAccepts(bytes(0xF0, 0x80, 0x80, 0xAF))).isFalse();
        assertThat(validatorAccepts(bytes(0xED, 0xA0, 0x80))).isFalse();
        assertThat(validatorAccepts(bytes(0xF4, 0x90, 0x80, 0x80))).isFalse();
        assertThat(validatorAccepts(bytes(0xF5, 0x80, 0x80, 0x80))).isFalse();
        assertThat(validatorAccepts(bytes(0x80))).isFalse();
        assertThat(validatorAccepts(bytes(0xE2, 0x82))).isFalse();
        assertThat(validatorAccepts(bytes(0xC3, 0x28))).isFalse();
    }

    @Test
    void everyWellFormedCharacterIsAccepted() {
        for (int cp = 0; cp <= 0x10FFFF; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                continue;
            }
            byte[] encoded = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
            if (!validatorAccepts(encoded)) {
                throw new AssertionError("refused U+" + Integer.toHexString(cp));
            }
        }
    }

    @Test
    void itAgreesWithTheJdksStrictDecoderOnRandomBytes() {
        Random random = new Random(20261122L);
        int[] interesting = {
            0x00, 0x2F, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
            0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF
        };
        for (int i = 0; i < 200_000; i++) {
            byte[] sample = new byte[1 + random.nextInt(6)];
            for (int j = 0; j < sample.length; j++) {
                sample[j] = (byte)
                        (random.nextBoolean() ? interesting[random.nextInt(interesting.length)] : random.nextInt(256));
            }
            assertThat(validatorAccepts(sample))
                    .as("bytes %s", java.util.HexFormat.of().formatHex(sample))
                    .isEqualTo(jdkAccepts(sample));
        }
    }

    @Test
    void namesWhereTheFirstIllFormedSequenceStartsAcrossChunks() {
        Utf8BodyFilter.Utf8Validator v = new Utf8BodyFilter.Utf8Validator();
        assertThat(v.accept(bytes('{', '"', 'a', 0xC3), 0, 4)).isTrue();
        assertThat(v.accept(bytes(0xA9, '"', 0xE2, 0x82), 0, 4))
                .as("é completed across chunks")
                .isTrue();
        assertThat(v.accept(bytes(0x28), 0, 1))
                .as("E2 82 28: a cut-off sequence")
                .isFalse();
        assertThat(v.malformedAt()).isEqualTo(6);
        assertThat(v.complete()).isFalse();

        Utf8BodyFilter.Utf8Validator cut = new Utf8BodyFilter.Utf8Validator();
        assertThat(cut.accept(bytes('x', 0xF0, 0x9F), 0, 3)).isTrue();
        assertThat(cut.complete()).as("the body ends inside a sequence").isFalse();
        assertThat(cut.complete()).as("asked again at a second end of stream").isFalse();
    }

    @Test
    void onlyJsonBodiesInUtf8AreChecked() {
        assertThat(Utf8BodyFilter.isUtf8Json("application/json")).isTrue();
        assertThat(Utf8BodyFilter.isUtf8Json("application/json; charset=UTF-8")).isTrue();
        assertThat(Utf8BodyFilter.isUtf8Json("application/merge-patch+json")).isTrue();
        assertThat(Utf8BodyFilter.isUtf8Json("application/json; charset=ISO-8859-1"))
                .isFalse();
        assertThat(Utf8BodyFilter.isUtf8Json("text/plain")).isFalse();
        assertThat(Utf8BodyFilter.isUtf8Json("json please")).isFalse();
        assertThat(Utf8BodyFilter.isUtf8Json(null)).isFalse();
    }
}
