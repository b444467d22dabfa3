package io.forgequeue.worker.forge;

/**
 * An image's type and size read from its first bytes (forge-api.md §11.6: Forge's {@code samples_format} may be
 * png, jpg or webp, whatever the request). Pure.
 *
 * @param mimeType {@code image/png}, {@code image/jpeg}, {@code image/webp} or {@code application/octet-stream}
 * @param width    pixels, or 0 when the header does not say
 * @param height   pixels, or 0 when the header does not say
 */
public record ImageFormat(String mimeType, int width, int height) {

    static final String PNG = "image/png";
    static final String JPEG = "image/jpeg";
    static final String WEBP = "image/webp";
    static final String UNKNOWN = "application/octet-stream";

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    public static ImageFormat detect(byte[] b) {
        if (startsWith(b, PNG_SIGNATURE)) {
            // IHDR is the first chunk: length(4) "IHDR"(4) width(4) height(4)
            if (b.length >= 24 && b[12] == 'I' && b[13] == 'H' && b[14] == 'D' && b[15] == 'R') {
                return new ImageFormat(PNG, int32(b, 16), int32(b, 20));
            }
            return new ImageFormat(PNG, 0, 0);
        }
        if (b.length >= 3 && (b[0] & 0xff) == 0xff && (b[1] & 0xff) == 0xd8 && (b[2] & 0xff) == 0xff) {
            return jpeg(b);
        }
        if (b.length >= 12
                && b[0] == 'R'
                && b[1] == 'I'
                && b[2] == 'F'
                && b[3] == 'F'
                && b[8] == 'W'
                && b[9] == 'E'
                && b[10] == 'B'
                && b[11] == 'P') {
            return webp(b);
        }
        return new ImageFormat(UNKNOWN, 0, 0);
    }

    /** Walks the JPEG markers up to the first start-of-frame, which holds the size. */
    private static ImageFormat jpeg(byte[] b) {
        int i = 2;
        while (i + 9 < b.length) {
            if ((b[i] & 0xff) != 0xff) {
                break;
            }
            int marker = b[i + 1] & 0xff;
            if (marker == 0xff) {
                i++;
                continue;
            }
            int length = ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
            boolean startOfFrame =
                    marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
            if (startOfFrame) {
                int height = ((b[i + 5] & 0xff) << 8) | (b[i + 6] & 0xff);
                int width = ((b[i + 7] & 0xff) << 8) | (b[i + 8] & 0xff);
                return new ImageFormat(JPEG, width, height);
            }
            if (length < 2) {
                break;
            }
            i += 2 + length;
        }
        return new ImageFormat(JPEG, 0, 0);
    }

    private static ImageFormat webp(byte[] b) {
        if (b.length >= 30 && b[12] == 'V' && b[13] == 'P' && b[14] == '8' && b[15] == ' ') {
            int width = ((b[26] & 0xff) | ((b[27] & 0xff) << 8)) & 0x3fff;
            int height = ((b[28] & 0xff) | ((b[29] & 0xff) << 8)) & 0x3fff;
            return new ImageFormat(WEBP, width, height);
        }
        if (b.length >= 25 && b[12] == 'V' && b[13] == 'P' && b[14] == '8' && b[15] == 'L') {
            int bits = (b[21] & 0xff) | ((b[22] & 0xff) << 8) | ((b[23] & 0xff) << 16) | ((b[24] & 0xff) << 24);
            return new ImageFormat(WEBP, (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
        }
        if (b.length >= 30 && b[12] == 'V' && b[13] == 'P' && b[14] == '8' && b[15] == 'X') {
            int width = 1 + ((b[24] & 0xff) | ((b[25] & 0xff) << 8) | ((b[26] & 0xff) << 16));
            int height = 1 + ((b[27] & 0xff) | ((b[28] & 0xff) << 8) | ((b[29] & 0xff) << 16));
            return new ImageFormat(WEBP, width, height);
        }
        return new ImageFormat(WEBP, 0, 0);
    }

    private static boolean startsWith(byte[] b, byte[] prefix) {
        if (b.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (b[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static int int32(byte[] b, int at) {
        return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
    }
}
