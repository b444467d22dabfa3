package io.forgequeue.forgesim;

/**
 * A built-in 6x10 pixel font for printable ASCII (32..126), so that images render identically on every machine,
 * with or without installed fonts, and without touching AWT. The glyphs were rasterised once from DejaVu Sans
 * Mono (Bitstream Vera licence) and thresholded; each glyph is ten rows of one byte, the low six bits being the
 * pixels from left to right. Other characters are drawn as '?'.
 */
final class BitmapFont {

    static final int CELL_WIDTH = 6;

    static final int CELL_HEIGHT = 10;

    private static final String[] GLYPHS = {
        "00000000000000000000", "00040404040400040000", "000a0a0a000000000000", "000a0a3f083f14140000",
        "00040f141c07051e0400", "0038283a0c1705070000", "000e080c15131a0f0000", "00040404000000000000",
        "04040808080808040400", "08080404040404080800", "00150e0e150000000000", "000004041f0404000000",
        "00000000000000080808", "00000000000e00000000", "00000000000000080000", "00010202040408081000",
        "000e1b1115111b0e0000", "001c04040404041f0000", "000e11010306081f0000", "000e11010e01110e0000",
        "0006060a1a1f02020000", "001e101e0301031e0000", "000f18101e11110e0000", "001f0302060404080000",
        "000e11110e11110e0000", "000e11110f01031e0000", "00000008000000080000", "00000008000000080808",
        "0000010e180e01000000", "0000003e003e00000000", "0000100e030e10000000", "001e0204080800080000",
        "000e091715151517080e", "00040e0e0a0e1b110000", "001e11111e11111e0000", "000f19101010190f0000",
        "001e13111111131e0000", "001f10101f10101f0000", "001f10101f1010100000", "000e19101311190f0000",
        "001111111f1111110000", "001f04040404041f0000", "000e02020202121c0000", "001112141c1412110000",
        "001010101010101f0000", "001b1b1f151111110000", "0019191d151713130000", "000e1b1111111b0e0000",
        "001e11111e1010100000", "000e1b1111111b0e0200", "001e11111e1311110000", "000e11180e01110e0000",
        "001f0404040404040000", "001111111111110e0000", "00111b0a0a0e0e040000", "00212d3f3f1e12120000",
        "00130a0e040e0a110000", "00110a0e040404040000", "001f0302040c181f0000", "0c080808080808080c00",
        "00100808040402020100", "0c040404040404040c00", "00081422000000000000", "0000000000000000003f",
        "10080000000000000000", "0000001e010f111f0000", "1010101e1111111e0000", "0000000e1010100e0000",
        "0101010f1111110f0000", "0000000e111f100f0000", "0608081e080808080000", "0000000f1111110f010e",
        "1010101e111111110000", "0400000c0404041f0000", "0400001c040404040418", "10101012141c12110000",
        "38080808080808060000", "0000001f151515150000", "0000001e111111110000", "0000000e1111110e0000",
        "0000001e1111111e1010", "0000000f1111110f0101", "0000000f0d0808080000", "0000000f180f011e0000",
        "0008081e0808080e0000", "000000111111110d0000", "000000110a0a0e040000", "00000011150e0e0a0000",
        "0000001b0e040e1b0000", "000000110a0a0c040c18", "0000001f0204081f0000", "060404041c0404040600",
        "04040404040404040404", "0c040404070404040c00", "000000001d1700000000",
    };

    private static final byte[][] ROWS = new byte[GLYPHS.length][CELL_HEIGHT];

    static {
        for (int g = 0; g < GLYPHS.length; g++) {
            for (int row = 0; row < CELL_HEIGHT; row++) {
                ROWS[g][row] = (byte) Integer.parseInt(GLYPHS[g].substring(row * 2, row * 2 + 2), 16);
            }
        }
    }

    private BitmapFont() {}

    /** Whether the pixel at (x, y) of the glyph for {@code c} is set; x in [0, 6), y in [0, 10). */
    static boolean pixel(char c, int x, int y) {
        int index = (c >= 32 && c < 127) ? c - 32 : '?' - 32;
        return (ROWS[index][y] & (1 << (CELL_WIDTH - 1 - x))) != 0;
    }

    /**
     * Draws {@code text} into an RGB byte buffer (3 bytes per pixel, row-major, {@code width} pixels per row),
     * each font pixel as a {@code scale}x{@code scale} square, with a one-unit dark shadow for legibility on
     * any background. Clips at the buffer's edges.
     */
    static void draw(byte[] rgb, int width, int height, String text, int x0, int y0, int scale, int color) {
        int shadow = Math.max(1, scale / 2);
        drawPass(rgb, width, height, text, x0 + shadow, y0 + shadow, scale, 0x101010);
        drawPass(rgb, width, height, text, x0, y0, scale, color);
    }

    private static void drawPass(byte[] rgb, int width, int height, String text, int x0, int y0, int scale, int color) {
        byte r = (byte) (color >> 16);
        byte g = (byte) (color >> 8);
        byte b = (byte) color;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int cellX = x0 + i * CELL_WIDTH * scale;
            if (cellX >= width) {
                return;
            }
            for (int gy = 0; gy < CELL_HEIGHT; gy++) {
                for (int gx = 0; gx < CELL_WIDTH; gx++) {
                    if (!pixel(c, gx, gy)) {
                        continue;
                    }
                    for (int dy = 0; dy < scale; dy++) {
                        int py = y0 + gy * scale + dy;
                        if (py < 0 || py >= height) {
                            continue;
                        }
                        for (int dx = 0; dx < scale; dx++) {
                            int px = cellX + gx * scale + dx;
                            if (px < 0 || px >= width) {
                                continue;
                            }
                            int o = (py * width + px) * 3;
                            rgb[o] = r;
                            rgb[o + 1] = g;
                            rgb[o + 2] = b;
                        }
                    }
                }
            }
        }
    }
}
