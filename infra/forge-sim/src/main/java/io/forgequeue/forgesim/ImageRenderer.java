package io.forgequeue.forgesim;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Draws the sim's "generated" pictures: a gradient with soft blobs whose colours and positions come from the
 * prompt and the seed, with the seed and the prompt written on it. The same prompt, seed and size always give the
 * same pixels (no AWT, no installed fonts involved). An unfinished image (interrupted, skipped, or a live preview)
 * is mixed with noise in proportion to the steps still missing. Stateless and thread-safe.
 */
final class ImageRenderer {

    /** What to draw. {@code completion} is the share of sampling steps done, 0..1 (1 = finished). */
    record Spec(String prompt, long seed, int width, int height, double completion) {}

    private ImageRenderer() {}

    /** Renders {@code spec} as RGB bytes (3 per pixel, row-major). */
    static byte[] render(Spec spec) {
        int w = spec.width();
        int h = spec.height();
        byte[] rgb = new byte[w * h * 3];
        SplitMix random = new SplitMix(
                fnv1a64(spec.prompt()) ^ SplitMix.mix(spec.seed() * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L));

        int[] corners = new int[4];
        for (int i = 0; i < 4; i++) {
            corners[i] = hsv(random.nextDouble(), 0.45 + 0.4 * random.nextDouble(), 0.55 + 0.4 * random.nextDouble());
        }
        paintGradient(rgb, w, h, corners);
        int blobs = 3 + random.nextInt(3);
        for (int i = 0; i < blobs; i++) {
            int color = hsv(random.nextDouble(), 0.5 + 0.5 * random.nextDouble(), 0.6 + 0.4 * random.nextDouble());
            double cx = random.nextDouble() * w;
            double cy = random.nextDouble() * h;
            double radius = (0.12 + 0.3 * random.nextDouble()) * Math.min(w, h);
            paintBlob(rgb, w, h, cx, cy, radius, color, 0.35 + 0.4 * random.nextDouble());
        }
        double completion = Math.max(0, Math.min(1, spec.completion()));
        if (completion < 1) {
            addNoise(rgb, 1 - completion, random.nextLong());
        }
        paintCaption(rgb, w, h, spec, completion);
        return rgb;
    }

    /** Nearest-neighbour downscale so that the longer side is at most {@code maxSide}; used for live previews. */
    static Spec previewOf(Spec spec, int maxSide) {
        int longer = Math.max(spec.width(), spec.height());
        if (longer <= maxSide) {
            return spec;
        }
        int w = Math.max(1, (int) ((long) spec.width() * maxSide / longer));
        int h = Math.max(1, (int) ((long) spec.height() * maxSide / longer));
        return new Spec(spec.prompt(), spec.seed(), w, h, spec.completion());
    }

    /**
     * Lays {@code images} (all {@code cellW}x{@code cellH}) out as Forge's grid: {@code rows} rows, filled row by
     * row, empty cells black.
     */
    static byte[] grid(List<byte[]> images, int cellW, int cellH, int rows, int cols) {
        int gw = cellW * cols;
        byte[] out = new byte[gw * cellH * rows * 3];
        for (int i = 0; i < images.size(); i++) {
            byte[] img = images.get(i);
            if (img.length != cellW * cellH * 3) {
                continue; // a different size (e.g. an interrupted hires image); PIL would paste it cropped, we skip it
            }
            int ox = (i % cols) * cellW;
            int oy = (i / cols) * cellH;
            for (int y = 0; y < cellH; y++) {
                System.arraycopy(img, y * cellW * 3, out, ((oy + y) * gw + ox) * 3, cellW * 3);
            }
        }
        return out;
    }

    private static void paintGradient(byte[] rgb, int w, int h, int[] corners) {
        int span = Math.max(1, w - 1);
        for (int y = 0; y < h; y++) {
            double ty = h == 1 ? 0 : (double) y / (h - 1);
            int left = lerp(corners[0], corners[2], ty);
            int right = lerp(corners[1], corners[3], ty);
            // 16.16 fixed point: start value and per-pixel increment of each channel
            int r = ((left >> 16) & 0xff) << 16;
            int g = ((left >> 8) & 0xff) << 16;
            int b = (left & 0xff) << 16;
            int dr = ((((right >> 16) & 0xff) << 16) - r) / span;
            int dg = ((((right >> 8) & 0xff) << 16) - g) / span;
            int db = (((right & 0xff) << 16) - b) / span;
            int o = y * w * 3;
            for (int x = 0; x < w; x++) {
                rgb[o++] = (byte) (r >> 16);
                rgb[o++] = (byte) (g >> 16);
                rgb[o++] = (byte) (b >> 16);
                r += dr;
                g += dg;
                b += db;
            }
        }
    }

    private static void paintBlob(
            byte[] rgb, int w, int h, double cx, double cy, double radius, int color, double alpha) {
        int r = (color >> 16) & 0xff;
        int g = (color >> 8) & 0xff;
        int b = color & 0xff;
        int x0 = Math.max(0, (int) (cx - radius));
        int x1 = Math.min(w - 1, (int) (cx + radius));
        int y0 = Math.max(0, (int) (cy - radius));
        int y1 = Math.min(h - 1, (int) (cy + radius));
        double r2 = radius * radius;
        int alpha256 = (int) (alpha * 256);
        for (int y = y0; y <= y1; y++) {
            double dy = y - cy;
            int o = (y * w + x0) * 3;
            for (int x = x0; x <= x1; x++, o += 3) {
                double dx = x - cx;
                double d2 = dx * dx + dy * dy;
                if (d2 >= r2) {
                    continue;
                }
                int a = (int) (alpha256 * (1 - d2 / r2));
                rgb[o] = (byte) blend(rgb[o] & 0xff, r, a);
                rgb[o + 1] = (byte) blend(rgb[o + 1] & 0xff, g, a);
                rgb[o + 2] = (byte) blend(rgb[o + 2] & 0xff, b, a);
            }
        }
    }

    private static void addNoise(byte[] rgb, double amount, long seed) {
        int a = (int) (amount * 256);
        long s = seed | 1;
        for (int i = 0; i < rgb.length; i++) {
            s ^= s << 13;
            s ^= s >>> 7;
            s ^= s << 17;
            int noise = (int) (s & 0xff);
            rgb[i] = (byte) blend(rgb[i] & 0xff, noise, a);
        }
    }

    private static void paintCaption(byte[] rgb, int w, int h, Spec spec, double completion) {
        int scale = Math.max(1, Math.min(w, h) / 170);
        int margin = 2 * scale;
        int lineHeight = (BitmapFont.CELL_HEIGHT + 1) * scale;
        int columns = Math.max(1, (w - 2 * margin) / (BitmapFont.CELL_WIDTH * scale));
        int maxLines = Math.max(1, (h - 2 * margin) / lineHeight);
        List<String> lines = new ArrayList<>();
        lines.add("seed " + spec.seed());
        if (completion < 1) {
            lines.add("unfinished " + (int) Math.round(completion * 100) + "%");
        }
        lines.addAll(wrap(spec.prompt(), columns));
        for (int i = 0; i < lines.size() && i < maxLines; i++) {
            BitmapFont.draw(rgb, w, h, lines.get(i), margin, margin + i * lineHeight, scale, 0xFFFFFF);
        }
    }

    static List<String> wrap(String text, int columns) {
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.strip().split("\\s+")) {
            while (word.length() > columns) {
                if (line.length() > 0) {
                    lines.add(line.toString());
                    line.setLength(0);
                }
                lines.add(word.substring(0, columns));
                word = word.substring(columns);
            }
            if (word.isEmpty()) {
                continue;
            }
            if (line.length() > 0 && line.length() + 1 + word.length() > columns) {
                lines.add(line.toString());
                line.setLength(0);
            }
            if (line.length() > 0) {
                line.append(' ');
            }
            line.append(word);
        }
        if (line.length() > 0) {
            lines.add(line.toString());
        }
        return lines;
    }

    private static int blend(int base, int over, int alpha256) {
        return base + ((over - base) * alpha256 >> 8);
    }

    private static int lerp(int c0, int c1, double t) {
        int r = (int) Math.round(((c0 >> 16) & 0xff) * (1 - t) + ((c1 >> 16) & 0xff) * t);
        int g = (int) Math.round(((c0 >> 8) & 0xff) * (1 - t) + ((c1 >> 8) & 0xff) * t);
        int b = (int) Math.round((c0 & 0xff) * (1 - t) + (c1 & 0xff) * t);
        return (r << 16) | (g << 8) | b;
    }

    private static int hsv(double hue, double saturation, double value) {
        double h6 = (hue - Math.floor(hue)) * 6;
        int sector = (int) h6;
        double f = h6 - sector;
        double p = value * (1 - saturation);
        double q = value * (1 - saturation * f);
        double t = value * (1 - saturation * (1 - f));
        double r;
        double g;
        double b;
        switch (sector) {
            case 0 -> {
                r = value;
                g = t;
                b = p;
            }
            case 1 -> {
                r = q;
                g = value;
                b = p;
            }
            case 2 -> {
                r = p;
                g = value;
                b = t;
            }
            case 3 -> {
                r = p;
                g = q;
                b = value;
            }
            case 4 -> {
                r = t;
                g = p;
                b = value;
            }
            default -> {
                r = value;
                g = p;
                b = q;
            }
        }
        return ((int) (r * 255) << 16) | ((int) (g * 255) << 8) | (int) (b * 255);
    }

    static long fnv1a64(String text) {
        long hash = 0xcbf29ce484222325L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xff;
            hash *= 0x100000001b3L;
        }
        return hash;
    }

    /** SplitMix64: tiny, fast, good enough for picking colours. */
    static final class SplitMix {

        private long state;

        SplitMix(long seed) {
            this.state = seed;
        }

        static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }

        long nextLong() {
            state += 0x9E3779B97F4A7C15L;
            return mix(state);
        }

        double nextDouble() {
            return (nextLong() >>> 11) * 0x1.0p-53;
        }

        int nextInt(int bound) {
            return (int) ((nextLong() >>> 33) % bound);
        }
    }
}
