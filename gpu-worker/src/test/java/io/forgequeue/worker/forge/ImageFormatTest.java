package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ImageFormatTest {

    @Test
    void readsTypeAndSizeOfAPng() {
        assertThat(ImageFormat.detect(TestImages.png(64, 48, 0x123456)))
                .isEqualTo(new ImageFormat("image/png", 64, 48));
    }

    @Test
    void readsTypeAndSizeOfAJpeg() {
        assertThat(ImageFormat.detect(TestImages.encode("jpg", 40, 72, 0x654321)))
                .isEqualTo(new ImageFormat("image/jpeg", 40, 72));
    }

    @Test
    void readsTypeAndSizeOfTheThreeWebpFlavours() {
        byte[] lossy = webp("VP8 ", 30);
        lossy[26] = (byte) 0x00; // width 512 = 0x0200, little endian, 14 bits
        lossy[27] = (byte) 0x02;
        lossy[28] = (byte) 0x00; // height 768 = 0x0300
        lossy[29] = (byte) 0x03;
        byte[] lossless = webp("VP8L", 25);
        int bits = (512 - 1) | ((768 - 1) << 14);
        lossless[21] = (byte) bits;
        lossless[22] = (byte) (bits >> 8);
        lossless[23] = (byte) (bits >> 16);
        lossless[24] = (byte) (bits >> 24);
        byte[] extended = webp("VP8X", 30);
        extended[24] = (byte) 0xff; // width - 1 = 1023 (24 bits)
        extended[25] = (byte) 0x03;
        extended[27] = (byte) 0x7f; // height - 1 = 639
        extended[28] = (byte) 0x02;

        assertThat(ImageFormat.detect(lossy)).isEqualTo(new ImageFormat("image/webp", 512, 768));
        assertThat(ImageFormat.detect(lossless)).isEqualTo(new ImageFormat("image/webp", 512, 768));
        assertThat(ImageFormat.detect(extended)).isEqualTo(new ImageFormat("image/webp", 1024, 640));
    }

    @Test
    void callsAnythingElseAnOctetStreamOfUnknownSize() {
        assertThat(ImageFormat.detect("GIF89a....".getBytes()))
                .isEqualTo(new ImageFormat("application/octet-stream", 0, 0));
        assertThat(ImageFormat.detect(new byte[0])).isEqualTo(new ImageFormat("application/octet-stream", 0, 0));
    }

    @Test
    void keepsTheTypeOfATruncatedHeader() {
        byte[] png = TestImages.png(8, 8, 0);
        byte[] truncated = java.util.Arrays.copyOf(png, 10);

        assertThat(ImageFormat.detect(truncated)).isEqualTo(new ImageFormat("image/png", 0, 0));
    }

    private static byte[] webp(String chunk, int length) {
        byte[] b = new byte[length];
        System.arraycopy("RIFF".getBytes(), 0, b, 0, 4);
        System.arraycopy("WEBP".getBytes(), 0, b, 8, 4);
        System.arraycopy(chunk.getBytes(), 0, b, 12, 4);
        return b;
    }
}
