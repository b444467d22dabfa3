package io.forgequeue.forgesim;

import java.io.ByteArrayOutputStream;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A small, fast PNG writer for 8-bit RGB images: IHDR, the infotext as a {@code parameters} text chunk (tEXt when
 * the text is Latin-1, iTXt otherwise, as PIL does), one IDAT (Sub filter; stored when small, Huffman-only deflate otherwise) and IEND.
 * Thread-safe: each thread reuses its own {@link Deflater}s.
 */
final class PngEncoder {

    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private static final ThreadLocal<Deflater> STORING =
            ThreadLocal.withInitial(() -> new Deflater(Deflater.NO_COMPRESSION));

    private static final ThreadLocal<Deflater> HUFFMAN = ThreadLocal.withInitial(() -> {
        Deflater d = new Deflater(Deflater.BEST_SPEED);
        d.setStrategy(Deflater.HUFFMAN_ONLY);
        return d;
    });

    /** Filtered image data up to this size (64x64 RGB is 12 KiB) is stored rather than compressed. */
    static final int STORED_LIMIT = 48 * 1024;

    private PngEncoder() {}

    /**
     * Encodes {@code rgb} (3 bytes per pixel, row-major) as PNG.
     *
     * @param parameters the infotext to store under the key "parameters", or null for none
     */
    static byte[] encode(byte[] rgb, int width, int height, String parameters) {
        if (rgb.length != width * height * 3) {
            throw new IllegalArgumentException("pixel buffer does not match " + width + "x" + height);
        }
        int stride = width * 3;
        byte[] filtered = new byte[(stride + 1) * height];
        for (int y = 0; y < height; y++) {
            int in = y * stride;
            int out = y * (stride + 1);
            filtered[out] = 1; // Sub: each byte minus the same channel of the pixel to its left
            System.arraycopy(rgb, in, filtered, out + 1, Math.min(3, stride));
            for (int i = 3; i < stride; i++) {
                filtered[out + 1 + i] = (byte) (rgb[in + i] - rgb[in + i - 3]);
            }
        }

        ByteArrayOutputStream png = new ByteArrayOutputStream(filtered.length / 3 + 1024);
        png.writeBytes(SIGNATURE);

        byte[] ihdr = new byte[13];
        putInt(ihdr, 0, width);
        putInt(ihdr, 4, height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // colour type RGB
        writeChunk(png, "IHDR", ihdr, ihdr.length);

        if (parameters != null) {
            writeText(png, "parameters", parameters);
        }

        // Small images are stored (deflate level 0: ~4 us instead of ~45 us for 64x64, at twice the size); larger
        // ones use Huffman-only level 1, faster and smaller than the default strategy on these smooth pictures.
        Deflater deflater = (filtered.length <= STORED_LIMIT ? STORING : HUFFMAN).get();
        deflater.reset();
        deflater.setInput(filtered);
        deflater.finish();
        byte[] compressed =
                new byte[filtered.length + filtered.length / 1000 + 64 + 5 * (filtered.length / 16_000 + 1)];
        int size = 0;
        while (!deflater.finished()) {
            if (size == compressed.length) {
                compressed = java.util.Arrays.copyOf(compressed, compressed.length * 2);
            }
            size += deflater.deflate(compressed, size, compressed.length - size);
        }
        writeChunk(png, "IDAT", compressed, size);
        writeChunk(png, "IEND", new byte[0], 0);
        return png.toByteArray();
    }

    private static void writeText(ByteArrayOutputStream png, String keyword, String text) {
        CharsetEncoder latin1 = StandardCharsets.ISO_8859_1.newEncoder();
        ByteArrayOutputStream data = new ByteArrayOutputStream(text.length() + 32);
        data.writeBytes(keyword.getBytes(StandardCharsets.ISO_8859_1));
        data.write(0);
        if (latin1.canEncode(text)) {
            data.writeBytes(text.getBytes(StandardCharsets.ISO_8859_1));
            writeChunk(png, "tEXt", data.toByteArray(), data.size());
        } else {
            data.write(0); // compression flag: uncompressed
            data.write(0); // compression method
            data.write(0); // empty language tag
            data.write(0); // empty translated keyword
            data.writeBytes(text.getBytes(StandardCharsets.UTF_8));
            writeChunk(png, "iTXt", data.toByteArray(), data.size());
        }
    }

    private static void writeChunk(ByteArrayOutputStream png, String type, byte[] data, int length) {
        byte[] header = new byte[8];
        putInt(header, 0, length);
        byte[] typeBytes = type.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(typeBytes, 0, header, 4, 4);
        png.write(header, 0, 8);
        png.write(data, 0, length);
        CRC32 crc = new CRC32();
        crc.update(typeBytes);
        crc.update(data, 0, length);
        byte[] crcBytes = new byte[4];
        putInt(crcBytes, 0, (int) crc.getValue());
        png.write(crcBytes, 0, 4);
    }

    private static void putInt(byte[] target, int offset, int value) {
        target[offset] = (byte) (value >>> 24);
        target[offset + 1] = (byte) (value >>> 16);
        target[offset + 2] = (byte) (value >>> 8);
        target[offset + 3] = (byte) value;
    }
}
