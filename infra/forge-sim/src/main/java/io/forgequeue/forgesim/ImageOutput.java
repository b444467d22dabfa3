package io.forgequeue.forgesim;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * One picture a job returns, as planned while the GPU works and rendered afterwards: its spec (null for the grid,
 * which is made from the others) and its infotext. {@link #encodeAll} renders and PNG-encodes them after the queue
 * lock is released, as Forge encodes after leaving {@code queue_lock}.
 */
record ImageOutput(ImageRenderer.Spec spec, String infotext) {

    static ImageOutput grid(String infotext) {
        return new ImageOutput(null, infotext);
    }

    boolean isGrid() {
        return spec == null;
    }

    /** Renders and PNG-encodes the planned images, base64 (grid first when planned). */
    static List<String> encodeAll(List<ImageOutput> plans) {
        List<String> out = new ArrayList<>(plans.size());
        List<byte[]> pixels = new ArrayList<>();
        ImageOutput grid = null;
        for (ImageOutput plan : plans) {
            if (plan.isGrid()) {
                grid = plan;
                continue;
            }
            pixels.add(ImageRenderer.render(plan.spec()));
        }
        Base64.Encoder b64 = Base64.getEncoder();
        int pixelIndex = 0;
        List<ImageOutput> imagePlans = plans.stream().filter(pl -> !pl.isGrid()).toList();
        if (grid != null && !imagePlans.isEmpty()) {
            ImageRenderer.Spec first = imagePlans.get(0).spec();
            int n = imagePlans.size();
            int rows = (int) Math.round(Math.sqrt(n));
            rows = Math.max(1, Math.min(rows, n));
            int cols = (n + rows - 1) / rows;
            byte[] gridPixels = ImageRenderer.grid(pixels, first.width(), first.height(), rows, cols);
            out.add(b64.encodeToString(
                    PngEncoder.encode(gridPixels, first.width() * cols, first.height() * rows, grid.infotext())));
        }
        for (ImageOutput plan : imagePlans) {
            ImageRenderer.Spec s = plan.spec();
            out.add(b64.encodeToString(
                    PngEncoder.encode(pixels.get(pixelIndex++), s.width(), s.height(), plan.infotext())));
        }
        return out;
    }
}
