package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class ImageEncodingTest {

    @Test
    void writesAPngThatImageIoDecodesAtTheRequestedSizeWithTheSamePixels() throws IOException {
        byte[] rgb = ImageRenderer.render(new ImageRenderer.Spec("a red fox", 7, 96, 40, 1));

        BufferedImage image = ImageIO.read(new ByteArrayInputStream(PngEncoder.encode(rgb, 96, 40, "params")));

        assertThat(image.getWidth()).isEqualTo(96);
        assertThat(image.getHeight()).isEqualTo(40);
        for (int y = 0; y < 40; y += 7) {
            for (int x = 0; x < 96; x += 5) {
                int o = (y * 96 + x) * 3;
                int expected = ((rgb[o] & 0xff) << 16) | ((rgb[o + 1] & 0xff) << 8) | (rgb[o + 2] & 0xff);
                assertThat(image.getRGB(x, y) & 0xffffff)
                        .as("pixel %d,%d", x, y)
                        .isEqualTo(expected);
            }
        }
    }

    @Test
    void storesTheInfotextInATextChunkNamedParametersAndUsesItxtBeyondLatin1() throws IOException {
        String latin = "a café\nSteps: 20, Sampler: Euler";
        String unicode = "猫 on a mat\nSteps: 20";

        assertThat(textChunk(PngEncoder.encode(new byte[4 * 4 * 3], 4, 4, latin), "tEXt"))
                .isEqualTo(latin);
        assertThat(textChunk(PngEncoder.encode(new byte[4 * 4 * 3], 4, 4, unicode), "iTXt"))
                .isEqualTo(unicode);
        assertThat(imageIoText(PngEncoder.encode(new byte[4 * 4 * 3], 4, 4, latin)))
                .isEqualTo(latin);
    }

    @Test
    void drawsTheSamePictureForTheSamePromptAndSeedAndADifferentOneOtherwise() {
        byte[] a = ImageRenderer.render(new ImageRenderer.Spec("castle", 1, 64, 64, 1));
        byte[] b = ImageRenderer.render(new ImageRenderer.Spec("castle", 1, 64, 64, 1));
        byte[] otherSeed = ImageRenderer.render(new ImageRenderer.Spec("castle", 2, 64, 64, 1));
        byte[] otherPrompt = ImageRenderer.render(new ImageRenderer.Spec("castles", 1, 64, 64, 1));
        byte[] unfinished = ImageRenderer.render(new ImageRenderer.Spec("castle", 1, 64, 64, 0.3));

        assertThat(a).isEqualTo(b);
        assertThat(a).isNotEqualTo(otherSeed).isNotEqualTo(otherPrompt).isNotEqualTo(unfinished);
    }

    @Test
    void writesTheSeedOnThePictureWithTheBuiltInFont() {
        byte[] plain = new byte[60 * 20 * 3];
        BitmapFont.draw(plain, 60, 20, "1", 0, 0, 1, 0xFFFFFF);

        int lit = 0;
        for (int i = 0; i < plain.length; i += 3) {
            lit += (plain[i] & 0xff) == 0xff ? 1 : 0;
        }
        assertThat(lit).isBetween(5, 30);
        assertThat(BitmapFont.pixel('\u00e9', 2, 2))
                .as("non-ASCII falls back to '?'")
                .isEqualTo(BitmapFont.pixel('?', 2, 2));
    }

    @Test
    void wrapsThePromptOnWordBoundariesAndCutsOverlongWords() {
        assertThat(ImageRenderer.wrap("a lighthouse at dusk", 10)).containsExactly("a", "lighthouse", "at dusk");
        assertThat(ImageRenderer.wrap("abcdefghijkl", 5)).containsExactly("abcde", "fghij", "kl");
        assertThat(ImageRenderer.wrap("   ", 5)).isEmpty();
    }

    @Test
    void laysOutAGridRowByRow() {
        byte[] red = solid(2, 2, 0xff0000);
        byte[] green = solid(2, 2, 0x00ff00);
        byte[] blue = solid(2, 2, 0x0000ff);

        byte[] grid = ImageRenderer.grid(List.of(red, green, blue), 2, 2, 2, 2);

        assertThat(pixel(grid, 4, 0, 0)).isEqualTo(0xff0000);
        assertThat(pixel(grid, 4, 2, 0)).isEqualTo(0x00ff00);
        assertThat(pixel(grid, 4, 0, 2)).isEqualTo(0x0000ff);
        assertThat(pixel(grid, 4, 3, 3)).as("empty cell").isZero();
    }

    private static byte[] solid(int w, int h, int color) {
        byte[] out = new byte[w * h * 3];
        for (int i = 0; i < out.length; i += 3) {
            out[i] = (byte) (color >> 16);
            out[i + 1] = (byte) (color >> 8);
            out[i + 2] = (byte) color;
        }
        return out;
    }

    private static int pixel(byte[] rgb, int width, int x, int y) {
        int o = (y * width + x) * 3;
        return ((rgb[o] & 0xff) << 16) | ((rgb[o + 1] & 0xff) << 8) | (rgb[o + 2] & 0xff);
    }

    /** Reads the text of the first chunk of {@code type} keyed "parameters", parsing the PNG by hand. */
    static String textChunk(byte[] png, String type) {
        int pos = 8;
        while (pos < png.length) {
            int length = ((png[pos] & 0xff) << 24)
                    | ((png[pos + 1] & 0xff) << 16)
                    | ((png[pos + 2] & 0xff) << 8)
                    | (png[pos + 3] & 0xff);
            String chunkType = new String(png, pos + 4, 4, StandardCharsets.US_ASCII);
            if (chunkType.equals(type)) {
                int data = pos + 8;
                String keyword = new String(png, data, "parameters".length(), StandardCharsets.ISO_8859_1);
                assertThat(keyword).isEqualTo("parameters");
                int textStart = data + "parameters".length() + 1;
                if (type.equals("iTXt")) {
                    textStart += 4; // flags, method, empty language, empty translated keyword
                    return new String(png, textStart, data + length - textStart, StandardCharsets.UTF_8);
                }
                return new String(png, textStart, data + length - textStart, StandardCharsets.ISO_8859_1);
            }
            pos += 12 + length;
        }
        return null;
    }

    static String imageIoText(byte[] png) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(png))) {
            ImageReader reader = ImageIO.getImageReadersByFormatName("png").next();
            reader.setInput(in);
            IIOMetadata metadata = reader.getImageMetadata(0);
            Element root = (Element) metadata.getAsTree("javax_imageio_png_1.0");
            NodeList entries = root.getElementsByTagName("tEXtEntry");
            for (int i = 0; i < entries.getLength(); i++) {
                Element e = (Element) entries.item(i);
                if (e.getAttribute("keyword").equals("parameters")) {
                    return e.getAttribute("value");
                }
            }
            return null;
        }
    }
}
