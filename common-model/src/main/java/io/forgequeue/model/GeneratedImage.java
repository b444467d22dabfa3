package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.Arrays;
import java.util.Objects;

/**
 * One generated image. In JSON, {@code data} is base64.
 *
 * @param index    position in the job's result, from 0
 * @param seed     the seed this image was generated with
 * @param mimeType {@code image/png}, {@code image/jpeg} or {@code image/webp}, from the bytes' magic number
 * @param width    width in pixels, or 0 when unknown
 * @param height   height in pixels, or 0 when unknown
 * @param data     the encoded image; never null or empty
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record GeneratedImage(int index, long seed, String mimeType, int width, int height, byte[] data) {

    public GeneratedImage {
        Objects.requireNonNull(mimeType, "mimeType");
        Objects.requireNonNull(data, "data");
        if (data.length == 0) {
            throw new IllegalArgumentException("image data is empty");
        }
        if (index < 0) {
            throw new IllegalArgumentException("index must not be negative: " + index);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GeneratedImage other
                && index == other.index
                && seed == other.seed
                && width == other.width
                && height == other.height
                && mimeType.equals(other.mimeType)
                && Arrays.equals(data, other.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(index, seed, mimeType, width, height, Arrays.hashCode(data));
    }

    @Override
    public String toString() {
        return "GeneratedImage[index=" + index + ", seed=" + seed + ", mimeType=" + mimeType + ", " + width + "x"
                + height + ", " + data.length + " bytes]";
    }
}
