package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.GeneratedImage;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResultImagesTest {

    private static final String A = TestImages.base64Png(16, 16, 0xaa0000);
    private static final String B = TestImages.base64Png(16, 16, 0x00bb00);
    private static final String GRID = TestImages.base64Png(32, 16, 0x0000cc);
    private static final String EXTRA = TestImages.base64Png(8, 8, 0x999999);

    private static ForgeInfo info(int indexOfFirstImage, Long... allSeeds) {
        return new ForgeInfo(
                allSeeds.length == 0 ? null : allSeeds[0],
                List.of(allSeeds),
                indexOfFirstImage,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null);
    }

    @Test
    void pairsEachImageWithItsSeed() {
        List<GeneratedImage> images = ResultImages.pair(List.of(A, B), info(0, 100L, 101L), 2, 100);

        assertThat(images).extracting(GeneratedImage::index).containsExactly(0, 1);
        assertThat(images).extracting(GeneratedImage::seed).containsExactly(100L, 101L);
        assertThat(images.get(0).data()).isEqualTo(Base64.getDecoder().decode(A));
        assertThat(images).extracting(GeneratedImage::mimeType).containsOnly("image/png");
        assertThat(images).extracting(GeneratedImage::width).containsOnly(16);
    }

    @Test
    void skipsAGridBeforeIndexOfFirstImage() {
        List<GeneratedImage> images = ResultImages.pair(List.of(GRID, A, B), info(1, 100L, 101L), 2, 100);

        assertThat(images).hasSize(2);
        assertThat(images.get(0).data()).isEqualTo(Base64.getDecoder().decode(A));
        assertThat(images.get(0).seed()).isEqualTo(100L);
        assertThat(images.get(1).seed()).isEqualTo(101L);
    }

    @Test
    void ignoresForgesExtraImagesBeyondTheBatch() {
        List<GeneratedImage> images = ResultImages.pair(List.of(A, EXTRA, EXTRA), info(0, 100L), 1, 100);

        assertThat(images).hasSize(1);
        assertThat(images.get(0).data()).isEqualTo(Base64.getDecoder().decode(A));
    }

    @Test
    void pairsFewerImagesAfterAnInterruptWithTheFirstPlannedSeeds() {
        List<GeneratedImage> images = ResultImages.pair(List.of(A), info(0, 100L, 101L, 102L, 103L), 4, 100);

        assertThat(images).hasSize(1);
        assertThat(images.get(0).seed()).isEqualTo(100L);
    }

    @Test
    void returnsNothingForNoImages() {
        assertThat(ResultImages.pair(List.of(), info(0, 100L), 1, 100)).isEmpty();
        assertThat(ResultImages.pair(null, info(0, 100L), 1, 100)).isEmpty();
    }

    @Test
    void toleratesADataUriPrefixAndSkipsUndecodableEntries() {
        List<String> returned = Arrays.asList("data:image/png;base64," + A, "***not base64***", null, "");

        List<GeneratedImage> images = ResultImages.pair(returned, info(0, 1L, 2L, 3L, 4L), 4, 1);

        assertThat(images).hasSize(1);
        assertThat(images.get(0).data()).isEqualTo(Base64.getDecoder().decode(A));
        assertThat(images.get(0).index()).isZero();
    }

    @Test
    void clampsAnIndexOfFirstImageBeyondTheList() {
        assertThat(ResultImages.pair(List.of(A), info(5, 1L), 1, 1)).isEmpty();
    }
}
